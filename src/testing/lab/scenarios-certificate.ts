/**
 * Certificate shapes beyond tlskit/pki's defects: weak signatures and keys badssl.com serves, a
 * leaf with no subjectAltName, and name constraints on an intermediate, permitted and excluded, for
 * DNS names and IP addresses (the kinds of case bettertls generates).
 */
import type { NameConstraintsOptions } from '../../pki/names.js';
import { LOCALHOST, labIntermediate, labLeaf, served } from './chains.js';
import type { Expectation, LabMaterials, Scenario, ScenarioSetup } from './types.js';

/** A leaf under an intermediate constrained to `constraints`, reached as `host`. */
async function constrained(
  materials: LabMaterials,
  constraints: NameConstraintsOptions,
  hosts: string[],
  host = hosts[0]!,
): Promise<ScenarioSetup> {
  const root = await materials.root();
  const intermediate = await labIntermediate(root, { nameConstraints: constraints });
  return served(await labLeaf(intermediate, { hosts }), { host });
}

function nameConstraint(
  name: string,
  expected: Expectation,
  description: string,
  constraints: NameConstraintsOptions,
  hosts: string[],
): Scenario {
  return {
    name,
    group: 'certificate',
    expected,
    description,
    build: (materials) => constrained(materials, constraints, hosts),
  };
}

export const certificateScenarios: readonly Scenario[] = [
  {
    name: 'sha1-intermediate',
    group: 'certificate',
    expected: 'reject',
    description:
      'the root signed the intermediate with SHA-1 (RSA); SHA-1 collisions are practical (SHAttered, 2017), so no SHA-1 signature below the root is trusted',
    async build(materials) {
      const root = await materials.rsaRoot();
      const intermediate = await labIntermediate(root, {}, { hash: 'SHA-1' });
      return served(await labLeaf(intermediate));
    },
  },
  {
    name: 'md5-signature',
    group: 'certificate',
    expected: 'reject',
    description: 'the CA signed the leaf with MD5 (RSA); MD5 collisions forged a CA in 2008',
    async build(materials) {
      const ca = await materials.rsaRoot();
      return served(await labLeaf(ca, {}, { hash: 'MD5' }));
    },
  },
  {
    name: 'rsa-512',
    group: 'certificate',
    expected: 'reject',
    description:
      "the leaf's key is RSA with 512 bits, factored in hours on rented machines (TLS 1.2: a key that small cannot make TLS 1.3's RSA-PSS signatures)",
    async build(materials) {
      const leaf = await labLeaf(await materials.root(), {}, { keyType: 'rsa-512' });
      return served(leaf, { tls: { maxVersion: 'TLSv1.2' } });
    },
  },
  {
    name: 'no-san',
    group: 'certificate',
    expected: 'reject',
    description:
      'the leaf names localhost only in its subject CN, with no subjectAltName; RFC 9525 (2023) drops the CN fallback RFC 6125 allowed, as browsers did',
    async build(materials) {
      return served(await labLeaf(await materials.root(), { hosts: [], subject: LOCALHOST }));
    },
  },
  nameConstraint(
    'nc-permitted-dns',
    'accept',
    'the intermediate may issue only for localhost (permitted DNS subtree) and its leaf is for localhost',
    { permitted: [LOCALHOST] },
    [LOCALHOST],
  ),
  nameConstraint(
    'nc-excluded-dns',
    'reject',
    'the intermediate may not issue for localhost (excluded DNS subtree), yet its leaf is for localhost',
    { excluded: [LOCALHOST] },
    [LOCALHOST],
  ),
  nameConstraint(
    'nc-san-outside-permitted',
    'reject',
    'the intermediate may issue only for localhost; its leaf also names other.example: every name must fit, not just the one connected to',
    { permitted: [LOCALHOST] },
    [LOCALHOST, 'other.example'],
  ),
  nameConstraint(
    'nc-permitted-ip',
    'accept',
    'the intermediate may issue only for 127.0.0.0/8 (permitted IP subtree); the leaf is for 127.0.0.1, reached by address',
    { permitted: ['127.0.0.0/8'] },
    ['127.0.0.1'],
  ),
  nameConstraint(
    'nc-excluded-ip',
    'reject',
    'the intermediate may not issue for 127.0.0.0/8 (excluded IP subtree), yet its leaf is for 127.0.0.1',
    { excluded: ['127.0.0.0/8'] },
    ['127.0.0.1'],
  ),
  nameConstraint(
    'nc-ip-outside-permitted',
    'reject',
    'the intermediate may issue only for 10.0.0.0/8; its leaf is for 127.0.0.1',
    { permitted: ['10.0.0.0/8'] },
    ['127.0.0.1'],
  ),
];
