import assert from 'node:assert/strict';
import type { Transport } from '../transport/transport.js';
import {
  assertPeerSawAbort,
  assertPeerSawClose,
  type ConformanceCase,
  type PairOptions,
  withPair,
} from './harness.js';
import type { RecordingOptions, RecordingProtocol } from './recording-protocol.js';

/** The callback a fault happens in. */
export type FaultCallback = 'connectionMade' | 'dataReceived' | 'eofReceived';
/** What the protocol does there: `abort(error)`, `close()`, or throw. */
export type FaultAction = 'abort' | 'close' | 'throw';

const ACTIONS: Record<FaultAction, { label: string; outcome: string }> = {
  abort: { label: 'abort(error)', outcome: 'connectionLost(error) once; the peer sees an error' },
  close: { label: 'close()', outcome: 'connectionLost(null) once; the peer sees a clean end' },
  throw: { label: 'a throw', outcome: 'aborts: connectionLost(thrown) once; the peer sees an error' },
};

/** What each callback has seen by the time it runs, as RecordingProtocol events. */
const EVENTS_BEFORE: Record<FaultCallback, string[]> = {
  connectionMade: ['made'],
  dataReceived: ['made', 'data'],
  eofReceived: ['made', 'data', 'eof'],
};

function act(action: FaultAction, reason: Error, transport: Transport): void {
  if (action === 'abort') transport.abort(reason);
  else if (action === 'close') transport.close();
  else throw reason;
}

function hook(callback: FaultCallback, run: (transport: Transport) => void): RecordingOptions {
  if (callback === 'connectionMade') return { onMade: run };
  if (callback === 'dataReceived') return { onData: (_data, transport) => run(transport) };
  return { onEof: run };
}

/** Makes the peer call the callback that carries the fault: dataReceived, or eofReceived after it. */
function provoke(callback: FaultCallback, peer: RecordingProtocol): void {
  if (callback === 'connectionMade') return;
  peer.transport!.write('trigger');
  if (callback === 'eofReceived') peer.transport!.end();
}

/**
 * One end (`side`) ends the connection from inside `callback`. That end hears `connectionLost`
 * exactly once, with the right error, after the callback returned (a protocol that refuses a peer
 * in `connectionMade` must still be told, or whatever it set up leaks); the peer sees the end that
 * matches: an error for an abort or a throw, a clean end for `close()`.
 */
export function faultCase(side: 'a' | 'b', callback: FaultCallback, action: FaultAction): ConformanceCase {
  const { label, outcome } = ACTIONS[action];
  return {
    name: `${label} inside ${callback}: ${outcome} (${side} side)`,
    run: (makePair, traits = {}) => {
      const reason = new Error(`${action} inside ${callback}`);
      const faulty = hook(callback, (transport) => act(action, reason, transport));
      const options: PairOptions = side === 'a' ? { a: faulty } : { b: faulty };
      return withPair(makePair, options, async (a, b) => {
        const [ours, peer] = side === 'a' ? [a, b] : [b, a];
        provoke(callback, peer);
        const expected = action === 'close' ? null : reason;
        assert.equal(await ours.waitForLost(), expected, `connectionLost at end ${side} got the wrong error`);
        if (action === 'close') {
          await assertPeerSawClose(peer);
        } else {
          await assertPeerSawAbort(peer, traits);
        }
        assert.deepEqual(ours.events, [...EVENTS_BEFORE[callback], expected ? 'lost:Error' : 'lost']);
      });
    },
  };
}
