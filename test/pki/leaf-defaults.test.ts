/** What ca.issue() fills in when the caller leaves it out: the subject, and the validity period. */
import { createCA, inspect } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';
import { certificateText, openssl, tempFile } from './openssl.js';

const long = `${'a'.repeat(60)}.example.test`; // 73 characters: more than a common name may hold

describe('the default subject', () => {
  it('uses the first host that fits in a common name', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: [long, 'short.test'] });
    expect(inspect(leaf.certPem).subject).toBe('CN=short.test');
    expect(inspect(leaf.certPem).subjectAltNames.dns).toEqual([long, 'short.test']);
  });

  it('is empty when no host fits, with subjectAltName marked critical as RFC 5280 requires', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: [long] });
    expect(inspect(leaf.certPem).subject).toBe('');
    expect(await certificateText(leaf.certPem)).toMatch(/X509v3 Subject Alternative Name: critical/);
    const verify = await openssl([
      'verify',
      '-CAfile',
      tempFile('ca.pem', ca.certPem),
      '-verify_hostname',
      long,
      tempFile('leaf.pem', leaf.certPem),
    ]);
    expect(verify.stdout).toMatch(/: OK/);
  });

  it('still refuses a common name the caller gave that is too long', async () => {
    const ca = await createCA();
    await expect(ca.issue({ hosts: ['a.test'], subject: long })).rejects.toThrow(
      /issue: `subject.commonName` must be a string of 1 to 64 characters/,
    );
  });
});
