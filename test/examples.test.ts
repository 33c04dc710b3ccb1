import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main as datagramMain } from '../examples/datagram/main.mjs';
import { main as echoMain } from '../examples/echo/main.mjs';
import { main as gradeMain } from '../examples/grade-client/main.mjs';
import { main as httpTestingMain } from '../examples/http-testing/main.mjs';
import { main as httpsMain } from '../examples/https/main.mjs';
import { main as mtlsMain } from '../examples/mtls/main.mjs';
import { main as starttlsMain } from '../examples/starttls/main.mjs';
import { main as tlsEchoMain } from '../examples/tls-echo/main.mjs';
import { main as wrapMain } from '../examples/wrap-protocol/main.mjs';

const run = promisify(execFile);

async function lines(main: (log: (line: string) => void) => Promise<void>): Promise<string[]> {
  const out: string[] = [];
  await main((line) => out.push(line));
  return out;
}

describe('examples', () => {
  it('echo: both servers answer with what they were sent', async () => {
    const out = await lines(echoMain);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^callback protocol answered: hello from the callback protocol on port \d+$/);
    expect(out[1]).toMatch(/^async handler answered: hello from the async handler on port \d+$/);
  });

  it('datagram: the same DNS-like lookup with retries over a lossy memory pair and over UDP', async () => {
    const out = await lines(datagramMain);
    const answers = 'example.test=192.0.2.10 mail.example.test=192.0.2.25 missing.example.test=NXDOMAIN';
    expect(out).toHaveLength(2);
    // Seed 5 loses some queries or answers: the retries are what got every answer through.
    const memory = out[0]!.match(
      new RegExp(`^lossy memory pair: ${answers} \\((\\d+) sends for 3 queries\\)$`),
    );
    expect(memory, out[0]).not.toBeNull();
    expect(Number(memory![1])).toBeGreaterThan(3);
    expect(out[1]).toMatch(new RegExp(`^udp: ${answers} \\(\\d+ sends for 3 queries\\)$`));
  });

  it('https: HTTP/1.1 and HTTP/2 from one handler, and a close that lets a slow request finish', async () => {
    expect(await lines(httpsMain)).toEqual([
      'fetch: HTTP/1.1 over TLSv1.3 for /hello',
      'http2: HTTP/2.0 over TLSv1.3 for /over-h2',
      'during close: HTTP/1.1 over TLSv1.3 for /slow (connection: close)',
      'closed: 1 request finished, 0 cut',
    ]);
  });

  it('http-testing: an HTTP app tested over TLS on a memory pair with random splits', async () => {
    expect(await lines(httpTestingMain)).toEqual([
      'over a memory pair in pieces of at most 100 bytes: POST /upload: 50000 bytes',
    ]);
  });

  it('tls-echo: a TLS 1.3 echo, verified against the CA', async () => {
    const out = await lines(tlsEchoMain);
    expect(out).toContain('echoed: hello over TLS');
    expect(out.find((line) => line.startsWith('TLSv1.3 '))).toMatch(
      /^TLSv1\.3 TLS_\w+, server CN=localhost$/,
    );
  });

  it('wrap-protocol: the same echo protocol over TCP, then over TLS', async () => {
    expect(await lines(wrapMain)).toEqual(['tcp: same protocol, same code', 'tls: same protocol, same code']);
  });

  it('starttls: an SMTP-like dialogue upgrades mid-stream', async () => {
    expect(await lines(starttlsMain)).toEqual([
      'S: 220 smtp.example ESMTP tlskit',
      'S: 220 ready to start TLS',
      'S: 250 hello, over TLS (TLSv1.3)',
      'S: 221 bye',
    ]);
  });

  it('production: PROXY addresses, tracing, and a SIGTERM drain that finishes the conversation', async () => {
    // Its own process: the example sends itself SIGTERM.
    const { stdout } = await run(process.execPath, ['examples/production/main.mjs'], { timeout: 30_000 });
    expect(stdout.trim().split('\n')).toEqual([
      'handshake: TLSv1.3 from 203.0.113.7',
      'server said: hello (to 203.0.113.7:40001, via 127.0.0.1)',
      'server said: goodbye: the server is shutting down',
      'then: close_notify',
      'SIGTERM: drained 1, aborted 0, dropped 0',
    ]);
  });

  it('mtls: a client with a certificate is greeted by name; one without is refused', async () => {
    expect(await lines(mtlsMain)).toEqual([
      'with a certificate: hello CN=alice',
      'without one: ERR_TLS_PROTOCOL (certificate_required)',
    ]);
  });

  it("grade-client: the lab grades tlskit's own client; its known deviations are the FAILs", async () => {
    // tlskit offers ECDHE with AEAD suites only, so it refuses the two legacy suites a strict
    // client may still accept; everything else grades as a strict client does.
    expect(await lines(gradeMain)).toEqual([
      '50/52 passed, 2 failed, 3 skipped',
      'FAIL cbc-sha1: expected accept, got reject',
      'FAIL dhe-2048: expected accept, got reject',
    ]);
  }, 60_000);

  it('workers: two workers answer on one port, a ticket resumes on either, and SIGTERM drains them all', async () => {
    // A program of its own: node:cluster forks the main script, which under vitest is vitest.
    const { stdout } = await run(process.execPath, ['examples/workers/main.mjs'], {
      timeout: 30_000,
      env: { ...process.env, TLSKIT_EXAMPLES_WORKERS: '2' },
    });
    const lines = stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^2 workers on port \d+$/);
    const answers = lines
      .slice(2, 6)
      .map((line) => /^hello from worker (\d+), resumed: (true|false)$/.exec(line));
    expect(answers.every(Boolean), stdout).toBe(true);
    expect(new Set(answers.map((answer) => answer![1])).size).toBe(2);
    expect(answers.map((answer) => answer![2])).toEqual(['false', 'true', 'true', 'true']);
    expect(lines[6]).toBe('closed: drained 0, aborted 0, dropped 0');
  });

  it('the demo runs as a plain Node program against the built package', async () => {
    const { stdout } = await run(process.execPath, ['examples/tls-echo/main.mjs'], { timeout: 20_000 });
    expect(stdout).toMatch(/echoed: hello over TLS/);
  });
});

describe('the README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('shows the code the examples run, verbatim', () => {
    const references = [...readme.matchAll(/<!-- from (\S+)#(\S+) -->\n```js\n([\s\S]*?)```/g)];
    expect(references.map((m) => m[1])).toEqual(
      expect.arrayContaining([
        'examples/wrap-protocol/main.mjs',
        'examples/tls-echo/main.mjs',
        'examples/starttls/main.mjs',
        'examples/grade-client/main.mjs',
      ]),
    );
    for (const [, file, region, shown] of references) {
      const source = readFileSync(file!, 'utf8');
      const match = new RegExp(`// #region ${region}\\n([\\s\\S]*?)\\s*// #endregion ${region}`).exec(source);
      expect(match, `${file} has no region ${region}`).not.toBeNull();
      const body = match![1]!.split('\n');
      const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
      expect(shown!.trimEnd()).toBe(
        body
          .map((l) => l.slice(indent))
          .join('\n')
          .trimEnd(),
      );
    }
  });
});

describe('the tlskit command', () => {
  const cli = (args: string[], env?: NodeJS.ProcessEnv) =>
    run(process.execPath, ['dist/cli/main.js', ...args], { env: { ...process.env, ...env } });

  it('prints help and version, and rejects unknown commands', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/^tlskit \d+\.\d+\.\d+: /);
    expect(help.stdout).toMatch(/cert ca\|issue\|inspect\|p12\|dev/);
    expect((await cli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const unknown = await cli(['frobnicate']).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 2 });
    expect((unknown as { stderr: string }).stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('cert ca, issue, inspect and p12 work together, and openssl agrees', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-cli-'));
    await cli(['cert', 'ca', '--out', join(dir, 'ca'), '--key-type', 'rsa-2048', '--name', 'CLI Root']);
    await cli([
      'cert',
      'issue',
      'api.test',
      '127.0.0.1',
      '--ca',
      join(dir, 'ca'),
      '--out',
      join(dir, 'leaf'),
      '--usage',
      'server',
    ]);
    const chain = join(dir, 'leaf', 'api.test.pem');
    const verify = await run('openssl', [
      'verify',
      '-CAfile',
      join(dir, 'ca', 'ca.pem'),
      '-purpose',
      'sslserver',
      '-verify_hostname',
      'api.test',
      chain,
    ]);
    expect(verify.stdout).toMatch(/: OK/);
    const text = (await cli(['cert', 'inspect', chain])).stdout;
    expect(text).toMatch(/Subject: +CN=api\.test/);
    expect(text).toMatch(/Issuer: +CN=CLI Root/);
    expect(text).toMatch(/Names: +api\.test, 127\.0\.0\.1/);
    // --json prints an array, one report per certificate in the file.
    const json = JSON.parse((await cli(['cert', 'inspect', '--json', join(dir, 'ca', 'ca.pem')])).stdout);
    expect(json).toMatchObject([{ subject: 'CN=CLI Root', isCA: true, key: { type: 'rsa', bits: 2048 } }]);
    const p12 = join(dir, 'bundle.p12');
    await cli(
      [
        'cert',
        'p12',
        'export',
        '--cert',
        chain,
        '--key',
        join(dir, 'leaf', 'api.test-key.pem'),
        '--out',
        p12,
        '--password-env',
        'P12',
        '--name',
        'api key',
      ],
      { P12: 'pw123' },
    );
    const dumped = await run('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:pw123', '-nodes']);
    expect(dumped.stdout).toMatch(/friendlyName: api key/);
    const imported = await cli(
      ['cert', 'p12', 'import', p12, '--out', join(dir, 'back'), '--password-env', 'P12'],
      { P12: 'pw123' },
    );
    expect(imported.stdout).toMatch(/key\.pem \(the bundle names the key 'api key'\)/);
    expect(readFileSync(join(dir, 'back', 'cert.pem'), 'utf8')).toBe(readFileSync(chain, 'utf8'));
    const missing = await cli(['cert', 'p12', 'export', '--cert', chain, '--key', chain, '--out', p12]).catch(
      (e: unknown) => e,
    );
    expect((missing as { stderr: string }).stderr).toMatch(
      /needs a password: pass --password-env NAME or --password-file FILE/,
    );
  });

  it('cert dev writes a CA and a localhost certificate, and keeps valid ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-dev-'));
    const first = await cli(['cert', 'dev', '--out', dir]);
    expect(first.stdout).toMatch(/wrote .*dev-ca\.pem/);
    const again = await cli(['cert', 'dev', '--out', dir]);
    expect(again.stdout).toMatch(/are valid until .*; kept/);
    const [report] = JSON.parse(
      (await cli(['cert', 'inspect', '--json', join(dir, 'localhost.pem')])).stdout,
    );
    expect(report.subjectAltNames).toMatchObject({ dns: ['localhost'], ip: ['127.0.0.1', '::1'] });
  });

  it("'npx tlskit cert dev' then the README's demo command: the demo says it uses those certificates", async () => {
    // Into a temporary directory: tests never write into the clone (certs/ is the user's).
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-demo-certs-'));
    await run('npx', ['--no-install', 'tlskit', 'cert', 'dev', '--out', dir]);
    const { stdout } = await run('npm', ['run', '--silent', 'demo'], {
      timeout: 30_000,
      env: { ...process.env, TLSKIT_EXAMPLES_CERTS: dir },
    });
    expect(stdout).toContain(`certificates: ${dir}/ (npx tlskit cert dev)`);
    expect(stdout).toMatch(/echoed: hello over TLS/);
  });
});
