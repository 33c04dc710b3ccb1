import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../transport/errors.js';
import { shown } from '../transport/options.js';
import type { Transport } from '../transport/transport.js';
import { type RecordingOptions, RecordingProtocol } from './recording-protocol.js';

/** Makes two freshly connected transport ends with no protocol bound. */
export type TransportPairFactory = () => Promise<[Transport, Transport]> | [Transport, Transport];

/** What the medium under a pair can do; rules that depend on it adapt. */
export interface TransportTraits {
  /**
   * Whether an abort reaches the peer as an error (default `true`). Unix sockets cannot signal a
   * reset, so there the peer of an aborted transport sees an end of stream.
   */
  abortIsVisible?: boolean;
  /**
   * Whether writes can stay queued at the writer (default `true`). A medium that takes every write
   * at once into the reader's buffer (Node's `stream.duplexPair`) leaves `abort()` nothing to drop.
   */
  queuesWrites?: boolean;
}

/** One rule of the transport contract, checked against a pair of connected transports. */
export interface ConformanceCase {
  name: string;
  run(makePair: TransportPairFactory, traits?: TransportTraits): Promise<void>;
}

/** Resolves after `count` turns of the event loop: for asserting that nothing more happens. */
export function turns(count: number): Promise<void> {
  if (!Number.isInteger(count) || count < 0) {
    throw new InvalidArgumentError(`turns: \`count\` must be a whole number, 0 or more, got ${shown(count)}`);
  }
  return new Promise((resolve) => {
    const step = (left: number) => (left === 0 ? resolve() : setImmediate(step, left - 1));
    step(count);
  });
}

/**
 * Deterministic test bytes: the same `(length, seed)` always gives the same bytes, with no short
 * period (a lost run of bytes and a repeated one cannot cancel out) and no two seeds alike.
 */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  // 32-bit arithmetic throughout (Math.imul): a plain product passes 2^53 and loses its low
  // bits, which made every seed fall into one cycle of 419 bytes.
  let x = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** The two recording protocols of a pair, `a` and `b`, and the options each is made with. */
export type PairOptions = { a?: RecordingOptions; b?: RecordingOptions };

type Body = (a: RecordingProtocol, b: RecordingProtocol, ta: Transport, tb: Transport) => Promise<void>;

/**
 * Binds a recording protocol to each end (`a` first), runs `body`, then ends whatever the body
 * left open and checks that each end heard `connectionLost` exactly once without a broken rule.
 */
export async function withPair(
  makePair: TransportPairFactory,
  options: PairOptions,
  body: Body,
): Promise<void> {
  const [ta, tb] = await makePair();
  const a = new RecordingProtocol(options.a);
  const b = new RecordingProtocol(options.b);
  try {
    ta.setProtocol(a);
    tb.setProtocol(b);
    await body(a, b, ta, tb);
    // End whatever the case left open, so that every protocol still bound hears the end.
    ta.abort();
    tb.abort();
    await assertEndedOnce('a', ta, a);
    await assertEndedOnce('b', tb, b);
  } finally {
    ta.abort();
    tb.abort();
  }
}

/**
 * Once the connection is over: the protocol bound last heard `connectionLost` exactly once, one
 * that `setProtocol` replaced never did, and neither saw the contract broken (late callbacks get a
 * few turns to show).
 */
async function assertEndedOnce(end: string, transport: Transport, first: RecordingProtocol): Promise<void> {
  const last = transport.protocol;
  assert.ok(last instanceof RecordingProtocol, `transport.protocol at end ${end} is not the one bound last`);
  await last.waitForLost();
  await turns(10);
  for (const protocol of new Set([first, last])) {
    assert.deepEqual(
      protocol.violations,
      [],
      `contract broken at end ${end}: ${protocol.violations.join('; ')}`,
    );
  }
  assert.equal(last.lostCount, 1, `connectionLost must come exactly once at end ${end}`);
  if (first !== last)
    assert.equal(first.lostCount, 0, `a replaced protocol at end ${end} heard connectionLost`);
}

export async function bothLostCleanly(a: RecordingProtocol, b: RecordingProtocol): Promise<void> {
  assert.equal(await a.waitForLost(), null, 'end a should close cleanly');
  assert.equal(await b.waitForLost(), null, 'end b should close cleanly');
}

export function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/**
 * The peer of an aborted transport sees an error with a code (a reset, or a truncation over TLS),
 * never a clean end of stream; where the medium cannot signal one (`abortIsVisible: false`, a Unix
 * socket) it sees an end.
 */
export async function assertPeerSawAbort(peer: RecordingProtocol, traits: TransportTraits): Promise<void> {
  const error = await peer.waitForLost();
  if (traits.abortIsVisible === false) return;
  assert.ok(error instanceof Error, 'the peer of an aborted transport must see an error');
  assert.equal(typeof errorCode(error), 'string', 'the error must carry a code');
  assert.equal(peer.eofCount, 0, 'an abort is not a clean end of stream');
}

/** The peer of a closed transport sees a clean end of stream (FIN, close_notify), then a clean close. */
export async function assertPeerSawClose(peer: RecordingProtocol): Promise<void> {
  await peer.waitForEof();
  assert.equal(await peer.waitForLost(), null, 'the peer of a closed transport should close cleanly');
}
