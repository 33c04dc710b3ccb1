import { conformanceCases, type TransportPairFactory } from 'tlskit/testing';
import { describe, it } from 'vitest';
import { memory, tcpPair } from '../helpers/pairs.js';
import { afterStartTls, tlsOverMemory, tlsOverTcp, tlsOverTls } from '../helpers/tls-pairs.js';

const pairs: Array<[string, TransportPairFactory]> = [
  ['TLS over TCP (native engine path)', tlsOverTcp],
  ['TLS over a memory pair, byte at a time (bridged)', tlsOverMemory({ chunkSize: 1 })],
  ['TLS over a memory pair, random splits (seed 9)', tlsOverMemory({ seed: 9, maxChunkSize: 1500 })],
  ['TLS over TLS over TCP', tlsOverTls],
  ['TLS after a STARTTLS exchange over TCP', async () => afterStartTls(await tcpPair())],
  ['TLS after a STARTTLS exchange over memory, random splits', () => afterStartTls(memory({ seed: 21 })())],
];

for (const [name, makePair] of pairs) {
  describe(`conformance: ${name}`, () => {
    for (const rule of conformanceCases) it(rule.name, () => rule.run(makePair));
  });
}
