import type { Transport } from 'tlskit';
import { conformanceCases, RecordingProtocol, type TransportPairFactory, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { memory, tcpPair } from '../helpers/pairs.js';
import {
  type Attempt,
  afterStartTls,
  startBoth,
  tlsOverMemory,
  tlsOverTcp,
  tlsOverTls,
} from '../helpers/tls-pairs.js';

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

/** What the upgrades run over: each engine path, and TLS inside TLS. */
const lowerPairs: Array<[string, TransportPairFactory]> = [
  ['TCP (native engine path)', tcpPair],
  ['a memory pair, byte at a time (bridged)', memory({ chunkSize: 1 })],
  ['a memory pair, random splits (bridged)', memory({ seed: 5, maxChunkSize: 200 })],
  ['TLS over TCP (TLS inside TLS)', tlsOverTcp],
];

const sides = ['client', 'server'] as const;
const index = { client: 0, server: 1 } as const;

/** Both ends' lower transports with a recording protocol bound, as a plaintext protocol would have. */
async function boundLowerPair(makePair: TransportPairFactory) {
  const transports = await makePair();
  const lower = [new RecordingProtocol(), new RecordingProtocol()] as const;
  transports[0].setProtocol(lower[0]);
  transports[1].setProtocol(lower[1]);
  return { transports, lower };
}

/** Once everything settled: each lower protocol heard connectionLost once, and no rule was broken. */
async function assertLowerEndedOnce(lower: readonly RecordingProtocol[]): Promise<void> {
  await turns(10);
  for (const protocol of lower) {
    expect(protocol.lostCount).toBe(1);
    expect(protocol.violations).toEqual([]);
  }
}

/**
 * The peer of a side that gave up: its handshake failed, or (when ours had completed the handshake
 * on the wire first) its TLS transport ends with an error; never a clean end.
 */
async function peerError(attempt: Attempt): Promise<Error | null> {
  if (attempt.error) return attempt.error;
  const recorder = new RecordingProtocol();
  attempt.transport.setProtocol(recorder);
  const error = await recorder.waitForLost();
  expect(recorder.eofCount).toBe(0);
  return error;
}

for (const [name, makePair] of lowerPairs) {
  describe(`faults around an upgrade over ${name}`, () => {
    for (const side of sides) {
      it(`abort(error) during the handshake (${side}): startTls rejects with it, the lower protocol hears it once, the peer's handshake fails`, async () => {
        const { transports, lower } = await boundLowerPair(makePair);
        const attempts = startBoth(transports);
        const [ours, theirs] = side === 'client' ? [0, 1] : [1, 0];
        // The handshake is under way on both sides: startTls has begun and cannot have finished
        // within one turn (it needs at least two round trips).
        await turns(1);
        const reason = new Error('refused during the handshake');
        transports[ours]!.abort(reason);
        expect((await attempts[ours]!).error).toBe(reason);
        expect(await lower[ours]!.waitForLost()).toBe(reason);
        expect(transports[ours]!.closing).toBe(true);
        const failed = await attempts[theirs]!;
        expect(failed.error).toBeInstanceOf(Error);
        expect(typeof (failed.error as { code?: unknown }).code).toBe('string');
        expect(await lower[theirs]!.waitForLost()).toBe(failed.error);
        await assertLowerEndedOnce(lower);
      });

      it(`a protocol carried over by startTls that aborts in its second connectionMade (${side}) hears connectionLost once`, async () => {
        const reason = new Error('refused after the handshake');
        const { transports } = await boundLowerPair(makePair);
        const carried = new RecordingProtocol({
          onMade: (transport: Transport) => {
            if (transport.info.kind === 'tls' && transport !== transports[0] && transport !== transports[1])
              transport.abort(reason);
          },
        });
        transports[index[side]].setProtocol(carried);
        const attempts = startBoth(transports);
        const ours = await attempts[index[side]];
        expect(ours.transport?.closing).toBe(true);
        expect(await carried.waitForLost()).toBe(reason);
        const error = await peerError(await attempts[1 - index[side]]!);
        expect(error).toBeInstanceOf(Error);
        await turns(10);
        expect(carried.events).toEqual(['made', 'made', 'lost:Error']);
        expect(carried.violations).toEqual([]);
      });
    }
  });
}
