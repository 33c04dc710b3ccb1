/** What ca.issue() fills in when the caller leaves it out: the subject, and the validity period. */
import { X509Certificate } from 'node:crypto';
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

const DAY = 86_400_000;

describe('the validity period', () => {
  it('ends with the issuer when the default would outlive it', async () => {
    const ca = await createCA({ validity: { days: 2 } });
    const leaf = await ca.issue({ hosts: ['a.test'] });
    expect(inspect(leaf.certPem).notAfter).toEqual(inspect(ca.certPem).notAfter);
    const root = await createCA({ validity: { days: 30 } });
    const intermediate = await root.intermediate();
    expect(inspect(intermediate.certPem).notAfter).toEqual(inspect(root.certPem).notAfter);
    // Shorter defaults are kept.
    const long = await createCA();
    const year = inspect((await long.issue({ hosts: ['a.test'] })).certPem);
    expect(year.notAfter.getTime() - year.notBefore.getTime()).toBe(365 * DAY);
  });

  it('refuses an explicit period that outlives the issuer, naming both dates', async () => {
    const ca = await createCA({ validity: { days: 2 } });
    const caEnd = inspect(ca.certPem).notAfter.toISOString();
    await expect(ca.issue({ hosts: ['a.test'], validity: { days: 30 } })).rejects.toThrow(
      new RegExp(
        `^issue: \`validity\` ends .*Z, after the issuing CA's notAfter ${caEnd.replace(/\./g, '\\.')}; give a period that ends by then`,
      ),
    );
    await expect(ca.intermediate({ validity: { notAfter: new Date(Date.now() + 3 * DAY) } })).rejects.toThrow(
      /^intermediate: `validity` ends .*, after the issuing CA's notAfter/,
    );
  });

  it('leaves a leaf under an already expired CA valid, so the chain has exactly one defect', async () => {
    const root = await createCA();
    const expired = await root.intermediate({
      validity: { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) },
    });
    const leaf = inspect((await expired.issue({ hosts: ['a.test'] })).certPem);
    expect(leaf.notAfter.getTime()).toBeGreaterThan(Date.now());
  });

  it('refuses `days` together with `notAfter`', async () => {
    const ca = await createCA();
    await expect(
      ca.issue({ hosts: ['a.test'], validity: { days: 10, notAfter: new Date(Date.now() + 5 * DAY) } }),
    ).rejects.toThrow(/^issue: give `validity.days` or `validity.notAfter`, not both/);
  });

  it('names what it got for a date that is not a Date, and how to make one', async () => {
    const ca = await createCA();
    const refusal = (validity: object) =>
      ca.issue({ hosts: ['a.test'], validity: validity as never }).then(
        () => 'accepted',
        (error: Error) => error.message,
      );
    expect(await refusal({ notBefore: '2026-01-01' })).toBe(
      'issue: `validity.notBefore` must be a Date, got the string "2026-01-01"; use new Date("2026-01-01")',
    );
    expect(await refusal({ notAfter: 1_700_000_000_000 })).toBe(
      'issue: `validity.notAfter` must be a Date, got the number 1700000000000; use new Date(1700000000000)',
    );
    expect(await refusal({ notAfter: new Date('soon') })).toBe(
      'issue: `validity.notAfter` must be a Date, got an Invalid Date',
    );
    expect(await refusal({ notAfter: {} })).toBe(
      'issue: `validity.notAfter` must be a Date, got an object (Object)',
    );
  });

  it('shows both dates when notAfter is not after notBefore, and how to ask for an expired one', async () => {
    const ca = await createCA();
    const notBefore = new Date(Date.now() - DAY);
    const notAfter = new Date(Date.now() - 2 * DAY);
    await expect(ca.issue({ hosts: ['a.test'], validity: { notBefore, notAfter } })).rejects.toThrow(
      `issue: \`validity.notAfter\` (${notAfter.toISOString()}) must be after \`validity.notBefore\` (${notBefore.toISOString()}), by a second at least (a certificate holds whole seconds); for an expired certificate give both in the past`,
    );
    // Within one second, the two would be written as the same instant.
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 - 3 * DAY);
    const sameSecond = { notBefore: new Date(at.getTime() + 200), notAfter: new Date(at.getTime() + 800) };
    await expect(ca.issue({ hosts: ['a.test'], validity: sameSecond })).rejects.toThrow(
      /by a second at least/,
    );
  });

  it('refuses dates a certificate cannot hold: before 1950 (read back as 20xx) and after 9999', async () => {
    const refusal = (validity: object) =>
      createCA({ validity: validity as never }).then(
        () => 'accepted',
        (error: Error) => error.message,
      );
    expect(await refusal({ notBefore: new Date('1949-12-31T00:00:00Z'), days: 30 })).toBe(
      'createCA: `validity.notBefore` is 1949-12-31T00:00:00.000Z, which a certificate cannot hold; dates run from 1950-01-01 to 9999-12-31 (RFC 5280: UTCTime reads a year before 1950 as 20xx); give a date from 1950 on',
    );
    expect(await refusal({ days: 3_000_000 })).toMatch(
      /^createCA: `validity.notAfter` is \+?\d{5,}-.*, which a certificate cannot hold; .*; give fewer days$/,
    );
    expect(await refusal({ days: 1e12 })).toMatch(/is beyond any date JavaScript can hold/);
    // An explicit notAfter is not a number of days: the fix says so.
    expect(await refusal({ notAfter: new Date(Date.UTC(10000, 0, 1)) })).toMatch(
      /`validity.notAfter` is \+010000-01-01T00:00:00.000Z, which a certificate cannot hold; .*; give an earlier date$/,
    );
    // The edges themselves are fine, and OpenSSL (node:crypto's X509Certificate) reads them back as written.
    const edges = await createCA({
      validity: { notBefore: new Date('1950-01-01T00:00:00Z'), notAfter: new Date('9999-12-31T23:59:59Z') },
    });
    const read = new X509Certificate(edges.certPem);
    expect([read.validFrom, read.validTo]).toEqual(['Jan  1 00:00:00 1950 GMT', 'Dec 31 23:59:59 9999 GMT']);
  });
});
