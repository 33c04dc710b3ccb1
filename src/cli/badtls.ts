/**
 * `tlskit badtls`: grade a TLS client against the bad-TLS lab (`check`), serve the lab for manual
 * poking (`serve`), or list its scenarios (`list`). The lab and the grader live in tlskit/testing;
 * this file parses the command line, prints, and stops the lab on Ctrl-C.
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkCommand,
  DEFAULT_TIMEOUT_MS,
  formatLab,
  formatTable,
  gradeClient,
  type Lab,
  PLACEHOLDERS,
  palette,
  progressBar,
  scenarios,
  selectScenarios,
  startLab,
  summaryLine,
  toJson,
  toJUnit,
} from '../testing/index.js';
import { MAX_TIMER_MS } from '../transport/options.js';
import { UsageError } from './usage-error.js';

export const BADTLS_HELP = `Usage: tlskit badtls <command> [options]

Commands:
  check [options] -- COMMAND...  Run COMMAND once per scenario, placeholders filled in, and grade
                                 it: exit status 0 is an accept, anything else a reject, unless
                                 its last stdout line is ACCEPT, REJECT or UNSUPPORTED.
                                 Exits 1 if any scenario FAILed.
  serve [options]                Start the lab and print its scenarios; Ctrl-C stops it.
  list [options]                 Print the scenarios and their expected verdicts.

Options:
  --only LIST    Scenarios or groups to run, comma-separated (repeatable)
  --skip LIST    Scenarios or groups to leave out
  --jobs N       Clients at once (check; default: the number of cores)
  --timeout S    Seconds one run may take before it is killed and FAILs (check; default ${DEFAULT_TIMEOUT_MS / 1000})
  --json FILE    Write the results as JSON (check)
  --junit FILE   Write the results as JUnit XML (check)

Placeholders ({{name}} is a literal {name}):
${Object.entries(PLACEHOLDERS)
  .map(([name, meaning]) => `  {${name}}`.padEnd(17) + meaning)
  .join('\n')}

Exit status (check): 0 every scenario PASSed, 1 a scenario FAILed, 2 a mistake in the options
or COMMAND, 130/143 interrupted by SIGINT/SIGTERM. serve exits 0 once stopped by Ctrl-C.

Example:
  tlskit badtls check -- curl -sf --cacert {ca} --connect-to ::{addr}: {url}
`;

const OPTIONS = {
  only: { type: 'string', multiple: true },
  skip: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'string' },
  junit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const CHECK_ONLY = ['jobs', 'timeout', 'json', 'junit'];

const list = (values: string[] | undefined) =>
  (values ?? [])
    .flatMap((value) => value.split(','))
    .map((entry) => entry.trim())
    .filter(Boolean);

function positiveNumber(name: string, value: string | undefined, whole: boolean): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!(number > 0) || !Number.isFinite(number) || (whole && !Number.isInteger(number))) {
    throw new UsageError(`--${name} must be a positive ${whole ? 'whole number' : 'number'}, got '${value}'`);
  }
  return number;
}

/**
 * SIGINT and SIGTERM handling for a command that runs a lab. The handlers are installed before the
 * lab starts (a Ctrl-C during start-up must not leave its directory behind) and before any output
 * (whoever reads it may press Ctrl-C at once). On a signal the lab is stopped, now or as soon as it
 * exists, and `signalled` resolves with the signal.
 */
function signals() {
  let lab: Lab | undefined;
  let received: NodeJS.Signals | undefined;
  let report!: (signal: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    report = resolve;
  });
  const handler = (signal: NodeJS.Signals) => {
    received ??= signal;
    if (lab) void lab.stop().then(() => report(signal));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signalled,
    /** Hands over the started lab; true if a signal came during start-up (the lab is then stopped). */
    started(started: Lab): boolean {
      lab = started;
      if (received) handler(received);
      return received !== undefined;
    },
    remove() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

const err = (line: string) => process.stderr.write(`${line}\n`);
const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** A report file must be writable before the run, not found unwritable after minutes of it. */
function checkWritable(flag: 'json' | 'junit', path: string | undefined): void {
  if (path === undefined) return;
  const fail = (why: string) => {
    throw new UsageError(`--${flag} '${path}': ${why}`, { help: false });
  };
  try {
    if (statSync(path).isDirectory()) fail('is a directory; pass a file name');
    accessSync(path, constants.W_OK);
    return;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail('cannot be written; pass a writable file');
  }
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(
      code === 'ENOENT'
        ? `the directory ${dirname(path)} does not exist; create it or pass a path in an existing one`
        : `the directory ${dirname(path)} cannot be written (${code}); pass a path in a writable one`,
    );
  }
}

const exitCodeFor = (signal: NodeJS.Signals) => (signal === 'SIGINT' ? 130 : 143);

async function check(values: Record<string, unknown>, command: string[], out: (line: string) => void) {
  checkCommand(command);
  const selection = { only: list(values.only as string[]), skip: list(values.skip as string[]) };
  const jobs = positiveNumber('jobs', values.jobs as string | undefined, true);
  const seconds = positiveNumber('timeout', values.timeout as string | undefined, false);
  // Checked before the lab starts: a Node timer waits at most 2^31 - 1 ms.
  if (seconds !== undefined && seconds * 1000 > MAX_TIMER_MS)
    throw new UsageError(
      `--timeout ${values.timeout} is longer than a Node timer can wait; use at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (about 24.8 days)`,
    );
  selectScenarios(selection);
  for (const flag of ['json', 'junit'] as const) checkWritable(flag, values[flag] as string | undefined);
  const handling = signals();
  const controller = new AbortController();
  const lab = await startLab(selection).catch((error: unknown) => {
    handling.remove();
    throw error;
  });
  try {
    if (handling.started(lab)) return exitCodeFor(await handling.signalled);
    // A signal stops the lab (above); this kills the running clients and starts no more.
    void handling.signalled.then(() => controller.abort());
    const unavailable = lab.scenarios.filter((s) => s.unavailable).length;
    err(
      `tlskit badtls: ${plural(lab.scenarios.length - unavailable, 'scenario')} served from ${lab.dir}${unavailable ? ` (${unavailable} unavailable here)` : ''}; running ${command[0]}`,
    );
    const tty = process.stderr.isTTY === true;
    const report = await gradeClient(lab, command, {
      jobs,
      timeoutMs: seconds === undefined ? undefined : seconds * 1000,
      signal: controller.signal,
      onResult: tty
        ? (_result, done, total) => process.stderr.write(`\r${progressBar(done, total)}`)
        : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
    if (controller.signal.aborted) {
      const received = await handling.signalled;
      err(`tlskit badtls: ${received}; the clients were killed and the lab is closed`);
      return exitCodeFor(received);
    }
    out(formatTable(report, palette(process.stdout)));
    out('');
    out(summaryLine(report));
    if (values.json) writeFileSync(values.json as string, toJson(report));
    if (values.junit) writeFileSync(values.junit as string, toJUnit(report));
    return report.failed > 0 ? 1 : 0;
  } finally {
    await lab.stop();
    handling.remove();
  }
}

async function serve(values: Record<string, unknown>, out: (line: string) => void): Promise<number> {
  const selection = { only: list(values.only as string[]), skip: list(values.skip as string[]) };
  selectScenarios(selection);
  const handling = signals();
  const lab = await startLab(selection).catch((error: unknown) => {
    handling.remove();
    throw error;
  });
  try {
    if (handling.started(lab)) return exitCodeFor(await handling.signalled);
    out(formatLab(lab.scenarios));
    out('');
    out(`CA bundle: ${lab.ca.path}`);
    out(`CRLs:      ${lab.crl.path}`);
    out(`client:    ${lab.client.certPath} ${lab.client.keyPath}`);
    out('Connect to 127.0.0.1:PORT and verify HOST. Ctrl-C stops the lab.');
    const signal = await handling.signalled;
    err(`tlskit badtls: ${signal}; every server is closed and ${lab.dir} removed`);
    return 0;
  } finally {
    await lab.stop();
    handling.remove();
  }
}

/** Runs `tlskit badtls ...`; returns the exit code. */
export async function badtlsCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const split = argv.indexOf('--');
  const command = split < 0 ? [] : argv.slice(split + 1);
  const { values, positionals } = parseArgs({
    args: split < 0 ? argv : argv.slice(0, split),
    allowPositionals: true,
    options: OPTIONS,
  });
  const [sub, ...extra] = positionals;
  if (values.help || sub === undefined || sub === 'help') {
    out(BADTLS_HELP);
    return 0;
  }
  if (sub !== 'check' && sub !== 'serve' && sub !== 'list') {
    throw new UsageError(`unknown command 'badtls ${sub}'; use check, serve or list`);
  }
  if (extra.length > 0) {
    throw new UsageError(
      `unexpected '${extra[0]}'${sub === 'check' ? "; put the client's command after '--'" : ''}`,
    );
  }
  const misplaced = sub === 'check' ? undefined : CHECK_ONLY.find((name) => name in values);
  if (misplaced) throw new UsageError(`--${misplaced} applies to 'badtls check' only`);
  if (sub !== 'check' && split >= 0)
    throw new UsageError(`'badtls ${sub}' runs no command; '--' is for 'badtls check'`);
  if (sub === 'check') return check(values, command, out);
  if (sub === 'serve') return serve(values, out);
  const chosen = selectScenarios({ only: list(values.only), skip: list(values.skip) });
  out(`${chosen.length} of ${scenarios.length} scenarios:`);
  for (const s of chosen)
    out(`  ${s.name.padEnd(26)} ${s.group.padEnd(12)} ${s.expected.padEnd(22)} ${s.description}`);
  return 0;
}
