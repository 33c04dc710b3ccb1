import { CertificateError, clientContext, connect } from 'tlskit';
import { type ChainFixture, controls, createCA, defects } from 'tlskit/pki';
import { serveFixture } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { opensslVerify } from '../helpers/openssl-verify.js';

async function handshake(fixture: ChainFixture, extra: { pins?: string[] } = {}) {
  const server = await serveFixture(fixture);
  try {
    const context = clientContext({ trust: fixture.trustPem, crl: fixture.crlPem, ...extra });
    const conn = await connect({
      host: server.host,
      port: server.port,
      tls: context,
      serverName: fixture.serverName,
    });
    const greeting = await conn.readLine();
    await conn.close();
    return { greeting, error: null };
  } catch (error) {
    return { greeting: null, error };
  } finally {
    await server.close();
  }
}

/** How `openssl verify` words the failure behind each CertificateError code. */
const OPENSSL_REASONS: Partial<Record<string, RegExp>> = {
  CERT_EXPIRED: /^certificate has expired$/,
  CERT_NOT_YET_VALID: /^certificate is not yet valid$/,
  HOSTNAME_MISMATCH: /^hostname mismatch$/,
  SELF_SIGNED: /^self-signed certificate$/,
  UNKNOWN_ISSUER: /^(self-signed certificate in certificate chain|unable to get local issuer certificate)$/,
  NOT_A_CA: /^invalid CA certificate$/,
  PATH_LENGTH_EXCEEDED: /^path length constraint exceeded$/,
  NAME_CONSTRAINTS: /^(permitted|excluded) subtree violation$/,
  WRONG_PURPOSE: /^unsuitable certificate purpose$/,
  WEAK_SIGNATURE: /^CA signature digest algorithm too weak$/,
  WEAK_KEY: /^EE certificate key too weak$/,
  REVOKED: /^certificate revoked$/,
};

describe('every defect is rejected by a real handshake with its code, and openssl verify agrees', () => {
  for (const defect of defects) {
    it(`${defect.name}: ${defect.description} -> ${defect.expect}`, async () => {
      const fixture = await defect.build();
      const { error } = await handshake(fixture);
      expect(error).toBeInstanceOf(CertificateError);
      const failure = error as CertificateError;
      expect(failure.code).toBe(defect.expect);
      expect(failure.message).toMatch(new RegExp(`^${defect.expect}: `));
      expect(typeof failure.opensslCode).toBe('string');
      expect(failure.depth).toBeGreaterThanOrEqual(0);
      expect(failure.subject).not.toBe('');
      // openssl verify fails for the same reason, at the same certificate.
      const verdict = await opensslVerify(fixture);
      expect(verdict.ok, verdict.output).toBe(false);
      const reported = /error \d+ at (\d+) depth lookup: (.*)/.exec(verdict.output);
      expect(reported?.[2], verdict.output).toMatch(OPENSSL_REASONS[defect.expect]!);
      expect(Number(reported?.[1]), verdict.output).toBe(failure.depth);
    });
  }
});

describe('every good control is accepted, and openssl verify agrees', () => {
  for (const control of controls) {
    it(`${control.name}: ${control.description}`, async () => {
      const fixture = await control.build();
      const { greeting, error } = await handshake(fixture);
      expect(error).toBeNull();
      expect(greeting).toBe('hello');
      const verdict = await opensslVerify(fixture);
      expect(verdict.ok, verdict.output).toBe(true);
    });
  }
});

describe('the failing certificate is named precisely', () => {
  it('an expired intermediate is reported at depth 1 with its subject', async () => {
    const root = await createCA();
    const intermediate = await root.intermediate({
      subject: 'old intermediate',
      validity: {
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      },
    });
    const leaf = await intermediate.issue({ hosts: ['localhost'] });
    const fixture: ChainFixture = {
      name: 'expired intermediate',
      serverName: 'localhost',
      trustPem: root.trust,
      chainPem: leaf.chainPem,
      keyPem: leaf.keyPem,
      leafPem: leaf.certPem,
      untrustedPem: intermediate.certPem,
    };
    const { error } = await handshake(fixture);
    expect(error).toMatchObject({
      code: 'CERT_EXPIRED',
      depth: 1,
      subject: 'CN=old intermediate',
      opensslCode: 'CERT_HAS_EXPIRED',
    });
  });

  it('CRLs joined in one PEM string all count; a CA without a CRL is named as the gap', async () => {
    const root = await createCA({ subject: 'crl root' });
    const intermediate = await root.intermediate({ subject: 'crl intermediate' });
    const leaf = await intermediate.issue({ hosts: ['localhost'] });
    intermediate.revoke(leaf);
    const fixture = (crlPem: string): ChainFixture => ({
      name: 'revoked under an intermediate',
      serverName: 'localhost',
      trustPem: root.trust,
      chainPem: leaf.chainPem,
      keyPem: leaf.keyPem,
      leafPem: leaf.certPem,
      untrustedPem: intermediate.certPem,
      crlPem,
    });
    const [intermediateCrl, rootCrl] = await Promise.all([intermediate.crlPem(), root.crlPem()]);
    const joined = await handshake(fixture(intermediateCrl + rootCrl));
    expect(joined.error).toMatchObject({ code: 'REVOKED', depth: 0, subject: 'CN=localhost' });
    const rootMissing = await handshake(fixture(intermediateCrl));
    expect(rootMissing.error).toMatchObject({
      code: 'CRL_UNAVAILABLE',
      depth: 1,
      subject: 'CN=crl intermediate',
      message: expect.stringMatching(/no CRL from its issuer \(CN=crl root\) was given/),
    });
  });

  it('PIN_MISMATCH when no certificate in the chain has a pinned key; a matching pin passes', async () => {
    const fixture = await controls.find((c) => c.name === 'intermediate')!.build();
    const { error } = await handshake(fixture, {
      pins: ['sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
    });
    expect(error).toMatchObject({ code: 'PIN_MISMATCH', depth: 0, subject: 'CN=localhost' });
    const { inspect } = await import('tlskit/pki');
    const intermediatePin = inspect(fixture.untrustedPem).spkiPin;
    expect((await handshake(fixture, { pins: [intermediatePin] })).greeting).toBe('hello');
  });
});

describe('the cause, not the consequence OpenSSL met last', () => {
  it('with `crl` set, a chain from a CA nobody trusts is UNKNOWN_ISSUER, not a missing CRL', async () => {
    const trusted = await createCA();
    const stranger = await (await createCA()).intermediate();
    const leaf = await stranger.issue({ hosts: ['localhost'] });
    const server = await serveFixture({ chainPem: leaf.chainPem, keyPem: leaf.keyPem });
    try {
      const context = clientContext({ trust: trusted.trust, crl: await trusted.crlPem() });
      await expect(
        connect({ host: '127.0.0.1', port: server.port, tls: context, serverName: 'localhost' }),
      ).rejects.toMatchObject({ code: 'UNKNOWN_ISSUER' });
    } finally {
      await server.close();
    }
  });
});
