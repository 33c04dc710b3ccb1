/**
 * Good controls (a strict client must accept each: a client that rejects them is broken the other
 * way) and client-certificate cases.
 */
import { type CA, kSigner } from '../../pki/ca.js';
import { issueLeaf } from '../../pki/issued.js';
import { keysFromPem } from '../../pki/keys.js';
import { labIntermediate, labLeaf, labRoot, served } from './chains.js';
import { RSA_4096_TEST_KEY } from './rsa-4096-key.js';
import { offering } from './scenarios-protocol.js';
import type { ClientCredentials, LabMaterials, Scenario } from './types.js';
import { modpGroup } from './weak-tls.js';

/** A root and `depth` intermediates below it, top first. */
async function ladder(materials: LabMaterials, depth: number): Promise<CA[]> {
  const cas = [await materials.root()];
  for (let i = 0; i < depth; i++)
    cas.push(await labIntermediate(cas.at(-1)!, { subject: `intermediate ${i + 1}` }));
  return cas;
}

/**
 * A server requiring a client certificate from the lab's client CA, handing the client the one
 * `present` picks. Capped at TLS 1.2, where a refused certificate fails inside the handshake.
 */
function mtls(
  name: string,
  expected: Scenario['expected'],
  description: string,
  present: (client: Awaited<ReturnType<LabMaterials['clientPki']>>) => ClientCredentials,
): Scenario {
  return {
    name,
    group: 'mtls',
    expected,
    description,
    async build(materials) {
      const client = await materials.clientPki();
      return served(await labLeaf(await materials.root()), {
        tls: { maxVersion: 'TLSv1.2' },
        clientAuth: { trustPem: client.ca.certPem, present: present(client) },
      });
    },
  };
}

export const controlScenarios: readonly Scenario[] = [
  {
    name: 'rsa-4096',
    group: 'control',
    expected: 'accept',
    description: 'an RSA 4096 leaf under an ECDSA root',
    async build(materials) {
      // A fixed key (rsa-4096-key.ts): generating one would cost more than the rest of the lab.
      // Its certificate and CA are fresh. The server listens at once and its handshakes wait for
      // the leaf (see ScenarioSetup.credentials), so the rest of the lab need not.
      const root = materials.root();
      const credentials = Promise.all([keysFromPem(RSA_4096_TEST_KEY, 'rsa-4096'), root])
        .then(([keys, issuer]) => labLeaf(issuer, { keyType: 'rsa-4096' }, { keys }))
        .then((leaf) => served(leaf).credentials);
      // Awaited only once its server starts: a failure before then is reported by lab.ready and
      // on each connection, never as an unhandled rejection.
      credentials.catch(() => {});
      return { ...served({ certPem: '', keyPem: '', issuer: await root }), credentials };
    },
  },
  {
    name: 'ecdsa-p384',
    group: 'control',
    expected: 'accept',
    description: 'ECDSA P-384 root and leaf, signed with SHA-384',
    async build() {
      return served(await labLeaf(await labRoot({ keyType: 'ecdsa-p384' }), { keyType: 'ecdsa-p384' }));
    },
  },
  {
    name: 'tls1.2-only',
    group: 'control',
    expected: 'accept',
    description: 'the server speaks only TLS 1.2, with its usual ECDHE and AEAD suites',
    async build(materials) {
      return served(await labLeaf(await materials.root()), {
        tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' },
      });
    },
  },
  {
    name: 'tls1.3-only',
    group: 'control',
    expected: 'accept',
    description: 'the server speaks only TLS 1.3',
    async build(materials) {
      return served(await labLeaf(await materials.root()), {
        tls: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
      });
    },
  },
  offering(
    'dhe-2048',
    'control',
    'accept',
    'the server offers only DHE with the 2048-bit RFC 3526 group: finite-field DH of a safe size is fine',
    () => ({
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: 'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384',
      dhparam: modpGroup(2048),
    }),
  ),
  {
    name: 'chain-4-deep',
    group: 'control',
    expected: 'accept',
    description: 'leaf, three intermediates and the root (at depth 4); the server sends the intermediates',
    async build(materials) {
      const cas = await ladder(materials, 3);
      return served(await labLeaf(cas.at(-1)!));
    },
  },
  {
    name: 'chain-out-of-order',
    group: 'control',
    expected: 'accept',
    description:
      'the server sends leaf, then the top intermediate before the one that issued the leaf; RFC 8446 4.4.2 asks clients to cope',
    async build(materials) {
      const [, top, bottom] = await ladder(materials, 2);
      return served(await labLeaf(bottom!), { chain: [top!.certPem, bottom!.certPem] });
    },
  },
  mtls(
    'mtls-required',
    'accept',
    'the server requires a client certificate from the lab client CA; a client presenting {cert} and {key} gets in (TLS 1.2, so a refusal comes inside the handshake)',
    (client) => client.good,
  ),
  mtls(
    'mtls-expired-client',
    'reject',
    'the server requires a client certificate and refuses the expired one handed as {cert} and {key}: the connection must fail (TLS 1.2, so it fails inside the handshake)',
    (client) => client.expired,
  ),
];

/** The lab's client CA and its two client certificates (made once per lab). */
export async function makeClientPki() {
  const ca = await labRoot({ subject: 'client CA' });
  const good = await issueLeaf(ca, ca[kSigner], { hosts: [], subject: 'tlskit lab client', usage: 'client' });
  const expired = await issueLeaf(ca, ca[kSigner], {
    hosts: [],
    subject: 'tlskit lab expired client',
    usage: 'client',
    validity: {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    },
  });
  return { ca, good, expired };
}
