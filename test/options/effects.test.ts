/**
 * Every documented option of every public function has an effect: for each name a function takes
 * there is a test here that would fail if the option were ignored, and a function that takes a
 * name without such a test fails the first case of its block.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PKI_OPTION_NAMES } from '../../src/pki/option-names.js';
import { READ_LIMIT_OPTIONS, READ_OPTIONS } from '../../src/stream/connection.js';
import { HTTP_CLIENT_OPTION_NAMES, OPEN_OPTION_NAMES } from '../../src/stream/option-names.js';
import { DATAGRAM_PAIR_OPTIONS } from '../../src/testing/datagram-pair.js';
import { SELECTION_OPTIONS } from '../../src/testing/lab/catalogue.js';
import { GRADE_OPTIONS } from '../../src/testing/lab/grader.js';
import { MEMORY_PAIR_OPTIONS } from '../../src/testing/memory-pair.js';
import { RECORDING_OPTIONS } from '../../src/testing/recording-protocol.js';
import { OPTION_NAMES } from '../../src/tls/option-names.js';
import { FROM_DUPLEX_OPTIONS } from '../../src/transport/duplex.js';
import type { OptionNames } from '../../src/transport/options.js';
import { DATAGRAM_ENDPOINT_OPTIONS } from '../../src/transport/udp.js';
import * as connecting from './effects-connect.js';
import * as contexts from './effects-contexts.js';
import * as danger from './effects-danger.js';
import * as datagrams from './effects-datagram.js';
import * as httpClients from './effects-http.js';
import * as lab from './effects-lab.js';
import * as pkiEffects from './effects-pki.js';
import * as listening from './effects-server.js';
import * as testing from './effects-testing.js';
import * as upgrading from './effects-upgrade.js';
import type { EffectTable } from './support.js';

/** ca.intermediate takes createCA's options. */
const pkiNames = { ...PKI_OPTION_NAMES, intermediate: PKI_OPTION_NAMES.createCA };

/** Every public function that takes an options object: its names, and its effect tests. */
const walked: Array<[string, OptionNames, EffectTable]> = [
  ['connect', OPEN_OPTION_NAMES.connect, connecting.effects.connect],
  ['createConnection', OPEN_OPTION_NAMES.createConnection, connecting.effects.createConnection],
  ['createServer', OPEN_OPTION_NAMES.createServer, listening.effects.createServer],
  ['serve', OPEN_OPTION_NAMES.serve, listening.effects.serve],
  ['serveHttp', OPEN_OPTION_NAMES.serveHttp, listening.effects.serveHttp],
  ['tlsConnector', HTTP_CLIENT_OPTION_NAMES.tlsConnector, httpClients.effects.tlsConnector],
  ['tlsDispatcher', HTTP_CLIENT_OPTION_NAMES.tlsDispatcher, httpClients.effects.tlsDispatcher],
  ['tlsAgent', HTTP_CLIENT_OPTION_NAMES.tlsAgent, httpClients.effects.tlsAgent],
  ['startTls', OPTION_NAMES.startTls, upgrading.effects.startTls],
  ['Connection.startTls', OPTION_NAMES['Connection.startTls'], upgrading.effects['Connection.startTls']],
  ['clientContext', OPTION_NAMES.clientContext, contexts.effects.clientContext],
  ['insecureClientContext', OPTION_NAMES.insecureClientContext, contexts.effects.insecureClientContext],
  ['keyLog', OPTION_NAMES.keyLog, danger.effects.keyLog],
  ['serverContext', OPTION_NAMES.serverContext, contexts.effects.serverContext],
  ['serverContext.reload', OPTION_NAMES['serverContext.reload'], contexts.effects['serverContext.reload']],
  ['memoryPair', MEMORY_PAIR_OPTIONS, testing.effects.memoryPair],
  ['createDatagramEndpoint', DATAGRAM_ENDPOINT_OPTIONS, datagrams.effects.createDatagramEndpoint],
  ['datagramPair', DATAGRAM_PAIR_OPTIONS, datagrams.effects.datagramPair],
  ['fromDuplex', FROM_DUPLEX_OPTIONS, testing.effects.fromDuplex],
  ['RecordingProtocol', RECORDING_OPTIONS, testing.effects.RecordingProtocol],
  ['read', READ_OPTIONS, testing.effects.read],
  ['readExactly', READ_OPTIONS, testing.effects.readExactly],
  ['startLab', SELECTION_OPTIONS, lab.effects.startLab],
  ['selectScenarios', SELECTION_OPTIONS, lab.effects.selectScenarios],
  ['gradeClient', GRADE_OPTIONS, lab.effects.gradeClient],
  ['readUntil', READ_LIMIT_OPTIONS, testing.effects.readUntil],
  ['readLine', READ_LIMIT_OPTIONS, testing.effects.readLine],
  ...Object.entries(pkiEffects.effects).map(([name, effects]): [string, OptionNames, EffectTable] => [
    name,
    pkiNames[name as keyof typeof pkiNames],
    effects,
  ]),
];

afterAll(async () => {
  connecting.stopBlackhole();
  httpClients.stopBlackhole();
  await lab.stopLab();
});

for (const [name, names, effects] of walked) {
  describe(`${name}: every option it takes has an effect`, () => {
    it('has an effect test for each option it takes, and none for an option it does not', () => {
      expect(Object.keys(effects).sort()).toEqual([...names.known].sort());
    });
    for (const option of names.known) {
      it(`\`${option}\``, () => {
        const effect = effects[option];
        if (!effect) throw new Error(`${name}: no effect test for \`${option}\``);
        return effect();
      });
    }
  });
}
