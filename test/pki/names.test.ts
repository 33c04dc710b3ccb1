/**
 * Names as they end up in certificates: subjectAltName IP addresses and subject fields, checked by
 * reading the certificate back with inspect() and with openssl.
 */
import { createCA, inspect } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';
import { certificateText, openssl, tempFile } from './openssl.js';

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

  it('refuses an address spelt as a name (127.1, 2130706433), which clients read as the address', async () => {
    const ca = await createCA();
    for (const [given, address] of [
      ['127.1', '127.0.0.1'],
      ['2130706433', '127.0.0.1'],
      ['0x7f.0.0.1', '127.0.0.1'],
    ]) {
      await expect(ca.issue({ hosts: [given!] })).rejects.toThrow(
        `\`hosts\` entry "${given}" is read as the IP address ${address}; give it as "${address}"`,
      );
    }
  });

  it('names the likely slip in a host that is no name: a trailing dot, white space, a URL, a port', async () => {
    const ca = await createCA();
    const fixes: Array<[string, string]> = [
      ['example.com.', 'give it without the trailing dot ("example.com")'],
      [' a.test', 'remove the white space around it ("a.test")'],
      ['https://a.test/', 'give the host name alone, not a URL'],
      ['a.test:8443', 'give it without the port ("a.test")'],
    ];
    for (const [given, fix] of fixes) {
      await expect(ca.issue({ hosts: [given] })).rejects.toThrow(
        `\`hosts\` entry ${JSON.stringify(given)} is not a DNS name, a '*.' wildcard, an IP address or an email address; ${fix}`,
      );
    }
  });

  it('checks the domain of an email address as a DNS name', async () => {
    const ca = await createCA();
    for (const given of ['me@ex_ample.com', 'me@a..test', 'me@-a.test', 'me@a.test.']) {
      await expect(ca.issue({ hosts: [given] })).rejects.toThrow(
        `\`hosts\` entry ${JSON.stringify(given)} is no address a certificate can hold: the part before @ must be ASCII, the domain a DNS name`,
      );
    }
    const leaf = await ca.issue({ hosts: ['me@münchen.test'] });
    expect(inspect(leaf.certPem).subjectAltNames.email).toEqual(['me@xn--mnchen-3ya.test']);
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

/** The subject as openssl prints it with escaping off: one `SN=value` line per field, verbatim. */
async function opensslSubject(pem: string): Promise<string[]> {
  const nameopt = 'utf8,sep_multiline,-esc_msb,-esc_2253,sname';
  const text = await certificateText(pem, ['-subject', '-nameopt', nameopt]);
  const block = /^subject=\n((?: {4}.*\n)+)/m.exec(text)![1]!;
  return block
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(4));
}

describe('subject fields', () => {
  const tricky = {
    country: 'DE',
    locality: ' Zoë 🚀\\ ',
    organization: 'x"y"',
    organizationalUnit: '#abc',
    commonName: 'Acme, Inc. "Test" + CA',
  };

  it('are encoded verbatim, whatever characters they hold', async () => {
    const ca = await createCA({ subject: tricky });
    expect(await opensslSubject(ca.certPem)).toEqual([
      'C=DE',
      'L= Zoë 🚀\\ ',
      'O=x"y"',
      'OU=#abc',
      'CN=Acme, Inc. "Test" + CA',
    ]);
    // inspect() escapes as RFC 4514 does, so the text reads back unambiguously.
    expect(inspect(ca.certPem).subject).toBe(
      'C=DE, L=\\ Zoë 🚀\\\\\\ , O=x\\"y\\", OU=\\#abc, CN=Acme\\, Inc. \\"Test\\" \\+ CA',
    );
  });

  it("name the issuer exactly as the CA's subject, so chains still verify", async () => {
    const root = await createCA({ subject: tricky });
    const intermediate = await root.intermediate({ subject: '#1 "intermediate", +more' });
    const leaf = await intermediate.issue({ hosts: ['a.test'], subject: { commonName: '\\"' } });
    expect(inspect(intermediate.certPem).issuer).toBe(inspect(root.certPem).subject);
    expect(inspect(leaf.certPem)).toMatchObject({
      subject: 'CN=\\\\\\"',
      issuer: inspect(intermediate.certPem).subject,
    });
    const crl = await intermediate.crlPem();
    const verify = await openssl([
      'verify',
      '-crl_check',
      '-CRLfile',
      tempFile('crl.pem', crl),
      '-CAfile',
      tempFile('root.pem', root.certPem),
      '-untrusted',
      tempFile('int.pem', intermediate.certPem),
      tempFile('leaf.pem', leaf.certPem),
    ]);
    expect(verify.stdout).toMatch(/: OK/);
  });

  it('refuses what a subject cannot hold, naming the field', async () => {
    await expect(createCA({ subject: { country: 'DEU' } })).rejects.toThrow(
      /`subject.country` must be a two-letter ISO 3166 code such as 'DE', got "DEU"/,
    );
    await expect(createCA({ subject: { commonName: 'a\uD800b' } })).rejects.toThrow(
      /`subject.commonName` holds an unpaired UTF-16 surrogate/,
    );
    await expect(createCA({ subject: { cn: 'x' } as never })).rejects.toThrow(
      /`subject.cn` is not a subject field; use country, state, locality, organization, organizationalUnit, commonName/,
    );
    await expect(createCA({ subject: 'x'.repeat(65) })).rejects.toThrow(
      /`subject.commonName` must be a string of 1 to 64 characters/,
    );
  });
});
