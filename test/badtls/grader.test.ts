/**
 * The grader on a small lab: placeholders, stub verdicts, timeouts that kill the whole process
 * group, bad commands, and the reports.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkCommand,
  fillCommand,
  gradeClient,
  judge,
  type Lab,
  startLab,
  summaryLine,
  toJson,
  toJUnit,
} from 'tlskit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab({ only: ['ecdsa', 'expired', 'ed25519', 'dhe-512'] });
});
afterAll(() => lab?.stop());

/** Whether `pid` is a live process: gone, or a zombie nobody reaped yet (killed all the same). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sh = (script: string) => ['sh', '-c', script, 'sh', '{name}'];

describe('commands', () => {
  it('fills every placeholder, inside arguments too, and keeps {{x}} and other braces literal', () => {
    const scenario = lab.scenario('ecdsa');
    const filled = fillCommand(
      [
        'x',
        '--to={addr}:{port}',
        '{url}',
        '{host}',
        '{name}',
        '{ca}',
        '{crl}',
        '{rootcrl}',
        '{cert}',
        '{key}',
        '{{host}}',
        '{ a: 1 }',
      ],
      scenario,
    );
    expect(filled).toEqual([
      'x',
      `--to=127.0.0.1:${scenario.port}`,
      `https://localhost:${scenario.port}/`,
      'localhost',
      'ecdsa',
      lab.ca.path,
      lab.crl.path,
      scenario.files.rootCrl,
      lab.client.certPath,
      lab.client.keyPath,
      '{host}',
      '{ a: 1 }',
    ]);
  });

  it('refuses no command, an unknown placeholder and a program that does not exist, saying which', () => {
    expect(() => checkCommand([])).toThrow(/no client command: put it after '--'/);
    expect(() => checkCommand('curl {url}' as never)).toThrow(
      /the client command must be an array of strings, program first .* got "curl \{url\}"/,
    );
    expect(() => checkCommand(['curl', '{hots}'])).toThrow(
      /unknown placeholder \{hots\} in '\{hots\}'; the placeholders are \{host\} \{addr\} \{port\} \{url\}/,
    );
    expect(() => checkCommand(['no-such-client-xyz', '{url}'])).toThrow(
      "command not found: 'no-such-client-xyz' (looked in PATH)",
    );
    expect(() => checkCommand(['./nowhere/client'])).toThrow("command not found: './nowhere/client'");
  });

  it('grades by exit status, or by the last stdout line a stub prints', () => {
    expect(judge('accept', 'accept')).toBe('pass');
    expect(judge('reject', 'accept')).toBe('fail');
    expect(judge('accept-or-unsupported', 'unsupported')).toBe('pass');
    expect(judge('reject', 'unsupported')).toBe('skip');
    expect(judge('reject', 'timeout')).toBe('fail');
  });
});

describe('runs', () => {
  it('reads ACCEPT, REJECT and UNSUPPORTED stubs, skips what is unavailable', async () => {
    const stub = sh(
      'case $1 in ecdsa) echo ACCEPT; exit 3;; expired) echo REJECT;; ed25519) echo noise; echo UNSUPPORTED;; esac',
    );
    const report = await gradeClient(lab, stub);
    const by = Object.fromEntries(report.results.map((r) => [r.name, [r.got, r.outcome]]));
    expect(by).toEqual({
      ecdsa: ['accept', 'pass'],
      expired: ['reject', 'pass'],
      ed25519: ['unsupported', 'pass'],
      'dhe-512': [null, 'skip'],
    });
    expect(report.results.find((r) => r.name === 'dhe-512')?.reason).toMatch(/^unavailable: node:tls/);
    expect(summaryLine(report)).toMatch(/^3\/3 passed, 1 skipped \(\d+\.\d s\)$/);
  });

  it('keeps the last "program: message" line of stderr as the note', async () => {
    const report = await gradeClient(
      lab,
      sh('echo "client: (60) it broke" >&2; echo "advice follows" >&2; exit 1'),
    );
    expect(report.results.find((r) => r.name === 'ecdsa')).toMatchObject({
      got: 'reject',
      outcome: 'fail',
      exitCode: 1,
      stderr: 'client: (60) it broke',
    });
  });

  it('kills a hung client and everything it started when its time is up, and fails it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-grader-'));
    // The client starts a grandchild that would outlive it, records its pid, and hangs.
    const script = `sleep 60 & echo $! > ${dir}/$1.pid; sleep 60`;
    const started = performance.now();
    const report = await gradeClient(lab, sh(script), { timeoutMs: 300, jobs: 4 });
    expect(performance.now() - started).toBeLessThan(5_000);
    for (const result of report.results.filter((r) => r.got !== null)) {
      expect(result).toMatchObject({
        got: 'timeout',
        outcome: 'fail',
        reason: 'timed out after 300 ms (killed)',
      });
      const pid = Number(readFileSync(join(dir, `${result.name}.pid`), 'utf8'));
      expect(alive(pid), `grandchild ${pid} of ${result.name}`).toBe(false);
    }
    expect(report.failed).toBe(3);
  });

  it('stops when aborted: running clients are killed, the rest are not started', async () => {
    const controller = new AbortController();
    const aborted = gradeClient(lab, sh('sleep 60'), {
      jobs: 1,
      signal: controller.signal,
      timeoutMs: 60_000,
    });
    setImmediate(() => controller.abort());
    const result = await aborted;
    expect(result.results.length).toBeLessThan(lab.scenarios.length);
  }, 30_000);
});

describe('reports', () => {
  it('JSON holds the command, counts and every result; JUnit one testcase per scenario', async () => {
    const report = await gradeClient(lab, sh('test "$1" = ecdsa'));
    const json = JSON.parse(toJson(report));
    expect(json).toMatchObject({ command: sh('test "$1" = ecdsa'), passed: 2, failed: 1, skipped: 1 });
    expect(json.results).toHaveLength(4);
    const junit = toJUnit(report);
    expect(junit).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="tlskit badtls" tests="4" failures="1" errors="0" skipped="1"/,
    );
    expect(junit).toMatch(/<testcase classname="badtls\.pki-control" name="ecdsa" time="[\d.]+"\/>/);
    expect(junit).toMatch(
      /<testcase classname="badtls\.pki-control" name="ed25519"[^>]*>\n\s*<failure message="expected accept-or-unsupported, got reject"/,
    );
    expect(junit).toMatch(
      /name="dhe-512"[^>]*>\n\s*<skipped message="expected reject, got nothing: unavailable: node:tls/,
    );
    expect(existsSync(lab.dir)).toBe(true);
  });
});
