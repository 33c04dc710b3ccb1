/**
 * `tlskit cert` as a user runs it: the built command in a child process, so exit codes and what
 * reaches stdout/stderr are what is checked. `npm test` builds dist/ first.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tlskit ...`; resolves with the exit code instead of rejecting on a non-zero one. */
async function cli(args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/cli/main.js', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, stdout, stderr };
  }
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'tlskit-cli-cert-'));

describe('tlskit cert issue --ca', () => {
  it("issues under the development CA that 'cert dev' wrote (dev-ca.pem, dev-ca-key.pem)", async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'dev', '--out', dir])).code).toBe(0);
    const issued = await cli(['cert', 'issue', 'myapp.test', '--ca', dir, '--out', join(dir, 'out')]);
    expect(issued).toMatchObject({ code: 0, stderr: '' });
    const verify = await run('openssl', [
      'verify',
      '-CAfile',
      join(dir, 'dev-ca.pem'),
      '-verify_hostname',
      'myapp.test',
      join(dir, 'out', 'myapp.test.pem'),
    ]);
    expect(verify.stdout).toMatch(/: OK/);
  });

  it('names both file layouts when the directory holds neither', async () => {
    const dir = tempDir();
    const result = await cli(['cert', 'issue', 'a.test', '--ca', dir, '--out', join(dir, 'out')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no CA in '.*': expected ca\.pem and ca-key\.pem, or dev-ca\.pem/);
  });
});

describe('tlskit cert with damaged files', () => {
  it('inspect names the file and the damaged certificate, exit code 2, no raw OpenSSL error', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'ca', '--out', dir])).code).toBe(0);
    const lines = readFileSync(join(dir, 'ca.pem'), 'utf8').split('\n');
    lines.splice(3, 1);
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, lines.join('\n'));
    const result = await cli(['cert', 'inspect', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^tlskit cert: certificate 1 of 1 in '.*bad\.pem' is not a readable X\.509 certificate/,
    );
    expect(result.stderr).not.toMatch(/error:[0-9A-F]{8}|Usage:/);
  });

  it('issue names the CA file that is damaged', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'ca', '--out', dir])).code).toBe(0);
    writeFileSync(join(dir, 'ca-key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const result = await cli(['cert', 'issue', 'a.test', '--ca', dir, '--out', join(dir, 'out')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^tlskit cert: '.*ca-key\.pem' is not a readable private key \(damaged PEM/,
    );
    expect(result.stderr).not.toMatch(/error:[0-9A-F]{8}|Usage:/);
  });
});
