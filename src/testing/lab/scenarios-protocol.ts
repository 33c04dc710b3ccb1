/**
 * Protocol versions and cipher suites a strict client must refuse, served by node:tls at OpenSSL
 * security level 0, plus CBC with SHA-1, which most clients still accept. Each server has an RSA
 * 2048 leaf (one key for all: the key is not the point), so RSA, DHE-RSA and ECDHE-RSA suites can
 * all be offered.
 */
import { labLeaf, served } from './chains.js';
import type { Expectation, LabMaterials, Scenario, ServerTls } from './types.js';
import { cannotServe, dhParamsPem, modpGroup, probePrime512 } from './weak-tls.js';

/** A scenario whose server offers only `settings`; unavailable when node:tls cannot serve them. */
export function offering(
  name: string,
  group: 'protocol' | 'control',
  expected: Expectation,
  description: string,
  settings: () => ServerTls,
): Scenario {
  return {
    name,
    group,
    expected,
    description,
    async build(materials: LabMaterials) {
      const tls = settings();
      const refused = cannotServe(tls);
      if (refused) return { unavailable: refused };
      const keys = materials.rsaLeafKeys();
      const leaf = await labLeaf(await materials.root(), { keyType: 'rsa-2048' }, { keys: await keys });
      return served(leaf, { tls });
    },
  };
}

const TLS12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const LEGACY_SUITES = 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA';
const DHE_SUITES = 'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-SHA';

export const protocolScenarios: readonly Scenario[] = [
  offering(
    'tls1.0-only',
    'protocol',
    'reject',
    'the server speaks only TLS 1.0 (RFC 8996 deprecated it in 2021)',
    () => ({ minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: LEGACY_SUITES }),
  ),
  offering(
    'tls1.1-only',
    'protocol',
    'reject',
    'the server speaks only TLS 1.1 (RFC 8996 deprecated it in 2021)',
    () => ({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: LEGACY_SUITES }),
  ),
  offering(
    'dhe-512',
    'protocol',
    'reject',
    // Node refuses any group under 1024 bits, so a random 512-bit prime is enough to find out; if a
    // future Node took it, it would be a 512-bit group all the same, which is the case's point.
    'the server offers only DHE with a 512-bit group (Logjam, 2015: broken in minutes)',
    () => ({ ...TLS12, ciphers: DHE_SUITES, dhparam: dhParamsPem(probePrime512()) }),
  ),
  offering(
    'dhe-1024',
    'protocol',
    'reject',
    'the server offers only DHE with the 1024-bit RFC 2409 group, within reach of precomputation (Logjam); security level 2 wants 2048',
    () => ({ ...TLS12, ciphers: DHE_SUITES, dhparam: modpGroup(1024) }),
  ),
  offering(
    '3des',
    'protocol',
    'reject',
    'the server offers only 3DES (64-bit blocks: Sweet32, 2016)',
    () => ({ ...TLS12, ciphers: 'DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA' }),
  ),
  offering('rc4', 'protocol', 'reject', 'the server offers only RC4 (RFC 7465 prohibits it)', () => ({
    ...TLS12,
    ciphers: 'RC4-SHA:ECDHE-RSA-RC4-SHA',
  })),
  offering(
    'null-cipher',
    'protocol',
    'reject',
    'the server offers only NULL-SHA256: authenticated, but not encrypted at all',
    () => ({ ...TLS12, ciphers: 'NULL-SHA256' }),
  ),
  offering(
    'cbc-sha1',
    'protocol',
    'accept',
    'the server offers only AES-CBC with HMAC-SHA1 over TLS 1.2: legacy, not broken (HMAC needs no collision resistance), so most clients accept it; some have dropped it',
    () => ({ ...TLS12, ciphers: LEGACY_SUITES }),
  ),
];
