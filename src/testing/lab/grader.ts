/**
 * The grader: runs a client command once per scenario, with placeholders filled in, and compares
 * what it did with what a strict client does. Children are spawned asynchronously (the lab's
 * servers live in this process; `spawnSync` would block the event loop they need), a bounded
 * number at a time, each in its own process group so a hung client and anything it started can be
 * killed together when its time is up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { InvalidArgumentError } from '../../transport/errors.js';
import {
  checkFunction,
  checkMilliseconds,
  checkOptionNames,
  checkSignal,
  type OptionNames,
} from '../../transport/options.js';
import type { Lab, LabScenario } from './lab.js';
import type { Expectation, ScenarioGroup } from './types.js';

/** The placeholders a command may use, and what each becomes. */
export const PLACEHOLDERS = {
  host: 'the name to verify and send as SNI (an address for the IP cases)',
  addr: 'the address to connect to (127.0.0.1)',
  port: "the scenario server's port",
  url: 'https://{host}:{port}/',
  name: "the scenario's name",
  ca: 'the CA bundle to trust (PEM file)',
  crl: 'the CRLs of every lab CA (PEM file)',
  rootcrl: 'the CRLs of the roots in {ca} only (PEM file; gnutls-cli refuses any other)',
  cert: 'the client certificate to present (PEM file)',
  key: "the client certificate's key (PEM file)",
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

/** What the client did: its exit status, or the verdict a stub printed last. */
export type Got = 'accept' | 'reject' | 'unsupported' | 'timeout';
/** How that compares with the expectation; `skip` when the scenario is unavailable or the client said UNSUPPORTED where that is no answer. */
export type Outcome = 'pass' | 'fail' | 'skip';

/** One scenario's grade. */
export interface GradeResult {
  name: string;
  group: ScenarioGroup;
  description: string;
  expected: Expectation;
  /** `null` when the client was not run (the scenario is unavailable). */
  got: Got | null;
  outcome: Outcome;
  /** Why it was skipped, or failed by timing out. */
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  /**
   * The client's last stderr line: the last `program: message` line if there is one (so curl's
   * advice that follows its `curl: (60) ...` error does not hide it), else the last non-empty line.
   */
  stderr: string;
  durationMs: number;
  /** The command as run. */
  argv: string[];
}

/** A whole run. */
export interface GradeReport {
  command: string[];
  results: GradeResult[];
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
}

export interface GradeOptions {
  /** Clients run at once (default: the number of cores). */
  jobs?: number;
  /** How long one run may take before it is killed and graded a failure (default 5000 ms). */
  timeoutMs?: number;
  /** Called as each scenario is graded, e.g. for a progress bar. */
  onResult?: (result: GradeResult, done: number, total: number) => void;
  /** Stops the run: running clients are killed, the rest are not started. */
  signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_MS = 5_000;
/** What `gradeClient` takes. */
export const GRADE_OPTIONS: OptionNames = { known: ['jobs', 'timeoutMs', 'onResult', 'signal'] };
/**
 * `{name}` is a placeholder; `{{name}}` stands for a literal `{name}`. Braces around anything else
 * (code in a `node -e` or `python -c` argument) are left alone.
 */
const TOKEN = /\{\{([A-Za-z_][\w-]*)\}\}|\{([A-Za-z_][\w-]*)\}/g;

/**
 * Checks a command template: not empty, every `{x}` a known placeholder (`{{` and `}}` are
 * literal braces), and the program found. Throws an InvalidArgumentError saying what is wrong.
 */
export function checkCommand(command: readonly string[]): void {
  if (!Array.isArray(command) || command.some((arg) => typeof arg !== 'string')) {
    throw new InvalidArgumentError(
      `the client command must be an array of strings, program first (e.g. ['curl', '-sf', '--cacert', '{ca}', '{url}']), got ${typeof command === 'string' ? JSON.stringify(command) : typeof command}`,
    );
  }
  if (command.length === 0 || !command[0]) {
    throw new InvalidArgumentError(
      "no client command: put it after '--', e.g. tlskit badtls check -- curl -sf --cacert {ca} {url}",
    );
  }
  for (const arg of command) {
    for (const [, , name] of arg.matchAll(TOKEN)) {
      if (name !== undefined && !(name in PLACEHOLDERS)) {
        throw new InvalidArgumentError(
          `unknown placeholder {${name}} in '${arg}'; the placeholders are ${Object.keys(PLACEHOLDERS)
            .map((p) => `{${p}}`)
            .join(' ')} (write {{${name}}} for a literal {${name}})`,
        );
      }
    }
  }
  const program = fill(command[0], {});
  if (!findExecutable(program)) {
    throw new InvalidArgumentError(
      `command not found: '${program}'${program.includes('/') ? '' : ' (looked in PATH)'}`,
    );
  }
}

function fill(arg: string, values: Partial<Record<Placeholder, string>>): string {
  return arg.replace(TOKEN, (token, literal: string | undefined, name: string | undefined) =>
    literal !== undefined ? `{${literal}}` : (values[name as Placeholder] ?? token),
  );
}

/** The command for one scenario, placeholders filled in. */
export function fillCommand(command: readonly string[], scenario: LabScenario): string[] {
  const values: Record<Placeholder, string> = {
    host: scenario.host,
    addr: scenario.addr,
    port: String(scenario.port),
    url: scenario.url,
    name: scenario.name,
    ca: scenario.files.ca,
    crl: scenario.files.crl,
    rootcrl: scenario.files.rootCrl,
    cert: scenario.files.cert,
    key: scenario.files.key,
  };
  return command.map((arg) => fill(arg, values));
}

function findExecutable(program: string): string | null {
  const executable = (path: string) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return executable(program) ? program : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, program))) return join(dir, program);
  }
  return null;
}

/** PASS, FAIL or SKIP for what the client did. */
export function judge(expected: Expectation, got: Got): Outcome {
  if (got === 'timeout') return 'fail';
  if (got === 'unsupported') return expected === 'accept-or-unsupported' ? 'pass' : 'skip';
  const wanted = expected === 'reject' ? 'reject' : 'accept';
  return got === wanted ? 'pass' : 'fail';
}

const lastLine = (text: string) =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .at(-1) ?? '';

/** The line of stderr that says most: see `GradeResult.stderr`. */
function errorLine(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  return (lines.findLast((line) => /^[\w.-]+: \S/.test(line)) ?? lines.at(-1) ?? '').slice(0, 300);
}

/** The verdict a stub printed as its last stdout line, if it printed one. */
function stubVerdict(stdout: string): Got | null {
  const line = lastLine(stdout);
  if (line === 'ACCEPT') return 'accept';
  if (line === 'REJECT') return 'reject';
  if (line === 'UNSUPPORTED') return 'unsupported';
  return null;
}

/** Kills a child's whole process group (it leads one: `detached`); quiet if it is gone. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

interface Finished {
  got: Got;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs one command to its end (or its deadline); stdout and stderr keep their last 64 KiB. */
function runOnce(argv: string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const output = { stdout: '', stderr: '' };
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (text: string) => {
        output[stream] = (output[stream] + text).slice(-65_536);
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    const abort = () => killGroup(child);
    signal?.addEventListener('abort', abort, { once: true });
    // A client may leave children behind that keep its pipes open; once it exits they go too.
    child.once('exit', () => killGroup(child));
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      reject(
        error.code === 'ENOENT'
          ? new InvalidArgumentError(`command not found: '${argv[0]}'`)
          : new InvalidArgumentError(`cannot run '${argv[0]}': ${error.message}`),
      );
    });
    child.once('close', (code, killedBy) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      const got: Got = timedOut
        ? 'timeout'
        : (stubVerdict(output.stdout) ?? (code === 0 ? 'accept' : 'reject'));
      resolve({ got, exitCode: code, signal: killedBy, ...output });
    });
  });
}

async function gradeOne(
  command: readonly string[],
  scenario: LabScenario,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<GradeResult> {
  const about = {
    name: scenario.name,
    group: scenario.group,
    description: scenario.description,
    expected: scenario.expected,
  };
  const argv = scenario.unavailable ? [] : fillCommand(command, scenario);
  if (scenario.unavailable) {
    const none = { got: null, exitCode: null, signal: null, stderr: '', durationMs: 0, argv };
    return { ...about, ...none, outcome: 'skip', reason: `unavailable: ${scenario.unavailable}` };
  }
  const started = performance.now();
  const run = await runOnce(argv, timeoutMs, signal);
  const outcome = judge(scenario.expected, run.got);
  const reason =
    run.got === 'timeout'
      ? `timed out after ${timeoutMs} ms (killed)`
      : run.got === 'unsupported' && outcome === 'skip'
        ? 'the client said UNSUPPORTED'
        : null;
  return {
    ...about,
    got: run.got,
    outcome,
    reason,
    exitCode: run.exitCode,
    signal: run.signal,
    stderr: errorLine(run.stderr),
    durationMs: Math.round(performance.now() - started),
    argv,
  };
}

/**
 * Runs `command` against every scenario of `lab` and grades each run. Exit status 0 is an accept,
 * anything else a reject, unless the client's last stdout line is ACCEPT, REJECT or UNSUPPORTED
 * (the convention of trytls stubs). A run past `timeoutMs` is killed and fails.
 */
export async function gradeClient(
  lab: Lab,
  command: readonly string[],
  options: GradeOptions = {},
): Promise<GradeReport> {
  checkCommand(command);
  checkOptionNames('gradeClient', options, GRADE_OPTIONS);
  const jobs = options.jobs ?? availableParallelism();
  const timeoutMs = checkMilliseconds('gradeClient', 'timeoutMs', options.timeoutMs) ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new InvalidArgumentError(`gradeClient: \`jobs\` must be a whole number, 1 or more, got ${jobs}`);
  checkFunction('gradeClient', 'onResult', options.onResult);
  checkSignal('gradeClient', options.signal);
  const started = performance.now();
  const results: GradeResult[] = new Array(lab.scenarios.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < lab.scenarios.length && !options.signal?.aborted) {
      const index = next++;
      const result = await gradeOne(command, lab.scenarios[index]!, timeoutMs, options.signal);
      results[index] = result;
      options.onResult?.(result, ++done, lab.scenarios.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, lab.scenarios.length) }, worker));
  const graded = results.filter(Boolean);
  const count = (outcome: Outcome) => graded.filter((result) => result.outcome === outcome).length;
  return {
    command: [...command],
    results: graded,
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skip'),
    durationMs: Math.round(performance.now() - started),
  };
}
