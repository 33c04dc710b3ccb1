/**
 * `tlskit connect` against openssl s_server serving every tlskit/pki defect and control: the exit
 * status is the verdict, `--json` carries the CertificateError code, and the hint fits the case.
 * The built command runs in a child process (`npm test` builds dist/ first).
 */
import { controls, defects } from 'tlskit/pki';
import { afterEach, describe, expect, it } from 'vitest';
import { killPeers, opensslServer } from '../helpers/peers.js';
import { scratch, tlskit } from './connect-run.js';

afterEach(killPeers);

/** Mints a defect or control and serves it with s_server; returns the command's arguments for it. */
async function serve(name: string, version: '-tls1_2' | '-tls1_3') {
  const kase = [...defects, ...controls].find((c) => c.name === name)!;
  const fixture = await kase.build();
  const file = scratch();
  const chain = fixture.untrustedPem ? ['-cert_chain', file('chain.pem', fixture.untrustedPem)] : [];
  const server = await opensslServer(['-cipher', 'ALL:@SECLEVEL=0', version, ...chain], {
    cert: file('leaf.pem', fixture.leafPem),
    key: file('key.pem', fixture.keyPem),
  });
  const args = [
    `127.0.0.1:${server.port}`,
    '--ca',
    file('trust.pem', fixture.trustPem),
    '--servername',
    fixture.serverName,
    ...(fixture.crlPem ? ['--crl', file('crl.pem', fixture.crlPem)] : []),
  ];
  return { args, fixture };
}

async function connectJson(args: string[]) {
  const result = await tlskit(['connect', ...args, '--json']);
  return { ...result, report: JSON.parse(result.stdout) };
}

/** What each defect's hint must say: the fix for that defect, not a generic one. */
const HINTS: Record<string, RegExp> = {
  expired: /the server's certificate expired; renew it/,
  'not-yet-valid': /not valid yet; check the clock/,
  'wrong-host': /the certificate is for wrong\.example, not localhost/,
  'self-signed': /signed itself; pass that certificate with --ca/,
  'untrusted-root': /the chain ends at a root that is not in the --ca file/,
  'missing-intermediate':
    /its issuer \(CN=tlskit test intermediate \w+\) is not in the --ca file: if that issuer is an intermediate, add it to the chain file/,
  'intermediate-not-ca': /depth 1 signs others but is not a CA/,
  'path-length-exceeded': /allows fewer CAs below it \(pathLen\)/,
  'name-constraints': /may not issue for localhost \(name constraints\)/,
  'client-auth-only': /lacks serverAuth/,
  'sha1-signature': /broken hash \(SHA-1 or MD5\)/,
  'rsa-1024': /the key is too small/,
  revoked: /the CA revoked this certificate/,
};

describe('tlskit connect: every pki defect served by openssl s_server', () => {
  for (const defect of defects) {
    it(`${defect.name}: exit 1, ${defect.expect}, with a hint (TLS 1.3)`, async () => {
      const { args } = await serve(defect.name, '-tls1_3');
      const { code, report, stderr } = await connectJson(args);
      expect(stderr).toBe('');
      expect(code).toBe(1);
      expect(report.verdict).toMatchObject({ trusted: false, code: defect.expect });
      expect(report.verdict.hint).toMatch(HINTS[defect.name]!);
      expect(report.resumption).toBe('not-tried');
      // The probe still shows what was sent, though verification failed.
      expect(report.chain.length).toBeGreaterThan(0);
      expect(report.tls).toMatchObject({ protocol: 'TLSv1.3', source: 'probe' });
    });
  }

  for (const control of controls) {
    it(`${control.name}: exit 0, trusted, resumption works (TLS 1.3)`, async () => {
      const { args } = await serve(control.name, '-tls1_3');
      const { code, report } = await connectJson(args);
      expect(report.verdict).toEqual({
        trusted: true,
        code: null,
        depth: null,
        subject: null,
        alert: null,
        message: null,
        hint: null,
      });
      expect(code).toBe(0);
      expect(report.tls).toMatchObject({ protocol: 'TLSv1.3', source: 'verified', ocspStapled: false });
      // A session holds the server's chain; Node keeps none over 10 KiB, which 1,000 names pass.
      expect(report.resumption).toBe(control.name === 'many-sans' ? 'no-session' : 'works');
      expect(report.chainOrder.ok).toBe(true);
    });
  }

  it.each(['expired', 'missing-intermediate', 'wrong-host', 'self-signed'])(
    '%s over TLS 1.2 gives the same code, and a key-exchange group',
    async (name) => {
      const { args } = await serve(name, '-tls1_2');
      const { code, report } = await connectJson(args);
      expect(code).toBe(1);
      expect(report.verdict.code).toBe(defects.find((d) => d.name === name)!.expect);
      expect(report.tls).toMatchObject({ protocol: 'TLSv1.2', group: 'X25519' });
    },
  );

  it('a good chain over TLS 1.2: exit 0, and resumption works', async () => {
    const { args } = await serve('intermediate', '-tls1_2');
    const { code, report } = await connectJson(args);
    expect(code).toBe(0);
    expect(report.tls).toMatchObject({ protocol: 'TLSv1.2', source: 'verified' });
    expect(report.resumption).toBe('works');
    expect(report.chain).toHaveLength(2);
  });
});

describe('tlskit connect: the human report', () => {
  it('expired: the verdict, the days, and what to do', async () => {
    const { args } = await serve('expired', '-tls1_3');
    const { code, stdout } = await tlskit(['connect', ...args]);
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /^tlskit connect 127\.0\.0\.1:\d+\n✘ not trusted: CERT_EXPIRED at depth 0 \(CN=localhost/,
    );
    expect(stdout).toContain("fix: the server's certificate expired; renew it and reload the server");
    expect(stdout).toMatch(/valid {4}\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(EXPIRED 1 day ago\)/);
    expect(stdout).toContain('Resumption    not tried');
  });

  it('missing-intermediate: names the issuer the server did not send, and both fixes', async () => {
    const { args } = await serve('missing-intermediate', '-tls1_3');
    const { code, stdout } = await tlskit(['connect', ...args]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/✘ not trusted: UNKNOWN_ISSUER at depth 0 \(CN=localhost/);
    expect(stdout).toMatch(
      /fix: the server sent only its certificate, and its issuer \(CN=tlskit test intermediate \w+\) is not in the --ca file: if that issuer is an intermediate, add it to the chain file, after the certificate; if it is a root, pass it with --ca\n/,
    );
    expect(stdout).toContain('Chain as sent (1 certificate, order ok)');
  });

  it('wrong-host: names what the certificate is for and how to connect with it', async () => {
    const { args } = await serve('wrong-host', '-tls1_3');
    const { code, stdout } = await tlskit(['connect', ...args]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/✘ not trusted: HOSTNAME_MISMATCH at depth 0/);
    expect(stdout).toContain(
      'fix: the certificate is for wrong.example, not localhost; connect with --servername set to one of those',
    );
    expect(stdout).toContain('names    DNS:wrong.example');
  });

  it('a good chain: ✔ trusted, the facts, and the chain in order', async () => {
    const { args, fixture } = await serve('intermediate', '-tls1_3');
    const { code, stdout } = await tlskit(['connect', ...args]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^tlskit connect 127\.0\.0\.1:\d+\n✔ trusted \(verified against --ca .*trust\.pem, name localhost\)/,
    );
    expect(stdout).toMatch(
      /Protocol {6}TLSv1\.3\n {2}Cipher {8}TLS_\w+\n {2}Key exchange {2}X25519\n {2}ALPN {10}\(none\)\n {2}OCSP staple {3}none\n {2}Resumption {4}works/,
    );
    expect(stdout).toContain('Chain as sent (2 certificates, order ok)');
    expect(fixture.chainPem).toBeTruthy();
  });
});
