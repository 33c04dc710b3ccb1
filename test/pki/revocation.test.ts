/** Revocation and CRLs: what ca.revoke() accepts and what ca.crlPem() signs, read back by openssl. */
import { createCA } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';
import { openssl, tempFile } from './openssl.js';

async function crlText(crl: string): Promise<string> {
  const result = await openssl(['crl', '-noout', '-text', '-in', tempFile('crl.pem', crl)]);
  if (result.failed) throw new Error(`openssl crl failed: ${result.stderr}`);
  return result.stdout;
}

const revokedSerials = (text: string) =>
  [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => match[1]);

describe('ca.crlPem()', () => {
  it('refuses a `days` that is not a positive finite number', async () => {
    const ca = await createCA();
    for (const days of [-1, 0, Number.NaN, Number.POSITIVE_INFINITY, '7']) {
      await expect(ca.crlPem({ days: days as number })).rejects.toThrow(
        new RegExp(`crlPem: \`days\` must be a positive number of days, got "?${String(days)}"?;`),
      );
    }
  });

  it('makes nextUpdate `days` after thisUpdate', async () => {
    const ca = await createCA();
    const text = await crlText(await ca.crlPem({ days: 2 }));
    const last = Date.parse(/Last Update: (.+)/.exec(text)![1]!);
    const next = Date.parse(/Next Update: (.+)/.exec(text)![1]!);
    expect(next - last).toBe(2 * 86_400_000);
  });

  it('carries a cRLNumber that grows with every CRL the CA signs', async () => {
    const ca = await createCA();
    const other = await createCA();
    const numbers = [];
    for (let i = 0; i < 3; i++) {
      numbers.push(Number(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(await crlText(await ca.crlPem()))?.[1]));
    }
    expect(numbers).toEqual([1, 2, 3]);
    expect(await crlText(await other.crlPem())).toMatch(/X509v3 CRL Number:\s*\n\s*1\n/);
  });
});

describe('ca.revoke()', () => {
  it('takes a serial with leading zeros or in either case as the same certificate', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['a.test'] });
    ca.revoke(`00${leaf.serial}`);
    ca.revoke(leaf.serial.toUpperCase());
    ca.revoke(leaf, { reason: 'keyCompromise' });
    const text = await crlText(await ca.crlPem());
    expect(revokedSerials(text)).toEqual([leaf.serial.toUpperCase()]);
    // The first revocation stands: revoking again changes nothing.
    expect(text).not.toMatch(/Key Compromise/);
  });

  it('lists a serial whose top bit is set as the positive number it is', async () => {
    const ca = await createCA();
    ca.revoke('ff01');
    ca.revoke('0000AB');
    expect(revokedSerials(await crlText(await ca.crlPem()))).toEqual(['FF01', 'AB']);
  });
});
