/**
 * tlskit's host name check (src/tls/hostname.ts): stricter than Node's checkServerIdentity, and
 * the same on every Node line. Each row is a certificate's subjectAltName as Node prints it.
 */
import type { PeerCertificate } from 'node:tls';
import { clientContext, serverContext, startTls } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { checkHostname, parseAltNames, referenceIdentity, sniName } from '../../src/tls/hostname.js';

const cert = (subjectaltname: string | undefined, cn = 'cn.example') =>
  ({ subject: { CN: cn }, subjectaltname }) as unknown as PeerCertificate;
const ok = (name: string, sans: string | undefined) => checkHostname(name, cert(sans));

describe('host names tlskit accepts and refuses', () => {
  it.each([
    ['api.example', 'DNS:api.example', true],
    ['API.Example', 'DNS:api.EXAMPLE', true],
    ['api.example.', 'DNS:api.example', true], // one trailing dot: the same fully qualified name
    ['api.example', 'DNS:api.example.', true],
    ['x.a.example', 'DNS:*.a.example', true],
    ['x.y.a.example', 'DNS:*.a.example', false], // a wildcard stands for exactly one label
    ['a.example', 'DNS:*.a.example', false],
    ['foo.a.example', 'DNS:f*.a.example', false], // partial wildcards: Node accepts, RFC 9525 does not
    ['x.y.example', 'DNS:x.*.example', false], // only the left-most label may be a wildcard
    ['x.example', 'DNS:*.example', false], // a wildcard needs two labels after it
    ['bücher.example', 'DNS:xn--bcher-kva.example', true], // compared as A-labels, on every Node line
    ['xn--bcher-kva.example', 'DNS:xn--bcher-kva.example', true],
    ['cn.example', undefined, false], // no subjectAltName: the CN is not a fallback
    ['cn.example', 'email:a@cn.example', false],
    ['127.0.0.1', 'IP Address:127.0.0.1', true],
    ['127.0.0.1', 'DNS:127.0.0.1', false], // an address matches only an address entry
    ['::1', 'IP Address:0:0:0:0:0:0:0:1', true],
    ['0:0::1', 'IP Address:::1', true],
    ['::2', 'IP Address:0:0:0:0:0:0:0:1', false],
    ['localhost', 'IP Address:127.0.0.1', false],
    // Names URL host parsing reads as an address are that address: never a DNS entry's match.
    ['127.1', 'DNS:127.0.0.1', false],
    ['2130706433', 'DNS:127.0.0.1', false],
    ['0x7f.0.0.1', 'DNS:127.0.0.1', false],
    ['127.0.0.1.', 'DNS:127.0.0.1', false],
    ['127.1', 'IP Address:127.0.0.1', true],
    ['a.example', 'X400Name:<unsupported>, DNS:a.example', true], // kinds Node cannot print
  ])('%s against %s: %s', (name, sans, expected) => {
    expect(ok(name, sans)).toBe(expected);
  });

  it('reads entries Node quotes because they hold a separator', () => {
    expect(parseAltNames('DNS:"a, b.example", DNS:c.example, IP Address:10.0.0.1, URI:"x:y"')).toEqual({
      dns: ['a, b.example', 'c.example'],
      ip: ['10.0.0.1'],
    });
    expect(ok('c.example', 'DNS:"a, b.example", DNS:c.example')).toBe(true);
    expect(ok('b.example', 'DNS:"a, b.example"')).toBe(false);
  });

  it('sends SNI for DNS names only, never for an address however it is spelt', () => {
    expect(sniName('api.example')).toBe('api.example');
    for (const address of ['127.0.0.1', '::1', '127.1', '2130706433', '127.0.0.1.']) {
      expect(sniName(address), address).toBeUndefined();
    }
    expect(referenceIdentity('2130706433')).toEqual({ type: 'ip', address: '127.0.0.1' });
    expect(referenceIdentity('Bücher.Example.')).toEqual({ type: 'dns', name: 'xn--bcher-kva.example' });
    expect(referenceIdentity('exa mple')).toBeNull();
  });

  it('sends SNI as the name is verified: A-labels, no trailing dot', () => {
    expect(sniName('Bücher.Example.')).toBe('xn--bcher-kva.example');
    expect(sniName('bank.test.')).toBe('bank.test');
  });

  it('reads an IPv6 address in brackets, as URL.hostname gives it, as the address', () => {
    expect(referenceIdentity('[::1]')).toEqual({ type: 'ip', address: '::1' });
    expect(sniName('[::1]')).toBeUndefined();
    expect(ok('[::1]', 'IP Address:0:0:0:0:0:0:0:1')).toBe(true);
    expect(ok('[::1]', 'DNS:[::1]')).toBe(false);
  });
});

describe('SNI on the wire', () => {
  it("reaches a server's sni map as the verified name, so the right certificate comes back", async () => {
    const ca = await createCA();
    const fallback = await ca.issue({ hosts: ['default.test'] });
    const bucher = await ca.issue({ hosts: ['xn--bcher-kva.test'] });
    const bank = await ca.issue({ hosts: ['bank.test'] });
    const server = serverContext({
      cert: fallback.chainPem,
      key: fallback.keyPem,
      sni: {
        'xn--bcher-kva.test': { cert: bucher.chainPem, key: bucher.keyPem },
        'bank.test': { cert: bank.chainPem, key: bank.keyPem },
      },
    });
    const client = clientContext({ trust: ca.trust });
    for (const [serverName, seen] of [
      ['bücher.test', 'xn--bcher-kva.test'],
      ['bank.test.', 'bank.test'],
    ] as const) {
      const [a, b] = memoryPair();
      const accepted = startTls(b, { context: server, protocol: {} });
      const transport = await startTls(a, { context: client, serverName, protocol: {} });
      expect((await accepted).info.tls?.serverName, serverName).toBe(seen);
      transport.abort();
      b.abort();
    }
  });
});
