import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { ExtendedKeyUsageExtension, X509Certificate as X509Cert, X509Crl } from '@peculiar/x509';
import { clientContext, connect, serve } from 'tlskit';
import {
  checkChainOrder,
  createCA,
  defects,
  exportPkcs12,
  importPkcs12,
  inspect,
  inspectAll,
  KEY_TYPES,
} from 'tlskit/pki';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'tlskit-pki-'));
const file = (name: string, content: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('inspect: self-signed', () => {
  it('a leaf that signed itself (no CA key usage) is self-signed too, as openssl reports it', async () => {
    const fixture = await defects.find((defect) => defect.name === 'self-signed')!.build();
    const leaf = fixture.chainPem.slice(0, fixture.chainPem.indexOf('-----END CERTIFICATE-----') + 26);
    expect(inspect(leaf)).toMatchObject({ isCA: false, selfSigned: true });
    const ca = await createCA();
    expect(inspect((await ca.issue({ hosts: ['a.test'] })).certPem).selfSigned).toBe(false);
  });
});

describe('createCA and issue', () => {
  it('an ECDSA P-256 CA by default; leaves carry every kind of host', async () => {
    const ca = await createCA();
    expect(inspect(ca.certPem)).toMatchObject({
      isCA: true,
      pathLength: null,
      key: { type: 'ecdsa', curve: 'P-256' },
      selfSigned: true,
    });
    const leaf = await ca.issue({
      hosts: ['localhost', '*.example.test', '127.0.0.1', '::1', 'ops@example.test'],
    });
    const report = inspect(leaf.certPem);
    expect(report.subjectAltNames).toEqual({
      dns: ['localhost', '*.example.test'],
      ip: ['127.0.0.1', '::1'],
      email: ['ops@example.test'],
      uri: [],
    });
    expect(report.subject).toBe('CN=localhost');
    expect(report.isCA).toBe(false);
    expect(report.extendedKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(report.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(leaf.certPem.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    expect(leaf.chainPem).toBe(leaf.certPem);
    expect(ca.trust).toBe(ca.certPem);
  });

  it('mints every key type, and a TLS handshake accepts each', async () => {
    for (const keyType of KEY_TYPES.filter((type) => type !== 'rsa-4096')) {
      const ca = await createCA({ keyType });
      const leaf = await ca.issue({ hosts: ['localhost'], keyType });
      expect(inspect(leaf.certPem).key.type).toBe(keyType.split('-')[0]);
      const server = await serve({ host: '127.0.0.1', port: 0, tls: leaf.serverContext() }, async (c) => {
        await c.write(`${keyType}\n`);
      });
      const conn = await connect({
        host: '127.0.0.1',
        port: server.address.port,
        tls: clientContext({ trust: ca.trust }),
        serverName: 'localhost',
      });
      expect(await conn.readLine()).toBe(keyType);
      await conn.close();
      await server.close();
    }
  });

  it('RSA 4096 keys have 4096 bits', async () => {
    const ca = await createCA({ keyType: 'rsa-4096' });
    expect(inspect(ca.certPem).key).toEqual({ type: 'rsa', bits: 4096 });
  });

  it('intermediates decrement the path length and refuse to go below zero', async () => {
    const root = await createCA({ pathLength: 1, subject: { commonName: 'Root', organization: 'tlskit' } });
    expect(inspect(root.certPem)).toMatchObject({ subject: 'O=tlskit, CN=Root', pathLength: 1 });
    const intermediate = await root.intermediate();
    expect(intermediate.pathLength).toBe(0);
    expect(inspect(intermediate.certPem)).toMatchObject({
      isCA: true,
      pathLength: 0,
      issuer: 'O=tlskit, CN=Root',
    });
    await expect(intermediate.intermediate()).rejects.toThrow(/path length 0, so no CA may sit below it/);
    await expect(root.intermediate({ pathLength: 5 })).rejects.toThrow(
      /exceeds what the parent allows below it \(0\)/,
    );
    const leaf = await intermediate.issue({ hosts: ['localhost'] });
    expect(leaf.chainPem).toBe(leaf.certPem + intermediate.certPem);
    expect(intermediate.trust).toBe(root.certPem);
    expect(checkChainOrder(leaf.chainPem + root.certPem)).toEqual({ ok: true, problems: [] });
    expect(checkChainOrder(intermediate.certPem + leaf.certPem)).toMatchObject({
      ok: false,
      problems: [
        expect.stringMatching(/^the certificate at depth 0 \(.*\) is not issued by the one at depth 1$/),
      ],
    });
    expect(checkChainOrder(leaf.certPem + leaf.certPem).problems).toContain(
      'the certificate at depth 1 was sent before',
    );
    const verify = await run('openssl', [
      'verify',
      '-CAfile',
      file('root.pem', root.certPem),
      '-untrusted',
      file('int.pem', intermediate.certPem),
      file('leaf.pem', leaf.certPem),
    ]);
    expect(verify.stdout).toMatch(/: OK/);
  });

  it('usage chooses the extended key usages; extra EKUs are added', async () => {
    const ca = await createCA();
    expect(
      inspect((await ca.issue({ hosts: ['a.test'], usage: 'server' })).certPem).extendedKeyUsage,
    ).toEqual(['serverAuth']);
    const client = await ca.issue({
      subject: 'robot',
      usage: 'client',
      extendedKeyUsages: ['1.3.6.1.5.5.7.3.3'],
    });
    expect(inspect(client.certPem)).toMatchObject({
      subject: 'CN=robot',
      extendedKeyUsage: ['clientAuth', 'codeSigning'],
    });
  });

  it('rejects bad input with the field and the reason', async () => {
    const ca = await createCA();
    await expect(ca.issue({ hosts: ['not a host!'] })).rejects.toThrow(
      /`hosts` entry "not a host!" is not a DNS name, a '\*\.' wildcard, an IP address or an email address/,
    );
    await expect(createCA({ keyType: 'dsa' as never })).rejects.toThrow(
      /`keyType` must be one of ecdsa-p256/,
    );
    await expect(ca.issue({ validity: { days: -1 } })).rejects.toThrow(
      /`validity.days` must be a positive number/,
    );
    expect(() => ca.revoke('xyz')).toThrow(
      /pass an issued certificate, its PEM, or its serial number in hex/,
    );
    await expect(ca.issue({ hosts: ['jürgen@example.com'] })).rejects.toThrow(
      /the part before @ must be ASCII/,
    );
    await expect(createCA({ nameConstraints: { permitted: ['*.example.com'] } })).rejects.toThrow(
      /`nameConstraints.permitted\[0\]` "\*\.example\.com" is a wildcard; .* so write "example\.com"/,
    );
    await expect(createCA({ nameConstraints: { excluded: ['a..b'] } })).rejects.toThrow(
      /`nameConstraints.excluded\[0\]` "a\.\.b" is neither a DNS name/,
    );
  });

  it('canonical names: one SAN per name, IDNA domains in email addresses too, revoke by PEM', async () => {
    const ca = await createCA({ nameConstraints: { permitted: ['bücher.example', '.test'] } });
    const leaf = await ca.issue({ hosts: ['a.test', 'A.test', 'a.test', 'user@bücher.example'] });
    const x509 = new X509Certificate(leaf.certPem);
    expect(x509.subjectAltName).toBe('DNS:a.test, email:user@xn--bcher-kva.example');
  });

  it('revoke() takes the PEM of an issued certificate too', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['bad.test'] });
    ca.revoke(leaf.certPem);
    const args = ['verify', '-crl_check', '-CRLfile', file('crl.pem', await ca.crlPem())];
    const rejected = await run('openssl', [
      ...args,
      '-CAfile',
      file('ca.pem', ca.certPem),
      file('leaf.pem', leaf.certPem),
    ]).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${rejected.stdout}${rejected.stderr}`).toMatch(/certificate revoked/);
  });

  it('revoke() and crlPem(): the CRL lists the serial and openssl rejects the certificate', async () => {
    const ca = await createCA();
    const good = await ca.issue({ hosts: ['good.test'] });
    const bad = await ca.issue({ hosts: ['bad.test'] });
    ca.revoke(bad, { reason: 'keyCompromise' });
    const crl = await ca.crlPem();
    expect(crl).toMatch(/^-----BEGIN X509 CRL-----\n[\s\S]+-----END X509 CRL-----\n$/);
    const args = (leaf: string) => [
      'verify',
      '-crl_check',
      '-CRLfile',
      file('crl.pem', crl),
      '-CAfile',
      file('ca.pem', ca.certPem),
      file('leaf.pem', leaf),
    ];
    expect((await run('openssl', args(good.certPem))).stdout).toMatch(/: OK/);
    const rejected = await run('openssl', args(bad.certPem)).catch(
      (e: { stdout: string; stderr: string }) => e,
    );
    expect(`${rejected.stdout}${rejected.stderr}`).toMatch(/certificate revoked/);
    // The revocation is not in the CRL's future: revocationDate is no later than thisUpdate.
    const parsed = new X509Crl(crl);
    const entry = parsed.entries.find((e) => e.serialNumber === bad.serial)!;
    expect(entry.revocationDate.getTime()).toBeLessThanOrEqual(parsed.thisUpdate.getTime());
  });

  it('revoke() takes an intermediate CA itself, as it takes an issued leaf', async () => {
    const root = await createCA();
    const intermediate = await root.intermediate();
    root.revoke(intermediate, { reason: 'caCompromise' });
    const crl = new X509Crl(await root.crlPem());
    expect(crl.entries.map((entry) => entry.serialNumber.toLowerCase().replace(/^0+/, ''))).toEqual([
      intermediate.serial.replace(/^0+/, ''),
    ]);
  });

  it('lists each extended key usage once, even when `usage` and `extendedKeyUsages` both name it', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({
      hosts: ['eku.test'],
      usage: 'server',
      extendedKeyUsages: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.3'],
    });
    const eku = new X509Cert(leaf.certPem).getExtension(ExtendedKeyUsageExtension);
    expect(eku?.usages).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.3']);
  });

  it('an ECDSA CA plus a leaf is fast enough to mint per test suite', async () => {
    // Measured in bench/; here only that repeated minting works and yields distinct serials.
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const ca = await createCA();
      serials.add((await ca.issue({ hosts: ['localhost'] })).serial);
    }
    expect(serials.size).toBe(20);
  });
});

describe('PKCS#12', () => {
  it('round-trips through Node, openssl pkcs12, and back into tlskit', async () => {
    const root = await createCA();
    const intermediate = await root.intermediate();
    const leaf = await intermediate.issue({ hosts: ['localhost'] });
    const p12 = leaf.toPkcs12('s3cret pass');
    // Node reads it as a server identity.
    const server = await serve(
      {
        host: '127.0.0.1',
        port: 0,
        tls: (await import('tlskit')).serverContext({ pfx: p12, passphrase: 's3cret pass' }),
      },
      async (c) => {
        await c.write('from pfx\n');
      },
    );
    const conn = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: clientContext({ trust: root.trust }),
      serverName: 'localhost',
    });
    expect(await conn.readLine()).toBe('from pfx');
    await conn.close();
    await server.close();
    // openssl reads it, with the modern algorithms we wrote.
    const info = await run('openssl', [
      'pkcs12',
      '-in',
      file('leaf.p12', p12),
      '-passin',
      'pass:s3cret pass',
      '-info',
      '-noout',
    ]);
    // What OpenSSL 3 writes by default: certificates encrypted too, not only the key.
    expect(info.stderr).toMatch(/MAC: sha256/);
    expect(info.stderr).toMatch(
      /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256\nCertificate bag\nCertificate bag\n/,
    );
    expect(info.stderr).toMatch(
      /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256/,
    );
    expect(info.stderr).not.toMatch(/PKCS7 Data\nCertificate bag/);
    const dumped = await run('openssl', [
      'pkcs12',
      '-in',
      file('leaf.p12', p12),
      '-passin',
      'pass:s3cret pass',
      '-nodes',
    ]);
    expect(dumped.stdout).toContain(leaf.certPem.trim().split('\n')[1]);
    // Back into tlskit.
    const back = importPkcs12(p12, 's3cret pass');
    expect(back.chainPem).toBe(leaf.chainPem);
    // Without a friendlyName of its own, the bundle names the key after the leaf's subject CN.
    expect(back.friendlyName).toBe(inspect(leaf.certPem).subject.replace(/^.*CN=/, ''));
    expect(importPkcs12(leaf.toPkcs12('pw', { friendlyName: 'web server' }), 'pw').friendlyName).toBe(
      'web server',
    );
    // The CN as written, not the escaped text of Node's `subject` (a comma, quotes).
    const punctuated = await intermediate.issue({ hosts: ['x.example'], subject: 'Acme, Inc. "x"' });
    expect(importPkcs12(punctuated.toPkcs12('pw'), 'pw').friendlyName).toBe('Acme, Inc. "x"');
    expect(
      new X509Certificate(back.certPem).checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(back.keyPem),
      ),
    ).toBe(true);
    expect(() => importPkcs12(p12, 'wrong')).toThrow(
      /cannot open the bundle \(wrong password, or a damaged file\)/,
    );
    expect(() => exportPkcs12({ certPem: leaf.certPem, keyPem: leaf.keyPem, password: '' })).toThrow(
      /`password` is required/,
    );
  });

  it('imports a bundle that openssl made (RSA, with its default algorithms)', async () => {
    const ca = await createCA({ keyType: 'rsa-2048' });
    const leaf = await ca.issue({ hosts: ['localhost'], keyType: 'rsa-2048' });
    /** `openssl pkcs12 -export` of the leaf with `extra` arguments; the bundle's bytes. */
    const opensslBundle = async (name: string, extra: string[]) => {
      const out = join(dir, name);
      const key = file('l.key', leaf.keyPem);
      await run('openssl', [
        'pkcs12',
        '-export',
        '-in',
        file('l.pem', leaf.chainPem),
        '-inkey',
        key,
        ...extra,
        '-passout',
        'pass:pw',
        '-out',
        out,
      ]);
      return readFileSync(out);
    };
    const named = ['-certfile', file('c.pem', ca.certPem), '-name', 'mail gateway'];
    const contents = importPkcs12(await opensslBundle('openssl.p12', named), 'pw');
    expect(contents.certPem).toBe(leaf.certPem);
    expect(contents.chainPem).toBe(leaf.certPem + ca.certPem);
    expect(contents.friendlyName).toBe('mail gateway');
    tls.createSecureContext({ cert: contents.chainPem, key: contents.keyPem });
    // openssl without -name gives the key no name at all.
    expect(importPkcs12(await opensslBundle('unnamed.p12', []), 'pw').friendlyName).toBeNull();
  });
});

describe('inspect', () => {
  it('reports validity, key, fingerprint, SPKI pin and constraints', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const ca = await createCA({ keyType: 'rsa-2048', validity: { notBefore, days: 10 }, pathLength: 2 });
    const report = inspect(ca.certPem);
    expect(report.notBefore).toEqual(notBefore);
    expect(report.notAfter).toEqual(new Date('2030-01-11T00:00:00Z'));
    expect(report.key).toEqual({ type: 'rsa', bits: 2048 });
    expect(report.signatureAlgorithm).toBe('sha256WithRSAEncryption');
    expect(report.fingerprintSha256).toBe(new X509Certificate(ca.certPem).fingerprint256);
    expect(report.spkiPin).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
    expect(report.keyUsage).toEqual(['digitalSignature', 'keyCertSign', 'cRLSign']);
    expect(report.pathLength).toBe(2);
    expect(inspectAll(ca.certPem + ca.certPem)).toHaveLength(2);
    expect(() => inspect('nothing here')).toThrow(/no PEM certificate found/);
  });
});
