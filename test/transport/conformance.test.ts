import { conformanceCases, type TransportPairFactory, type TransportTraits } from 'tlskit/testing';
import { describe, it } from 'vitest';
import {
  duplexPairSignalsDestroy,
  duplexRoundTrip,
  memory,
  nodeDuplexPair,
  socketsViaFromDuplex,
  tcpPair,
  unixPair,
} from '../helpers/pairs.js';

const pairs: Array<[string, TransportPairFactory, TransportTraits?]> = [
  ['TCP', tcpPair],
  ['Unix socket', unixPair, { abortIsVisible: false }],
  ['memory, whole chunks', memory()],
  ['memory, byte at a time', memory({ chunkSize: 1 })],
  ['memory, random splits (seed 42)', memory({ seed: 42 })],
  ['memory, random splits and delays (seed 7)', memory({ seed: 7, maxChunkSize: 300, delay: 3 })],
  ['fromDuplex(toDuplex(memory))', duplexRoundTrip()],
  ['fromDuplex(toDuplex(memory)), byte at a time', duplexRoundTrip({ chunkSize: 1 })],
  ['fromDuplex(net.Socket)', socketsViaFromDuplex],
  ['fromDuplex(stream.duplexPair())', nodeDuplexPair, { abortIsVisible: false, queuesWrites: false }],
];

for (const [name, makePair, traits] of pairs) {
  // Node 20 has no duplexPair, and Node 22's never tells one side that the other was destroyed, so
  // the peer of an aborted end waits forever: a property of that medium (README, fromDuplex).
  const skip = makePair === nodeDuplexPair && !duplexPairSignalsDestroy;
  describe.skipIf(skip)(`conformance: ${name}`, () => {
    for (const rule of conformanceCases) {
      it(rule.name, () => rule.run(makePair, traits));
    }
  });
}
