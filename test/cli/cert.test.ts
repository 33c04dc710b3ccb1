/**
 * `tlskit cert` as a user runs it: the built command in a child process, so exit codes and what
 * reaches stdout/stderr are what is checked. `npm test` builds dist/ first.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
async function cli(args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/cli/main.js', ...args], { env });
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

  it('refuses to replace an issued certificate unless --force; a replaced key stays private', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'dev', '--out', dir])).code).toBe(0);
    const out = join(dir, 'out');
    const args = ['cert', 'issue', 'twice.test', '--ca', dir, '--out', out];
    expect((await cli(args)).code).toBe(0);
    const key = join(out, 'twice.test-key.pem');
    const before = readFileSync(key, 'utf8');
    const refused = await cli(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/twice\.test\.pem' already exists; pass --force to replace it/);
    expect(readFileSync(key, 'utf8')).toBe(before);
    chmodSync(key, 0o644);
    expect((await cli([...args, '--force'])).code).toBe(0);
    expect(readFileSync(key, 'utf8')).not.toBe(before);
    expect(statSync(key).mode & 0o777).toBe(0o600);
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

  it('inspect given HOST:PORT instead of a file points to tlskit connect', async () => {
    for (const target of ['localhost:8443', '[::1]:443']) {
      const result = await cli(['cert', 'inspect', target]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `'${target}' looks like a server: read its chain with 'tlskit connect ${target} --ca FILE' (or --system-ca)`,
      );
    }
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

describe('tlskit cert ca --out', () => {
  it('refuses to replace an existing CA unless --force is given', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'ca', '--out', dir])).code).toBe(0);
    const key = readFileSync(join(dir, 'ca-key.pem'), 'utf8');
    const again = await cli(['cert', 'ca', '--out', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/'.*ca-key\.pem' already exists: .*; pass --force to replace it/);
    expect(readFileSync(join(dir, 'ca-key.pem'), 'utf8')).toBe(key);
    expect((await cli(['cert', 'ca', '--out', dir, '--force'])).code).toBe(0);
    expect(readFileSync(join(dir, 'ca-key.pem'), 'utf8')).not.toBe(key);
  });
});

describe('tlskit cert failures', () => {
  it('leave no --out directory behind', async () => {
    const dir = tempDir();
    const made = (name: string) => existsSync(join(dir, name));
    expect((await cli(['cert', 'ca', '--out', join(dir, 'ca1'), '--key-type', 'dsa'])).code).toBe(2);
    expect(made('ca1')).toBe(false);
    expect((await cli(['cert', 'ca', '--out', join(dir, 'ca2'), '--name', 'x'.repeat(65)])).code).toBe(2);
    expect(made('ca2')).toBe(false);
    expect((await cli(['cert', 'ca', '--out', join(dir, 'ca')])).code).toBe(0);
    const bad = await cli([
      'cert',
      'issue',
      'not a host',
      '--ca',
      join(dir, 'ca'),
      '--out',
      join(dir, 'leaf'),
    ]);
    expect(bad.code).toBe(2);
    expect(made('leaf')).toBe(false);
  });

  it('reject options that do not apply to the subcommand', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'ca', '--out', dir])).code).toBe(0);
    const result = await cli([
      'cert',
      'issue',
      'a.test',
      '--ca',
      dir,
      '--out',
      join(dir, 'out'),
      '--path-length',
      '1',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--path-length does not apply to 'cert issue'; it is for 'cert ca'/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    const inspect = await cli(['cert', 'inspect', join(dir, 'ca.pem'), '--force']);
    expect(inspect.stderr).toMatch(
      /--force does not apply to 'cert inspect'; it is for 'cert ca', 'cert issue', 'cert p12 export', 'cert p12 import', 'cert dev'/,
    );
  });

  it('explain a --days that is not a positive whole number, negative ones included', async () => {
    const dir = tempDir();
    const values = ['-3', '0', '1.5', 'ten'];
    const results = await Promise.all(
      values.map((days) => cli(['cert', 'ca', '--out', dir, '--days', days])),
    );
    for (const [index, result] of results.entries()) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `--days must be a positive whole number of days, got '${values[index]}'`,
      );
    }
    expect(existsSync(join(dir, 'ca.pem'))).toBe(false);
    const path = await cli(['cert', 'ca', '--out', dir, '--path-length', '-1']);
    expect(path.stderr).toContain("--path-length must be a whole number, 0 or more, got '-1'");
  });

  it('p12 export and import do not write over files without --force', async () => {
    const dir = tempDir();
    await cli(['cert', 'ca', '--out', join(dir, 'ca')]);
    await cli(['cert', 'issue', 'p.test', '--ca', join(dir, 'ca'), '--out', join(dir, 'leaf')]);
    const env = { ...process.env, P12: 'pw' };
    const exported = join(dir, 'p.p12');
    const exportArgs = ['cert', 'p12', 'export', '--cert', join(dir, 'leaf', 'p.test.pem')];
    exportArgs.push('--key', join(dir, 'leaf', 'p.test-key.pem'), '--out', exported, '--password-env', 'P12');
    const importArgs = [
      'cert',
      'p12',
      'import',
      exported,
      '--out',
      join(dir, 'back'),
      '--password-env',
      'P12',
    ];
    for (const args of [exportArgs, importArgs]) {
      expect((await cli(args, env)).code).toBe(0);
      const again = await cli(args, env);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already exists; pass --force to replace it/);
      expect((await cli([...args, '--force'], env)).code).toBe(0);
    }
  });

  it('an output path that cannot be written names the path and the fix (exit 2)', async () => {
    const dir = tempDir();
    await cli(['cert', 'ca', '--out', join(dir, 'ca')]);
    await cli(['cert', 'issue', 'p.test', '--ca', join(dir, 'ca'), '--out', join(dir, 'leaf')]);
    const missing = join(dir, 'no', 'such', 'p.p12');
    const args = ['cert', 'p12', 'export', '--cert', join(dir, 'leaf', 'p.test.pem')];
    args.push('--key', join(dir, 'leaf', 'p.test-key.pem'), '--out', missing, '--password-env', 'P12');
    const result = await cli(args, { ...process.env, P12: 'pw' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot write '${missing}' (ENOENT): its directory does not exist`);
    const underFile = await cli(['cert', 'ca', '--out', join(dir, 'leaf', 'p.test.pem', 'ca')]);
    expect(underFile.code).toBe(2);
    expect(underFile.stderr).toMatch(/cannot write '.*' \(ENOTDIR\): a part of the path is a file/);
  });

  it('name --days when the period it asks for cannot be: past year 9999, or past the CA', async () => {
    const dir = tempDir();
    const huge = await cli(['cert', 'ca', '--out', join(dir, 'huge'), '--days', '3000000']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(
      /--days 3000000: `validity.notAfter` is .* which a certificate cannot hold; .*give fewer days/,
    );
    expect(existsSync(join(dir, 'huge', 'ca.pem'))).toBe(false);
    await cli(['cert', 'ca', '--out', join(dir, 'ca'), '--days', '10']);
    const long = await cli([
      'cert',
      'issue',
      'a.test',
      '--ca',
      join(dir, 'ca'),
      '--out',
      join(dir, 'o'),
      '--days',
      '50',
    ]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/--days 50: `validity` ends .*, after the issuing CA's notAfter/);
  });
});

describe('tlskit cert for people', () => {
  it('an unknown option names itself and the subcommand, then shows that subcommand’s usage', async () => {
    const result = await cli(['cert', 'issue', 'a.test', '--bogus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^tlskit cert: unknown option --bogus for 'tlskit cert issue'\n\nUsage: tlskit cert issue HOST\.\.\./,
    );
    expect(result.stderr).toContain('--usage server|client|both');
    expect(result.stderr).not.toContain('Commands:');
    const noHost = await cli(['cert', 'issue', '--ca', 'x', '--out', 'y']);
    expect(noHost.stderr).toMatch(
      /^tlskit cert: cert issue needs at least one HOST\n\nUsage: tlskit cert issue HOST/,
    );
    expect(noHost.stderr).not.toContain('Commands:');
    const usage = await cli(['cert', 'issue', 'a.test', '--ca', 'x', '--out', 'y', '--usage', 'sever']);
    expect(usage).toMatchObject({
      code: 2,
      stderr: "tlskit cert: --usage must be server, client or both, got 'sever'\n",
    });
    const missing = await cli(['cert', 'ca', '--out']);
    expect(missing.stderr).toMatch(/^tlskit cert: option --out of 'tlskit cert ca' needs a value/);
  });

  it("'tlskit help cert' and 'cert issue --help' show the cert help and one command's", async () => {
    const page = await cli(['help', 'cert']);
    expect(page).toMatchObject({ code: 0 });
    expect(page.stdout).toMatch(/^Usage: tlskit cert <command>/);
    expect(page.stdout).toMatch(/Exit codes: 0 done/);
    const one = await cli(['cert', 'issue', '--help']);
    expect(one.stdout).toMatch(/^Usage: tlskit cert issue HOST\.\.\. --ca DIR --out DIR/);
    expect((await cli(['help', 'cert', 'dev'])).stdout).toMatch(/^Usage: tlskit cert dev/);
  });

  it('cert dev prints how to trust the CA, with its real path, when it writes and when it keeps', async () => {
    const dir = tempDir();
    const first = await cli(['cert', 'dev', '--out', dir]);
    const again = await cli(['cert', 'dev', '--out', dir]);
    for (const result of [first, again]) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`curl --cacert ${join(dir, 'dev-ca.pem')}`);
      expect(result.stdout).toContain(`NODE_EXTRA_CA_CERTS=${join(dir, 'dev-ca.pem')}`);
      expect(result.stdout).not.toContain('README');
    }
  });

  it('cert dev refuses to keep a set whose files do not fit together, naming the file', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'dev', '--out', dir])).code).toBe(0);
    const other = tempDir();
    expect((await cli(['cert', 'dev', '--out', other])).code).toBe(0);
    // Files taken from the other set, and what the refusal says.
    const cases: Array<[string[], string]> = [
      [['localhost-key.pem'], 'localhost-key.pem is not the key of localhost.pem'],
      [['dev-ca-key.pem'], 'dev-ca-key.pem is not the key of dev-ca.pem'],
      [['dev-ca.pem'], 'dev-ca-key.pem is not the key of dev-ca.pem'],
      [['dev-ca.pem', 'dev-ca-key.pem'], 'localhost.pem was not issued by dev-ca.pem'],
    ];
    for (const [names, message] of cases) {
      const kept = names.map((name) => readFileSync(join(dir, name)));
      for (const name of names) writeFileSync(join(dir, name), readFileSync(join(other, name)));
      const result = await cli(['cert', 'dev', '--out', dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`do not fit together: ${message}; pass --force to replace them all`);
      for (const [index, name] of names.entries()) writeFileSync(join(dir, name), kept[index]!);
    }
    expect((await cli(['cert', 'dev', '--out', dir])).code).toBe(0);
    expect((await cli(['cert', 'dev', '--out', dir, '--force'])).code).toBe(0);
  });

  it('inspect - reads the PEM from standard input', async () => {
    const dir = tempDir();
    expect((await cli(['cert', 'ca', '--out', dir])).code).toBe(0);
    const child = execFile(process.execPath, ['dist/cli/main.js', 'cert', 'inspect', '--json', '-']);
    child.stdin!.end(readFileSync(join(dir, 'ca.pem')));
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toHaveLength(1);
  });

  it('cert defects writes every chain with an index that openssl agrees with', async () => {
    const dir = join(tempDir(), 'chains');
    const result = await cli(['cert', 'defects', '--out', dir]);
    expect(result.code).toBe(0);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Array<{
      name: string;
      verdict: string;
      expect: string | null;
      files: { chain: string; key: string; trust: string; crl: string | null };
    }>;
    expect(index.filter((entry) => entry.verdict === 'reject').length).toBeGreaterThanOrEqual(13);
    expect(index.filter((entry) => entry.verdict === 'accept').length).toBeGreaterThanOrEqual(7);
    for (const entry of index) {
      expect(existsSync(entry.files.chain) && existsSync(entry.files.trust)).toBe(true);
      expect(statSync(entry.files.key).mode & 0o777).toBe(0o600);
    }
    // The files are what they say: openssl verifies a control and refuses a defect.
    const verify = (name: string) => {
      const entry = index.find((e) => e.name === name)!;
      return run('openssl', ['verify', '-CAfile', entry.files.trust, entry.files.chain]).then(
        () => 'ok',
        () => 'rejected',
      );
    };
    expect(await verify('ecdsa')).toBe('ok');
    expect(await verify('expired')).toBe('rejected');
    expect(index.find((e) => e.name === 'revoked')?.files.crl).toMatch(/crl\.pem$/);
    const again = await cli(['cert', 'defects', '--out', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/index\.json' already exists; pass --force/);
  });
});
