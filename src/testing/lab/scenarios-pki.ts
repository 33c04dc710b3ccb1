/**
 * tlskit/pki's defects and controls, each as a lab scenario: the same fixtures `defects` and
 * `controls` build, served as they are.
 */
import { type ChainFixture, chainCAs, controls, defects } from '../../pki/defects.js';
import type { Scenario, ScenarioSetup } from './types.js';

function setup(fixture: ChainFixture): ScenarioSetup {
  return {
    host: fixture.serverName,
    credentials: { chainPem: fixture.chainPem, keyPem: fixture.keyPem },
    trustPem: fixture.trustPem,
    cas: chainCAs(fixture),
  };
}

export const pkiScenarios: readonly Scenario[] = [
  ...defects.map(
    (defect): Scenario => ({
      name: defect.name,
      group: 'pki-defect',
      description: `${defect.description} (tlskit reports ${defect.expect})`,
      expected: 'reject',
      build: async () => setup(await defect.build()),
    }),
  ),
  ...controls.map(
    (control): Scenario => ({
      name: control.name,
      group: 'pki-control',
      // Ed25519 in TLS (RFC 8422, RFC 8446) is optional: a correct client may not offer it.
      description:
        control.name === 'ed25519'
          ? `${control.description}; a client without Ed25519 support may say UNSUPPORTED`
          : control.description,
      expected: control.name === 'ed25519' ? 'accept-or-unsupported' : 'accept',
      build: async () => setup(await control.build()),
    }),
  ),
];
