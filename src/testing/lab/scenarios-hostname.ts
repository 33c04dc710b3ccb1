/**
 * Host-name matching edge cases (RFC 6125, RFC 9525). Names live under `.localhost`, which RFC 6761
 * reserves for loopback (curl and browsers resolve it themselves); a client whose resolver does not
 * connects to `{addr}` and verifies `{host}`. Odd subjectAltNames are written as given, unchecked.
 */
import { labLeaf, served } from './chains.js';
import type { Expectation, Scenario } from './types.js';

/** A leaf whose subjectAltName holds exactly `dns` (unchecked) and whose CN matches nothing. */
function oddName(
  name: string,
  expected: Expectation,
  description: string,
  dns: string,
  host: string,
): Scenario {
  return {
    name,
    group: 'hostname',
    expected,
    description,
    async build(materials) {
      const leaf = await labLeaf(
        await materials.root(),
        { hosts: [], subject: 'tlskit lab odd name' },
        { altNames: [{ type: 'dns', value: dns }] },
      );
      return served(leaf, { host });
    },
  };
}

export const hostnameScenarios: readonly Scenario[] = [
  {
    name: 'wildcard-two-labels',
    group: 'hostname',
    expected: 'reject',
    description:
      'the leaf is for *.a.localhost, the client connects to x.y.a.localhost: a wildcard covers one label',
    async build(materials) {
      return served(await labLeaf(await materials.root(), { hosts: ['*.a.localhost'] }), {
        host: 'x.y.a.localhost',
      });
    },
  },
  oddName(
    'wildcard-middle',
    'reject',
    'the leaf is for x.*.localhost, reached as x.y.localhost: only the left-most label may be a wildcard',
    'x.*.localhost',
    'x.y.localhost',
  ),
  oddName(
    'wildcard-partial',
    'reject',
    'the leaf is for f*.a.localhost, reached as foo.a.localhost: RFC 9525 allows only a whole-label wildcard (RFC 6125 let clients accept partial ones)',
    'f*.a.localhost',
    'foo.a.localhost',
  ),
  oddName(
    'ip-in-dns-san',
    'reject',
    'the leaf holds 127.0.0.1 as a DNS name, reached by address: an address matches only an iPAddress entry',
    '127.0.0.1',
    '127.0.0.1',
  ),
  {
    name: 'ipv6-san',
    group: 'hostname',
    expected: 'accept',
    description:
      'the leaf is for the address ::1 (an iPAddress entry), reached as [::1] (the server also listens there)',
    async build(materials) {
      return served(await labLeaf(await materials.root(), { hosts: ['::1'] }), { host: '::1', ipv6: true });
    },
  },
  {
    name: 'trailing-dot',
    group: 'hostname',
    expected: 'accept',
    description:
      'the leaf is for localhost, reached as "localhost." (absolute form): the same name, so it matches',
    async build(materials) {
      return served(await labLeaf(await materials.root()), { host: 'localhost.' });
    },
  },
  {
    name: 'idna',
    group: 'hostname',
    expected: 'accept',
    description:
      'the leaf is for xn--bcher-kva.localhost, reached as bücher.localhost: the client must compare the A-label',
    async build(materials) {
      return served(await labLeaf(await materials.root(), { hosts: ['bücher.localhost'] }), {
        host: 'bücher.localhost',
      });
    },
  },
  oddName(
    'upper-case',
    'accept',
    'the leaf is for Mixed-Case.localhost, reached as mixed-CASE.localhost: DNS names compare without case',
    'Mixed-Case.localhost',
    'mixed-CASE.localhost',
  ),
];
