/**
 * `tlskit cert` as a user runs it: the built command in a child process, so exit codes and what
 * reaches stdout/stderr are what is checked. `npm test` builds dist/ first.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
