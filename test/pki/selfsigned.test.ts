/**
 * tlskit checked against an independent generator: selfsigned (built on @peculiar/x509 too, but
 * with its own choices and defaults).
 */
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { CertificateError, clientContext, connect, serve, serverContext, startTls } from 'tlskit';
import { createCA, inspect } from 'tlskit/pki';
import { memoryPair, serveFixture } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

const localhost = [
  {
    name: 'subjectAltName' as const,
    altNames: [
      { type: 2 as const, value: 'localhost' },
      { type: 7 as const, ip: '127.0.0.1' },
    ],
  },
];

async function greet(cert: string, key: string, trust: string) {
  const server = await serve({ host: '127.0.0.1', port: 0, tls: serverContext({ cert, key }) }, async (c) => {
    await c.write('ok\n');
  });
  try {
    const conn = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: clientContext({ trust }),
      serverName: 'localhost',
    });
    const line = await conn.readLine();
    await conn.close();
    return line;
  } finally {
    await server.close();
  }
}

describe('selfsigned, an independent generator', () => {
  it('signs a leaf with a tlskit CA, and tlskit verifies it in a real handshake', async () => {
    const ca = await createCA({ keyType: 'rsa-2048' });
    const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
      algorithm: 'sha256',
      keySize: 2048,
      ca: { key: ca.keyPem, cert: ca.certPem },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'extKeyUsage', serverAuth: true },
        ...localhost,
      ],
    });
    expect(new X509Certificate(leaf.cert).checkIssued(ca.certificate)).toBe(true);
    expect(await greet(leaf.cert, leaf.private, ca.trust)).toBe('ok');
  });

  it('makes a self-signed certificate that tlskit reads the same way', async () => {
    const made = await generate([{ name: 'commonName', value: 'localhost' }], {
      algorithm: 'sha256',
      keyType: 'ec',
      extensions: localhost,
    });
    const report = inspect(made.cert);
    expect(report.subject).toBe('CN=localhost');
    expect(report.subjectAltNames.dns).toEqual(['localhost']);
    expect(report.subjectAltNames.ip).toEqual(['127.0.0.1']);
    expect(report.fingerprintSha256.replaceAll(':', '').toLowerCase()).toBe(
      new X509Certificate(made.cert).fingerprint256.replaceAll(':', '').toLowerCase(),
    );
    expect(report.selfSigned).toBe(true);
    expect(await greet(made.cert, made.private, made.cert)).toBe('ok');
  });

  it('a SHA-1 signature from it (its documented default) is rejected as WEAK_SIGNATURE', async () => {
    const ca = await createCA({ keyType: 'rsa-2048' });
    const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
      algorithm: 'sha1',
      ca: { key: ca.keyPem, cert: ca.certPem },
      extensions: localhost,
    });
    expect(inspect(leaf.cert).signatureAlgorithm).toBe('sha1WithRSAEncryption');
    // tlskit's own contexts refuse to present such a chain; the fixture server is a plain node:tls one.
    const fixture = await serveFixture({ chainPem: leaf.cert, keyPem: leaf.private });
    const error = await connect({
      host: fixture.host,
      port: fixture.port,
      tls: clientContext({ trust: ca.trust }),
      serverName: 'localhost',
    }).catch((e: unknown) => e);
    await fixture.close();
    expect(error).toBeInstanceOf(CertificateError);
    expect(error).toMatchObject({ code: 'WEAK_SIGNATURE', depth: 0 });
  });

  it('its client certificate is signed by a server certificate that is not a CA: tlskit says NOT_A_CA', async () => {
    const made = await generate([{ name: 'commonName', value: 'localhost' }], {
      algorithm: 'sha256',
      clientCertificate: { cn: 'selfsigned client' },
      extensions: localhost,
    });
    expect(inspect(made.cert).isCA).toBe(false);
    const [a, b] = memoryPair();
    const [serverSide] = await Promise.allSettled([
      startTls(b, {
        context: serverContext({
          cert: made.cert,
          key: made.private,
          clientAuth: 'required',
          trust: made.cert,
        }),
      }),
      startTls(a, {
        context: clientContext({
          trust: made.cert,
          cert: made.clientcert! + made.cert,
          key: made.clientprivate!,
        }),
        serverName: 'localhost',
      }),
    ]);
    expect((serverSide as PromiseRejectedResult).reason).toMatchObject({ code: 'NOT_A_CA', depth: 1 });
  });
});
