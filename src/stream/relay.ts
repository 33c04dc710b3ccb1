/**
 * A relay between two connections (what `tlskit tunnel` does with each client): every chunk one
 * side receives is written to the other as it arrives, with no promise or copy per chunk.
 *
 * - Flow control: a side whose write buffer passes its high-water mark pauses reading on the
 *   other side, and resumes it when drained, so a slow peer never makes the relay buffer without
 *   bound.
 * - Half-close: one side's end of stream ends the other's writing; reading continues, so each
 *   direction finishes on its own, as a TCP proxy must (a client may half-close and still wait for
 *   the answer).
 * - Failure: a side lost with an error aborts the other with it; a side closed from outside (an
 *   idle timeout) closes the other, gracefully. The relay resolves once both are gone, with the
 *   first error and the side it came from, or `null` when both ended cleanly.
 *
 * Bytes a Connection had read but not handed out yet go first, and a peer that had already ended
 * is passed on, so taking connections over after reading from them (a STARTTLS prelude) loses
 * nothing.
 */
import type { Protocol } from '../transport/protocol.js';
import type { Transport } from '../transport/transport.js';
import { type Connection, kHandTo } from './connection.js';

/** Bytes relayed each way so far; kept when the relay ends with an error. */
export interface RelayCounts {
  /** From the first connection to the second. */
  forward: number;
  /** From the second connection to the first. */
  backward: number;
}

/** How a relay failed: the first error, and which connection was lost with it. */
export interface RelayFailure {
  error: Error;
  /** `'a'` for the first connection, `'b'` for the second. */
  lost: 'a' | 'b';
}

/** Relays between `a` and `b` until both are gone; resolves with the first failure, or `null`. */
export function relay(a: Connection, b: Connection, counts: RelayCounts): Promise<RelayFailure | null> {
  return new Promise((resolve) => {
    let left = 2;
    let failure: RelayFailure | null = null;
    const gone = (lost: 'a' | 'b') => (error: Error | null) => {
      if (error && !failure) failure = { error, lost };
      if (--left === 0) resolve(failure);
    };
    const ta = a.transport;
    const tb = b.transport;
    const fromA = a[kHandTo](side(tb, (n) => (counts.forward += n), gone('a')));
    const fromB = b[kHandTo](side(ta, (n) => (counts.backward += n), gone('b')));
    start(fromA, tb, (n) => (counts.forward += n));
    start(fromB, ta, (n) => (counts.backward += n));
    ta.resumeReading();
    tb.resumeReading();
  });
}

/** The protocol on one side: what it receives goes to `other`. */
function side(
  other: Transport,
  count: (bytes: number) => void,
  gone: (error: Error | null) => void,
): Protocol {
  return {
    dataReceived(data) {
      count(data.length);
      if (!other.closing) other.write(data);
    },
    eofReceived() {
      if (!other.closing) other.end();
      return true; // keep reading what the other side still sends us
    },
    // Our write buffer is full: stop reading from the side that fills it.
    pauseWriting: () => other.pauseReading(),
    resumeWriting: () => other.resumeReading(),
    // A closing server lets transfers finish; its deadline aborts what is left.
    serverClosing() {},
    // One side gone cleanly but the other still open: that side was closed from outside (an
    // idle timeout, say), not by the relay's half-closes, so the other is closed the same way.
    connectionLost(error) {
      gone(error); // first: aborting the other side reports its loss at once, and ours came first
      if (!other.closing) {
        if (error) other.abort(error);
        else other.close();
      }
    },
  };
}

/** Passes on what a Connection had already read before the relay took it over. */
function start(
  held: { buffered: Uint8Array | null; eof: boolean },
  other: Transport,
  count: (bytes: number) => void,
): void {
  if (held.buffered) {
    count(held.buffered.length);
    other.write(held.buffered);
  }
  if (held.eof) other.end();
}
