import type { Transport } from './transport.js';

/**
 * The callbacks a transport makes into protocol code. Every callback is optional. A protocol is
 * written once and runs unchanged over TCP, Unix sockets, memory pairs, Node streams and TLS.
 *
 * Order is guaranteed: `connectionMade` first; then any number of `dataReceived`, at most one
 * `eofReceived` after the last `dataReceived`, and `pauseWriting`/`resumeWriting` in alternation;
 * `connectionLost` exactly once, last. A callback that throws aborts the transport with the thrown
 * error, which then reaches `connectionLost`.
 */
export interface Protocol {
  /**
   * The protocol was bound to `transport`. Called again with the new transport when the connection
   * is upgraded to TLS and this protocol carries over (see `startTls`).
   */
  connectionMade?(transport: Transport): void;

  /**
   * Bytes arrived, in order. Never called with an empty chunk. The chunk belongs to the protocol:
   * the transport keeps no reference to it.
   */
  dataReceived?(data: Uint8Array): void;

  /**
   * The peer finished sending cleanly (TCP FIN, or a TLS close_notify). Return `true` to keep our
   * side writable (half-close); returning `false` or nothing closes the transport once pending
   * writes are flushed. Only `true` counts: any other value is treated as nothing.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` lets `eofReceived(): void {}` implement this
  eofReceived?(): boolean | void;

  /**
   * The connection is gone. Called exactly once: `null` after a clean close, otherwise the reason,
   * always a `TlskitError` (or the error a protocol callback threw).
   */
  connectionLost?(error: Error | null): void;

  /** The transport's write buffer passed its high-water mark: stop writing until `resumeWriting`. */
  pauseWriting?(): void;

  /** The write buffer drained to its low-water mark: writing may continue. */
  resumeWriting?(): void;

  /**
   * The server that accepted this connection began a graceful shutdown (`server.close()`): finish
   * what is in progress, then `close()` the transport. The connection is aborted if it is still
   * open at the server's deadline. A protocol without this callback is closed at once instead
   * (`close()`: what it already wrote is still flushed). Only server-side protocols hear it.
   */
  serverClosing?(): void;
}

/** Makes a fresh protocol for each connection. */
export type ProtocolFactory<P extends Protocol = Protocol> = () => P;
