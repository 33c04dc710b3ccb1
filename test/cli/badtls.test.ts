/**
 * `tlskit badtls` as a user runs it: the built command in a child process (`npm test` builds
 * dist/ first), its exit codes, output and files, and Ctrl-C.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/cli/main.js', 'badtls', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, stdout, stderr };
  }
}

const CURL = ['curl', '-sS', '--cacert', '{ca}', '--connect-to', '::{addr}:', '{url}'];

describe('tlskit badtls: mistakes exit 2 and say what is wrong', () => {
  it.each([
    [['check'], /no client command: put it after '--'/],
    [
      ['check', '--', 'curl', '{hots}'],
      /unknown placeholder \{hots\}.*the placeholders are \{host\} \{addr\}/,
    ],
    [['check', '--', 'no-such-client-xyz', '{url}'], /command not found: 'no-such-client-xyz'/],
    [
      ['check', '--only', 'expird', '--', ...CURL],
      /no scenario or group named 'expird' \(did you mean expired\?\)/,
    ],
    [['check', '--jobs', '0', '--', ...CURL], /--jobs must be a positive whole number, got '0'/],
    [
      ['check', '--timeout', '9999999', '--', ...CURL],
      /--timeout 9999999 is longer than a Node timer can wait; use at most 2147483 seconds/,
    ],
    [['serve', '--json', 'x.json'], /--json applies to 'badtls check' only/],
    [
      ['check', '--json', '/no/such/dir/r.json', '--', ...CURL],
      /--json '\/no\/such\/dir\/r.json': the directory \/no\/such\/dir does not exist/,
    ],
    [['check', '--junit', '/tmp', '--', ...CURL], /--junit '\/tmp': is a directory; pass a file name/],
    [['frob'], /unknown command 'badtls frob'/],
  ])('%j', async (args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^tlskit badtls: ${message.source}`));
  });
});

describe('tlskit badtls check', () => {
  it('prints the table and summary, writes JSON and JUnit, and exits 0 when everything passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-cli-badtls-'));
    const json = join(dir, 'out.json');
    const junit = join(dir, 'out.xml');
    const result = await cli([
      'check',
      '--only',
      'ecdsa,expired',
      '--json',
      json,
      '--junit',
      junit,
      '--',
      ...CURL,
    ]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/^scenario +expected +got +result +note\n/);
    expect(result.stdout).toMatch(
      /^expired +reject +reject +PASS +curl: \(60\) SSL certificate problem: certificate has expired$/m,
    );
    expect(result.stdout).toMatch(/^ecdsa +accept +accept +PASS$/m);
    expect(result.stdout).toMatch(/\n2\/2 passed \(\d+\.\d s\)\n$/);
    // Not a terminal: no colours, no progress bar.
    expect(result.stdout + result.stderr).not.toContain('\u001b[');
    expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({ passed: 2, failed: 0 });
    expect(readFileSync(junit, 'utf8')).toMatch(/<testsuites name="tlskit badtls" tests="2" failures="0"/);
  });

  it('exits 1 when a scenario FAILs', async () => {
    const result = await cli([
      'check',
      '--only',
      'expired',
      '--',
      'curl',
      '-sSk',
      '--connect-to',
      '::{addr}:',
      '{url}',
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^expired +reject +accept +FAIL/m);
    expect(result.stdout).toMatch(/0\/1 passed, 1 failed/);
  });

  it('lists the scenarios without starting the lab', async () => {
    const result = await cli(['list', '--only', 'mtls']);
    expect(result.stdout).toMatch(/^2 of \d+ scenarios:\n {2}mtls-required +mtls +accept /);
  });
});

/** Starts `tlskit badtls ...` and resolves once its output matches `ready`. */
function started(args: string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['dist/cli/main.js', 'badtls', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  return new Promise((resolve, reject) => {
    const check = (chunk: Buffer) => {
      text += chunk.toString();
      if (ready.test(text)) resolve({ child, output: () => text });
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', () => reject(new Error(`exited early:\n${text}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe('Ctrl-C closes the lab and removes its files', () => {
  it('serve: prints the scenario table, then stops cleanly on SIGINT', async () => {
    const { child, output } = await started(['serve', '--only', 'ecdsa,dhe-512'], /Ctrl-C stops the lab/);
    expect(output()).toMatch(/^ecdsa +pki-control +accept +\d+ +localhost +ECDSA P-256/m);
    expect(output()).toMatch(/^dhe-512 +protocol +reject +- +- +UNAVAILABLE: node:tls/m);
    const dir = /CA bundle: (.*)\/ca\.pem/.exec(output())![1]!;
    expect(existsSync(dir)).toBe(true);
    const code = exited(child);
    child.kill('SIGINT');
    expect(await code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('check: a SIGINT kills the running clients, stops the lab and exits 130', async () => {
    const { child, output } = await started(
      ['check', '--only', 'ecdsa', '--', 'sleep', '60'],
      /served from (\S+);/,
    );
    const dir = /served from (\S+);/.exec(output())![1]!;
    const code = exited(child);
    child.kill('SIGINT');
    expect(await code).toBe(130);
    expect(existsSync(dir)).toBe(false);
  });
});
