/**
 * Names as they end up in certificates: subjectAltName IP addresses and subject fields, checked by
 * reading the certificate back with inspect() and with openssl.
 */
import { createCA, inspect } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';
import { certificateText } from './openssl.js';

describe('IP addresses in subjectAltName', () => {
  // [as given, as inspect() reports it (RFC 5952), as openssl prints it]
  const cases: Array<[string, string, string]> = [
    ['1.2.3.4', '1.2.3.4', '1.2.3.4'],
    ['::1', '::1', '0:0:0:0:0:0:0:1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4', '0:0:0:0:0:FFFF:102:304'],
    ['::FFFF:10.0.0.1', '::ffff:10.0.0.1', '0:0:0:0:0:FFFF:A00:1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', '64:FF9B:0:0:0:0:C000:221'],
    ['1:2:3:4:5:6:7.8.9.10', '1:2:3:4:5:6:708:90a', '1:2:3:4:5:6:708:90A'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1', '2001:DB8:0:0:0:0:0:1'],
    ['[fe80::abcd]', 'fe80::abcd', 'FE80:0:0:0:0:0:0:ABCD'],
    ['1::', '1::', '1:0:0:0:0:0:0:0'],
  ];

  it('encodes every textual form to the right bytes', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: cases.map(([given]) => given) });
    expect(inspect(leaf.certPem).subjectAltNames.ip).toEqual(cases.map(([, reported]) => reported));
    const text = await certificateText(leaf.certPem);
    const printed = [...text.matchAll(/IP Address:([0-9A-F:.]+)/g)].map((m) => m[1]);
    expect(printed).toEqual(cases.map(([, , openssl]) => openssl));
  });

  it('refuses an IPv6 zone index, which a certificate cannot carry', async () => {
    const ca = await createCA();
    await expect(ca.issue({ hosts: ['fe80::1%eth0'] })).rejects.toThrow(
      /`hosts` entry "fe80::1%eth0" has a zone index \('%eth0'\), which a certificate cannot hold/,
    );
  });

  it('encodes IPv4-in-IPv6 ranges in name constraints', async () => {
    const ca = await createCA({ nameConstraints: { permitted: ['::ffff:10.0.0.0/104', '192.168.0.0/16'] } });
    const text = await certificateText(ca.certPem);
    expect(text).toMatch(/IP:0:0:0:0:0:FFFF:A00:0\/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FF00:0/);
    expect(text).toMatch(/IP:192\.168\.0\.0\/255\.255\.0\.0/);
  });

  it('refuses name constraints that are not DNS names or CIDR ranges, naming the entry', async () => {
    await expect(createCA({ nameConstraints: { permitted: ['10.0.0.1'] } })).rejects.toThrow(
      /`nameConstraints.permitted\[0\]` is an address, not a range: "10.0.0.1"; give it in CIDR form, such as '10.0.0.1\/32'/,
    );
    await expect(createCA({ nameConstraints: { excluded: ['a.test', '10.0.0.0/33'] } })).rejects.toThrow(
      /`nameConstraints.excluded\[1\]` is not a CIDR range: "10.0.0.0\/33"/,
    );
  });
});
