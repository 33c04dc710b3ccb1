/**
 * A CA made elsewhere (openssl here) and loaded with loadCA: what tlskit issues under it must chain
 * to it as openssl sees it, whatever key identifier that CA chose for itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadCA } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('loadCA of a CA that openssl made', () => {
  it('leaves and CRLs carry that CA’s own key identifier, so openssl chains them to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-foreign-ca-'));
    const at = (name: string) => join(dir, name);
    // A key identifier that is not the SHA-1 of the key, as some CAs (and RFC 7093's methods) make.
    await run('openssl', [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '30', '-subj', '/CN=Foreign Root'],
      ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      ...['-addext', 'subjectKeyIdentifier=0102030405', '-addext', 'authorityKeyIdentifier=keyid:always'],
    ]);
    const ca = await loadCA({
      certPem: readFileSync(at('ca.pem'), 'utf8'),
      keyPem: readFileSync(at('ca.key'), 'utf8'),
    });
    const leaf = await ca.issue({ hosts: ['leaf.test'] });
    writeFileSync(at('leaf.pem'), leaf.certPem);
    const verified = await run('openssl', ['verify', '-CAfile', at('ca.pem'), at('leaf.pem')]);
    expect(verified.stdout).toMatch(/leaf\.pem: OK/);
    const text = (
      await run('openssl', ['x509', '-in', at('leaf.pem'), '-noout', '-ext', 'authorityKeyIdentifier'])
    ).stdout;
    expect(text).toMatch(/01:02:03:04:05/);
    // The CRL too: openssl finds it for the CA by the same identifier, and sees the leaf revoked.
    ca.revoke(leaf);
    writeFileSync(at('ca.crl'), await ca.crlPem());
    const checked = await run('openssl', [
      'verify',
      '-crl_check',
      '-CAfile',
      at('ca.pem'),
      '-CRLfile',
      at('ca.crl'),
      at('leaf.pem'),
    ]).catch((error: { stdout: string; stderr: string }) => error);
    expect(`${checked.stdout}${checked.stderr}`).toMatch(/certificate revoked/);
  });
});
