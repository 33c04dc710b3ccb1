/**
 * The datagram contract, beside the stream one (protocol.ts, transport.ts). Design notes:
 *
 * - One `send` is one datagram: never merged with another, never split. A stream transport may
 *   regroup bytes freely; a datagram transport must not, so there is no buffering across sends and
 *   a datagram over the medium's limit is refused at `send` (naming the size and the limit), not
 *   fragmented behind the caller's back.
 * - There is no end of stream and no half-close: a datagram peer is not "connected" in the TCP
 *   sense, so `close()` only flushes our own queue and releases the socket. The peer hears nothing.
 * - Errors the network reports about one datagram (an ICMP port unreachable on a connected UDP
 *   socket, a send to an unroutable address) are not fatal: they reach `errorReceived` and the
 *   endpoint stays open. Only our own close/abort ends it, with `connectionLost` exactly once.
 * - `pauseReading` cannot stop the network: datagrams arriving meanwhile are held up to a bound
 *   and then dropped (counted in `dropped`), which is what the network itself may do anyway.
 * - What is truly shared with streams is reused: the error classes, option checking and the
 *   write-buffer flow control semantics (`pauseWriting`/`resumeWriting` around high/low marks).
 */
import type { DatagramAddress, DatagramInfo } from './datagram-base.js';

export {
  BaseDatagramTransport,
  type DatagramAddress,
  type DatagramInfo,
  type DatagramKind,
  DEFAULT_HELD_DATAGRAMS,
  MAX_UDP4_PAYLOAD,
  MAX_UDP6_PAYLOAD,
} from './datagram-base.js';

/**
 * The callbacks a datagram transport makes into protocol code; all optional. `connectionMade`
 * first, `connectionLost` exactly once and last; in between any number of `datagramReceived` and
 * `errorReceived`, and `pauseWriting`/`resumeWriting` in alternation. A callback that throws
 * aborts the transport with the thrown error.
 */
export interface DatagramProtocol {
  /** The protocol was bound to `transport`. */
  connectionMade?(transport: DatagramTransport): void;
  /**
   * One datagram arrived, whole, from `from`. `data` may be empty (a zero-length datagram) and
   * belongs to the protocol.
   */
  datagramReceived?(data: Uint8Array, from: DatagramAddress): void;
  /**
   * The network reported an error about an earlier datagram (e.g. `ECONNREFUSED`: ICMP port
   * unreachable on a connected socket). The transport stays open. Always a `TlskitError`.
   */
  errorReceived?(error: Error): void;
  /** The endpoint is closed: `null` after `close()`, otherwise the reason. Called exactly once. */
  connectionLost?(error: Error | null): void;
  /** The send queue passed its high-water mark: stop sending until `resumeWriting`. */
  pauseWriting?(): void;
  /** The send queue drained to its low-water mark. */
  resumeWriting?(): void;
}

/** A datagram endpoint, as protocol code sees it: UDP sockets and memory pairs. */
export interface DatagramTransport {
  /**
   * Sends one datagram (strings are UTF-8 encoded). On a connected endpoint `to` must be omitted
   * (or equal the peer, in any spelling of its address); on an unconnected one it is required, as
   * `{ host, port }` of the endpoint's address family (`InvalidArgumentError` otherwise). Throws
   * `LimitExceededError` for a datagram larger than `maxDatagramSize` (from udp6 to an IPv4-mapped
   * `::ffff:a.b.c.d`, larger than IPv4 carries) and `StateError` after `close()`/`abort()`.
   * Delivery is not guaranteed: that is the medium's nature.
   */
  send(data: Uint8Array | string, to?: DatagramAddress): void;
  /** Sends what is queued (bounded by the close timeout), then releases the endpoint; `connectionLost(null)`. */
  close(): void;
  /** Releases the endpoint at once, dropping queued datagrams; `connectionLost(error ?? null)`. */
  abort(error?: Error): void;
  /** Holds arriving datagrams (up to a bound, then drops them) until `resumeReading`. */
  pauseReading(): void;
  /** Delivers held datagrams, in arrival order, and resumes delivery. */
  resumeReading(): void;
  /** Sets the send queue's high-water (default 64 KiB) and low-water (default high/4) marks. */
  setWriteBufferLimits(high?: number, low?: number): void;
  /** Binds `protocol` and calls its `connectionMade(this)`. */
  setProtocol(protocol: DatagramProtocol): void;
  /** The bound protocol, or `null`. */
  readonly protocol: DatagramProtocol | null;
  /** `true` once `close()` or `abort()` was called. */
  readonly closing: boolean;
  /** Bytes of datagrams queued for sending and not yet taken by the OS (or the peer). */
  readonly writeBufferSize: number;
  /** The largest datagram `send` accepts, in bytes (udp6 connected to an IPv4-mapped peer: IPv4's). */
  readonly maxDatagramSize: number;
  /** Datagrams that arrived while reading was paused, waiting for `resumeReading`. */
  readonly held: number;
  /** Datagrams dropped because reading was paused and the hold was full. */
  readonly dropped: number;
  /** What the endpoint runs over and where its ends are. */
  readonly info: DatagramInfo;
}
