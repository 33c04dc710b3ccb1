import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipBytes } from '../../src/transport/ip.js';
import {
  crc32c,
  type ProxyHeader,
  ProxyHeaderError,
  ProxyHeaderParser,
  type ProxyParse,
} from '../../src/transport/proxy-header.js';
import { encodeProxyHeader, type ProxyHeaderInit } from '../../src/transport/proxy-header-encode.js';

const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));

/**
 * Feeds `input` to a parser in the given piece sizes (cycled) until it has a header; returns the
 * result and how many bytes were fed.
 */
function feed(
  input: Uint8Array,
  sizes: number[] = [input.length],
  options = {},
): ProxyParse & { fed: number } {
  const parser = new ProxyHeaderParser(options);
  let result: ProxyParse = { done: false };
  let at = 0;
  for (let i = 0; at < input.length && !result.done; i++) {
    const size = Math.max(1, sizes[i % sizes.length]!);
    result = parser.push(input.subarray(at, at + size));
    at = Math.min(at + size, input.length);
  }
  return { ...result, fed: at };
}

function parsed(input: Uint8Array, sizes?: number[]): { header: ProxyHeader; rest: Uint8Array } {
  const result = feed(input, sizes);
  if (!result.done) throw new Error('header incomplete');
  return result;
}

function refusal(input: Uint8Array, options = {}): ProxyHeaderError {
  try {
    feed(input, [input.length], options);
  } catch (error) {
    if (error instanceof ProxyHeaderError) return error;
    throw error;
  }
  throw new Error('the parser accepted it');
}

describe('PROXY protocol version 1', () => {
  it("reads the specification's example and hands back what follows", () => {
    const { header, rest } = parsed(bytes('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n\x16\x03\x01'));
    expect(header).toEqual({
      version: 1,
      command: 'proxy',
      transport: 'tcp4',
      source: { host: '192.168.0.1', port: 56324 },
      destination: { host: '192.168.0.11', port: 443 },
      tlvs: { all: [] },
    });
    expect([...rest]).toEqual([0x16, 0x03, 0x01]);
  });

  it('reads TCP6 and UNKNOWN (whose addresses are ignored)', () => {
    expect(parsed(bytes('PROXY TCP6 2001:db8::1 ::1 1 65535\r\n')).header).toMatchObject({
      transport: 'tcp6',
      source: { host: '2001:db8::1', port: 1 },
      destination: { host: '::1', port: 65535 },
    });
    expect(parsed(bytes('PROXY TCP6 ::FFFF:102:0304 0:0::1 1 2\r\n')).header).toMatchObject({
      source: { host: '::ffff:1.2.3.4' },
      destination: { host: '::1' },
    });
    expect(parsed(bytes('PROXY UNKNOWN ffff::1 whatever\r\n')).header).toMatchObject({
      transport: 'unknown',
      source: null,
      destination: null,
    });
  });

  it.each([
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', 'ERR_PROXY_MALFORMED', /protocol must be TCP4, TCP6 or UNKNOWN/],
    ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', 'ERR_PROXY_MALFORMED', /6 fields separated by single spaces/],
    ['PROXY TCP4 1.2.3.4 ::1 1 2\r\n', 'ERR_PROXY_MALFORMED', /destination address "::1" is not an IPv4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', 'ERR_PROXY_MALFORMED', /source port "65536"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', 'ERR_PROXY_MALFORMED', /source port "01"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'ERR_PROXY_MALFORMED', /does not end with CRLF/],
    [`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`, 'ERR_PROXY_TOO_LARGE', /line of 116 bytes \(at most 107\)/],
    ['GET / HTTP/1.1\r\n', 'ERR_PROXY_MALFORMED', /did not start with a PROXY header \(first bytes 474554/],
  ])('refuses %j with %s', (input, code, message) => {
    const error = refusal(bytes(input));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('a line that never ends is refused once it passes 107 bytes, without waiting for more', () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(bytes('PROXY TCP4 '))).toEqual({ done: false });
    expect(() => parser.push(bytes('1'.repeat(200)))).toThrow(/longer than 107 bytes/);
  });
});

const tcp4 = { source: { host: '1.2.3.4', port: 1 }, destination: { host: '5.6.7.8', port: 2 } };

describe('PROXY protocol version 2', () => {
  it('reads addresses and the well-known TLVs, and checks the CRC-32C', () => {
    const header = encodeProxyHeader({
      version: 2,
      source: { host: '203.0.113.7', port: 40000 },
      destination: { host: '10.0.0.1', port: 443 },
      tlvs: [
        { type: 0x01, value: 'h2' },
        { type: 0x02, value: 'api.example' },
        { type: 0x05, value: Uint8Array.from([1, 2, 3]) },
        { type: 0xea, value: Uint8Array.from([0x01, 0x76, 0x70, 0x63]) },
      ],
      checksum: true,
    });
    const { header: read, rest } = parsed(header);
    expect(read).toMatchObject({
      version: 2,
      command: 'proxy',
      transport: 'tcp4',
      source: { host: '203.0.113.7', port: 40000 },
      destination: { host: '10.0.0.1', port: 443 },
      tlvs: { alpn: 'h2', authority: 'api.example', uniqueId: Uint8Array.from([1, 2, 3]) },
    });
    expect(read.tlvs.all.map((t) => t.type)).toEqual([0x01, 0x02, 0x05, 0xea, 0x03]);
    expect(rest).toHaveLength(0);
    const damaged = Uint8Array.from(header);
    damaged[20] = damaged[20]! ^ 0xff; // a bit of the source address
    expect(refusal(damaged).code).toBe('ERR_PROXY_CHECKSUM');
  });

  it('reads the SSL TLV with its sub-TLVs', () => {
    const ssl = Uint8Array.from([
      0x07,
      0,
      0,
      0,
      0, // client bits, verify = 0 (verified)
      0x21,
      0,
      7,
      ...Buffer.from('TLSv1.3'),
      0x22,
      0,
      5,
      ...Buffer.from('alice'),
    ]);
    const { header } = parsed(encodeProxyHeader({ version: 2, ...tcp4, tlvs: [{ type: 0x20, value: ssl }] }));
    expect(header.tlvs.ssl).toEqual({ client: 7, verified: true, version: 'TLSv1.3', commonName: 'alice' });
  });

  it('the SSL TLV says verified only for a certificate that was presented and passed', () => {
    // HAProxy sends verify = 0 for every connection without a client certificate (seen from
    // HAProxy 2.6 in test/transport/proxy-haproxy.test.ts): that is no verification.
    const verdict = (client: number, verify: number) => {
      const value = Uint8Array.from([client, 0, 0, 0, verify]);
      const { header } = parsed(encodeProxyHeader({ version: 2, ...tcp4, tlvs: [{ type: 0x20, value }] }));
      return header.tlvs.ssl!.verified;
    };
    expect(verdict(0x00, 0)).toBe(false); // no TLS at all
    expect(verdict(0x01, 0)).toBe(false); // TLS, no certificate
    expect(verdict(0x03, 0)).toBe(true); // a certificate on this connection, verified
    expect(verdict(0x05, 0)).toBe(true); // a certificate in the resumed session, verified
    expect(verdict(0x07, 20)).toBe(false); // presented, failed (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
  });

  it('LOCAL (a health check) and an UNSPEC family: the block is discarded, family and TLVs included', () => {
    const local = encodeProxyHeader({ version: 2, command: 'local' });
    expect(parsed(local).header).toEqual({
      version: 2,
      command: 'local',
      transport: 'unknown',
      source: null,
      destination: null,
      tlvs: { all: [] },
    });
    // LOCAL with a family no one defines, and an address block too short for tcp4: still fine.
    const odd = Uint8Array.from([...local.subarray(0, 13), 0x41, 0, 2, 0xaa, 0xbb]);
    expect(parsed(odd).header).toMatchObject({ command: 'local', transport: 'unknown' });
    const unspec = Uint8Array.from([...encodeProxyHeader({ version: 2 }).subarray(0, 14), 0, 2, 0xaa, 0xbb]);
    expect(parsed(unspec).header).toMatchObject({ command: 'proxy', transport: 'unknown', source: null });
  });

  it('an empty piece is no verdict, and TLV values do not keep the read they came in alive', () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(new Uint8Array(0))).toEqual({ done: false });
    const wire = encodeProxyHeader({ version: 2, ...tcp4, tlvs: [{ type: 0x05, value: 'id-1' }] });
    const result = parser.push(wire);
    expect(result.done && result.header.tlvs.uniqueId?.buffer).not.toBe(wire.buffer);
  });

  it('refuses options it does not take, naming them', () => {
    expect(() => new ProxyHeaderParser({ maxsize: 64 } as never)).toThrow(
      /ProxyHeaderParser: unknown option `maxsize`; did you mean `maxSize`\?/,
    );
    expect(() => encodeProxyHeader({ version: 2, tlv: [] } as never)).toThrow(
      /encodeProxyHeader: unknown option `tlv`; did you mean `tlvs`\?/,
    );
  });

  it('refuses bad versions, commands, families, lengths and TLVs, each by name', () => {
    const good = encodeProxyHeader({
      version: 2,
      source: { host: '1.2.3.4', port: 1 },
      destination: { host: '5.6.7.8', port: 2 },
      tlvs: [{ type: 0x01, value: 'h2' }],
    });
    const change = (at: number, value: number) => {
      const copy = Uint8Array.from(good);
      copy[at] = value;
      return copy;
    };
    expect(refusal(change(12, 0x31)).message).toMatch(/version nibble 3, not 2/);
    expect(refusal(change(12, 0x22)).message).toMatch(/command 2 is neither LOCAL \(0\) nor PROXY \(1\)/);
    expect(refusal(change(13, 0x41)).message).toMatch(/byte 0x41 is not one the specification defines/);
    expect(refusal(change(13, 0x21)).message).toMatch(/too short for its tcp6 addresses/);
    expect(refusal(change(30, 0x09)).message).toMatch(/TLV 0x1 at byte 28 says 9 bytes, 2 remain/);
    const huge = encodeProxyHeader({
      version: 2,
      ...tcp4,
      tlvs: [{ type: 0xe0, value: new Uint8Array(5000) }],
    });
    expect(refusal(huge).message).toMatch(/header of 5031 bytes \(at most 4096\)/);
    expect(refusal(good, { versions: [1] })).toMatchObject({ code: 'ERR_PROXY_VERSION' });
    const id = encodeProxyHeader({ version: 2, ...tcp4, tlvs: [{ type: 0x05, value: new Uint8Array(129) }] });
    expect(refusal(id).message).toMatch(/unique id at byte 28 has 129 bytes \(at most 128\)/);
  });

  it('reports an incomplete header as truncated, with how much arrived', () => {
    const parser = new ProxyHeaderParser();
    const header = encodeProxyHeader({
      version: 2,
      source: { host: '::1', port: 1 },
      destination: { host: '::2', port: 2 },
    });
    expect(parser.push(header.subarray(0, 20))).toEqual({ done: false });
    expect(parser.truncated().message).toBe(
      'the connection ended after 20 bytes of an incomplete PROXY header',
    );
  });

  it('CRC-32C is the Castagnoli checksum ("123456789" gives 0xe3069283)', () => {
    expect(crc32c(bytes('123456789'))).toBe(0xe3069283);
  });
});

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6().filter((host) => isIPv6(host));
const port = fc.integer({ min: 0, max: 65_535 });
const init: fc.Arbitrary<ProxyHeaderInit> = fc.oneof(
  fc.record({
    version: fc.constant(1 as const),
    source: fc.record({ host: ipv4, port }),
    destination: fc.record({ host: ipv4, port }),
  }),
  fc.record({
    version: fc.constant(1 as const),
    source: fc.record({ host: ipv6, port }),
    destination: fc.record({ host: ipv6, port }),
  }),
  fc.record({
    version: fc.constant(2 as const),
    source: fc.record({ host: ipv4, port }),
    destination: fc.record({ host: ipv4, port }),
    tlvs: fc.array(
      fc.record({ type: fc.integer({ min: 0xe0, max: 0xef }), value: fc.uint8Array({ maxLength: 300 }) }),
      { maxLength: 5 },
    ),
    checksum: fc.boolean(),
  }),
  fc.record({
    version: fc.constant(2 as const),
    source: fc.record({ host: ipv6, port }),
    destination: fc.record({ host: ipv6, port }),
    checksum: fc.boolean(),
  }),
);
const splits = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 });

describe('PROXY headers, any header in any split', () => {
  it('what encodeProxyHeader writes, the parser reads back, leaving what follows untouched', () => {
    fc.assert(
      fc.property(init, splits, fc.uint8Array({ maxLength: 64 }), (header, sizes, after) => {
        const wire = encodeProxyHeader(header);
        const input = new Uint8Array(wire.length + after.length);
        input.set(wire);
        input.set(after, wire.length);
        const result = feed(input, sizes);
        expect(result.done).toBe(true);
        if (!result.done) return;
        // The same addresses, compared as addresses.
        const same = (got: unknown, sent: { host: string; port: number }) => {
          const { host, port } = got as { host: string; port: number };
          expect(port).toBe(sent.port);
          expect([...ipBytes(host)!], `${host} for ${sent.host}`).toEqual([...ipBytes(sent.host)!]);
        };
        same(result.header.source, header.source!);
        same(result.header.destination, header.destination!);
        // What was fed beyond the header comes back untouched.
        expect([...result.rest]).toEqual([...input.subarray(wire.length, result.fed)]);
      }),
      { numRuns: 400 },
    );
  });

  it('random bytes only ever give a header, "need more", or a ProxyHeaderError; never more than maxSize is held', () => {
    const start = fc.oneof(
      fc.constant(bytes('PROXY ')),
      fc.constant(encodeProxyHeader({ version: 2 }).subarray(0, 12)),
      fc.constant(new Uint8Array(0)),
    );
    fc.assert(
      fc.property(start, fc.uint8Array({ maxLength: 6000 }), splits, (prefix, noise, sizes) => {
        const input = new Uint8Array(prefix.length + noise.length);
        input.set(prefix);
        input.set(noise, prefix.length);
        const parser = new ProxyHeaderParser();
        try {
          for (let at = 0, i = 0; at < input.length; i++) {
            const size = sizes[i % sizes.length]!;
            if (parser.push(input.subarray(at, at + size)).done) return;
            expect(parser.bufferedBytes).toBeLessThanOrEqual(4096 + 40);
            at += size;
          }
        } catch (error) {
          expect(error).toBeInstanceOf(ProxyHeaderError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
