import type { X509Certificate } from 'node:crypto';
import type { Protocol } from './protocol.js';
import type { ProxyInfo } from './proxy-header-wire.js';

/** A TCP endpoint. */
export interface TcpAddress {
  host: string;
  port: number;
}

/** A Unix domain socket endpoint. */
export interface UnixAddress {
  path: string;
}

/** Where a transport's end is: TCP, a Unix socket, or `null` when there is no address (memory, streams). */
export type Address = TcpAddress | UnixAddress;

/** What a transport runs over. */
export type TransportKind = 'tcp' | 'unix' | 'memory' | 'duplex' | 'tls';

/** Facts about a TLS connection, present on `info.tls` of TLS transports. */
export interface TlsInfo {
  /** Negotiated protocol version: `'TLSv1.3'` or `'TLSv1.2'`. */
  protocol: string;
  /** Negotiated cipher suite, in IANA/OpenSSL naming, e.g. `'TLS_AES_256_GCM_SHA384'`. */
  cipher: string;
  /** The ALPN protocol both sides agreed on, or `null`. */
  alpnProtocol: string | null;
  /** The server name (SNI) the client asked for, or `null` when none was sent. */
  serverName: string | null;
  /**
   * The peer's certificate chain, leaf first. A client reports the chain its server was verified
   * with: the certificates the server sent, in issuing order, then the trust anchor from `trust`
   * (on a resumed session, the chain verified when the session was made). A server reports what
   * its client sent, as sent. Empty when the peer sent none. Stays readable after the connection
   * closed.
   */
  peerCertificates: X509Certificate[];
  /** Whether the handshake resumed an earlier session. */
  resumed: boolean;
  /** `'client'` or `'server'`: our role in the handshake. */
  role: 'client' | 'server';
}

/** Describes a transport: what it runs over, and its two ends. */
export interface TransportInfo {
  /** What this transport runs over. */
  kind: TransportKind;
  /**
   * Our end, when it has an address. A TCP address is read from the socket when first asked (a
   * system call most connections never need); after the connection closed, one never read is
   * `null`, so read it early (in `connectionMade`) if you will want it at the end. On TCP transports
   * `local` and `peer` are getters: `JSON.stringify` and `util.inspect` show them, an object
   * spread does not copy them.
   */
  local: Address | null;
  /** The peer's end, when it has an address; read like `local`. */
  peer: Address | null;
  /**
   * What a trusted proxy in front of the server said about the connection (the PROXY protocol): on
   * server transports whose server has `proxyProtocol` set and whose peer sent a header. `peer` and
   * `local` then hold the client's addresses from the header; `proxy.via` is the proxy's own.
   */
  proxy?: ProxyInfo;
  /** TLS details, on TLS transports only. */
  tls?: TlsInfo;
  /** The transport a TLS layer runs over, on TLS transports only. */
  lower?: TransportInfo;
}

/** A TLS transport's info: `tls` and `lower` are always there. */
export interface TlsTransportInfo extends TransportInfo {
  kind: 'tls';
  tls: TlsInfo;
  lower: TransportInfo;
}

/**
 * A bidirectional byte stream, as protocol code sees it. Implementations: TCP and Unix sockets,
 * memory pairs (`tlskit/testing`), any Node Duplex (`fromDuplex`), and TLS (`startTls`).
 *
 * Writes never block and never fail silently: they queue, and the protocol is told to pause when
 * the queue passes the high-water mark. Reads are pushed to the protocol's `dataReceived`.
 */
export interface Transport {
  /**
   * Queues bytes (strings are UTF-8 encoded) for sending. Empty data is ignored. The transport may
   * keep a reference to `data` until it is sent: do not modify it afterwards. Throws a
   * `StateError` after `end()`, `close()` or `abort()`, or once the connection is lost.
   */
  write(data: Uint8Array | string): void;

  /**
   * Half-closes: flushes queued bytes, then tells the peer we are done sending (TCP FIN, or
   * close_notify over TLS). Reading continues. Calling it again has no effect.
   */
  end(): void;

  /**
   * Closes gracefully: flushes queued bytes, half-closes, stops delivering data, and waits a bounded
   * time for the peer to finish before releasing the connection. `connectionLost(null)` follows.
   */
  close(): void;

  /**
   * Closes at once, dropping queued bytes. The peer sees an error where the medium can signal one
   * (a reset over TCP and memory pairs, a truncation over TLS, a stream destroyed with an error);
   * over a Unix socket it sees an end of stream. `connectionLost` receives `error`, or `null` when
   * none is given.
   */
  abort(error?: Error): void;

  /** Stops delivering data and stops reading from the source, so nothing piles up. */
  pauseReading(): void;

  /** Resumes delivering data after `pauseReading()`. */
  resumeReading(): void;

  /** `true` once `close()` or `abort()` was called, or the connection was lost. */
  readonly closing: boolean;

  /** Bytes queued by `write()` and not yet handed to the peer (or the OS). */
  readonly writeBufferSize: number;

  /**
   * Sets the write buffer's high-water mark (default 64 KiB) and low-water mark (default a quarter
   * of `high`). `pauseWriting` fires when the buffer grows past `high`; `resumeWriting` once it
   * drains to `low` or below.
   */
  setWriteBufferLimits(high?: number, low?: number): void;

  /**
   * Binds `protocol` and calls its `connectionMade(this)`. A previously bound protocol receives no
   * further callbacks. Binding to a transport whose connection is already lost delivers
   * `connectionLost` right after `connectionMade`.
   */
  setProtocol(protocol: Protocol): void;

  /** The bound protocol, or `null` before one is bound. */
  readonly protocol: Protocol | null;

  /** What this transport runs over and where its ends are. */
  readonly info: TransportInfo;
}
