/*
 * The TLS layer: design notes
 * ===========================
 *
 * A TlsTransport is a Transport whose bytes are protected by TLS, layered on another Transport.
 * The engine is Node's own OpenSSL (`node:tls`); this layer decides how bytes reach it and what the
 * protocol above sees. These notes explain each subtlety before the code does.
 *
 * Two engine paths
 * ----------------
 * When the lower transport is backed by a native socket (TCP or Unix, from createConnection,
 * createServer or fromDuplex(net.Socket)), the socket itself is handed to `node:tls`: OpenSSL then
 * reads and writes the file descriptor directly and bulk data never crosses into JavaScript twice.
 * TLS inside TLS takes the same path when the outer layer's engine is native: the inner engine
 * reads from the outer one in C++, as node:tls does for `tls.connect({ socket: tlsSocket })`. The
 * outer layer's close_notify then reaches the inner engine as a plain end of stream, which must
 * not pass for the inner layer's own (whoever ends the outer layer, a TLS proxy say, could cut the
 * inner stream short); eof.ts tells them apart by asking through the engines.
 * Any other transport (memory pairs, user streams, a bridged TLS transport) is bridged: an
 * EngineBridge (engine-bridge.ts) gives `node:tls`'s stream shim the few stream calls it makes,
 * straight onto the transport. Both paths run the same tests.
 * A client with TLS from its first byte (`createConnection({ tls })` without a PROXY header) skips
 * the plain transport altogether: node:tls opens the socket itself (connect-tls.ts), the native
 * path with one socket object fewer per connection; a TLS server without PROXY headers likewise
 * hands each accepted socket to node:tls as it comes (accept-tls.ts). Every start shares one
 * handshake (handshake.ts).
 *
 * Handshake-only reads
 * --------------------
 * Many reads carry no application data: handshake records, and after the handshake TLS 1.3
 * NewSessionTicket and KeyUpdate messages. OpenSSL consumes them and Node emits nothing, so the
 * protocol never sees an empty chunk, and such a read is never mistaken for an end of stream. The
 * handshake must also never wait on the application: the TlsTransport only exists once the
 * handshake is done, and while it runs the layer reads the lower transport whatever the protocol
 * asked for (a lower transport paused by its protocol is resumed by the bridge on demand, and a
 * native socket is read by OpenSSL directly). After the handshake, pausing the protocol pauses
 * the engine: post-handshake messages wait, which costs nothing because no peer blocks on them.
 * Node's server sends its session tickets right after the handshake; they are small and buffered,
 * so a protocol that only ever writes cannot deadlock on them.
 *
 * close_notify versus truncation
 * ------------------------------
 * A TCP FIN is not authenticated, so an attacker can cut a TLS stream short; only the peer's
 * close_notify proves the stream ended where the peer meant it to. Node reports both as an end of
 * stream. `eof.ts` takes the verdict at the instant Node signals the end: over the bridge we know
 * whether we delivered the lower end of stream first; over a native socket we ask libuv whether it
 * was still reading (see eof.ts). A clean end goes to `eofReceived`; a truncation fails the
 * connection with `ERR_TLS_TRUNCATED`, unless the context sets `allowTruncation` for protocols that
 * frame their own messages (HTTP with Content-Length). Bytes that arrive after the peer's
 * close_notify are ignored by OpenSSL, as RFC 8446 requires.
 *
 * The bridge outlives a clean end
 * -------------------------------
 * node:tls destroys a TLS socket the moment the JavaScript stream under it closes (Node #49327),
 * and with it the plaintext its reader has not taken yet. A paused reader's bytes wait exactly
 * there, up to the TLS socket's high-water mark (16 KiB on Node 20, 64 KiB since Node 22), so a
 * bridge that closed itself when the connection below ended cleanly would throw them away. The
 * bridge therefore only ends its readable side then, and stays open until the TLS socket is
 * destroyed, which destroys the bridge in turn.
 *
 * Sending close_notify
 * --------------------
 * `end()` sends close_notify and then half-closes the lower stream; reading continues, so the peer
 * may still answer (TLS 1.3 allows it, and so do OpenSSL peers on 1.2). Node has an ordering bug
 * here: if its previous encrypted write finished synchronously but has not been acknowledged yet,
 * its shutdown sends the TCP FIN *before* the close_notify, and the close_notify is lost. So `end()`
 * waits until every queued write has completed and one more turn of the event loop has passed
 * (Node acknowledges such writes on that turn) before it asks Node to shut down.
 * `close()` sends close_notify, stops delivering data, drains what still arrives (data after our
 * close_notify is normal and must not be treated as an error), and waits `closeTimeout` (5 s by
 * default) for the peer's close_notify before it releases the connection; a peer that never answers
 * cannot hold it open. `abort()` releases at once without close_notify, so the peer sees a
 * truncated stream, an error. It does not reset the TCP socket: OpenSSL still holds it, and Node
 * crashes if the socket's handle is reset under a live TLS engine.
 * When the peer's close_notify arrives and the protocol does not keep its side open, the transport
 * answers with its own close_notify after flushing what the protocol wrote.
 *
 * Renegotiation and other post-handshake traffic
 * ----------------------------------------------
 * Contexts set SSL_OP_NO_RENEGOTIATION: a TLS 1.2 peer asking to renegotiate is refused (OpenSSL
 * answers with a no_renegotiation alert), which removes a denial-of-service lever and the
 * renegotiation attack class. TLS 1.3 has no renegotiation; its KeyUpdate is handled inside
 * OpenSSL.
 *
 * Buffering and writes
 * --------------------
 * Nothing here buffers without bound: the TLS socket's readable buffer is bounded by its
 * high-water mark, after which Node stops reading the lower stream (natively, or through the
 * bridge, which pauses its transport); writes count toward `writeBufferSize` until the engine
 * took them, and the protocol is paused past the high-water mark as on any transport. Small writes
 * do not become one TLS record each (Twisted #11989): Node encrypts the first write of a burst at
 * once and gathers the writes made while it is in flight into a single SSL_write, so a burst of a
 * hundred small writes leaves as two records (records.test.ts checks it).
 *
 * Ends during the handshake
 * -------------------------
 * Nothing reads the TLS socket's end of stream while the handshake runs, and Node does not fail a
 * server-side handshake whose peer sent a FIN: it would wait for the handshake deadline. The
 * end-of-stream watch (eof.ts) sees the end when Node pushes it, and fails the handshake at once.
 *
 * Verification
 * ------------
 * Node's OpenSSL verify callback accepts every chain and leaves the decision to JavaScript. The
 * layer verifies after the handshake, on both sides (Node does not check client certificates on a
 * server socket it did not create through `tls.Server`): OpenSSL's chain verdict, then the host
 * name, then pins. A failure rejects `startTls` with a CertificateError and closes the connection.
 * Because the engine has already finished the handshake by then, the peer sees the connection
 * close rather than a specific alert; the one alert OpenSSL sends itself is for a client that
 * offers no certificate to a server that requires one (certificate_required).
 *
 * Session resumption skips verification (the server proves it holds the session's secret), so a
 * client saves a session only once its connection passed every check for that server name; Node
 * announces sessions even for connections the layer just refused. A resumed handshake carries no
 * certificates: `info.tls.peerCertificates` reports those verified when the session was made.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type InspectOptionsStylized, inspect } from 'node:util';
import { StreamTransport } from '../transport/stream.js';
import type { Address, TlsInfo, TlsTransportInfo, Transport, TransportInfo } from '../transport/transport.js';
import { eofVerdict } from './eof.js';
import { TlsError } from './errors.js';
import { tlsErrorFrom } from './openssl-errors.js';

/** How a TlsTransport was set up; passed by `startTls`. */
export interface TlsTransportSetup {
  /** What `info.tls` reports, read right after verification. */
  tls: TlsInfo;
  allowTruncation: boolean;
  closeTimeout: number | undefined;
  /** The info of the transport underneath, or of the connection when node:tls opened it itself. */
  lowerInfo: TransportInfo;
  /**
   * The lower transport past its upgrade guard, what this layer closes and aborts when bridged;
   * `null` when the TLS socket is native (the engine closes the connection itself).
   */
  lowerOwned: Transport | null;
  /** The lower transport's socket, when node:tls took it directly; `null` when bridged. */
  stream: Duplex | null;
}

/**
 * @internal On a TlsTransport: whether its engine drives a native socket (TCP or Unix, directly or
 * through native TLS engines below), so a TLS layer above can stack its engine directly on it.
 */
export const kNativeEngine = Symbol('tlskit.nativeEngine');

const ALLOW_TRUNCATION = 1;
const END_WHEN_FLUSHED = 2;
const BRIDGED = 4;

/** A Transport protected by TLS. Made by `startTls`. */
export class TlsTransport extends StreamTransport {
  // The setup's fields, kept one by one rather than the setup object: one object fewer per idle
  // connection, which a server holds by the thousand.
  readonly #tls: TlsInfo;
  readonly #lowerInfo: TransportInfo;
  /** The lower transport when `BRIDGED` (the setup's `lowerOwned`), else the native socket or null. */
  readonly #below: Transport | Duplex | null;
  /** `ALLOW_TRUNCATION`, `END_WHEN_FLUSHED` and `BRIDGED`, as bits. */
  #flags: number;

  /** @internal */
  constructor(socket: TLSSocket, setup: TlsTransportSetup) {
    super(socket, { kind: null, closeTimeout: setup.closeTimeout });
    this.#tls = setup.tls;
    this.#lowerInfo = setup.lowerInfo;
    this.#below = setup.lowerOwned ?? setup.stream;
    this.#flags = (setup.allowTruncation ? ALLOW_TRUNCATION : 0) | (setup.lowerOwned ? BRIDGED : 0);
  }

  /** @internal See `kNativeEngine`: a bridged layer has the lower transport it writes through. */
  get [kNativeEngine](): boolean {
    return (this.#flags & BRIDGED) === 0;
  }

  /** What this layer closes and aborts when bridged; `null` when its TLS socket is native. */
  get #lowerOwned(): Transport | null {
    return (this.#flags & BRIDGED) !== 0 ? (this.#below as Transport) : null;
  }

  /** The native socket under the TLS socket, when there is a separate one. */
  get #stream(): Duplex | null {
    return (this.#flags & BRIDGED) === 0 ? (this.#below as Duplex | null) : null;
  }

  /** The TLS socket: the stream this transport runs over, not kept twice (idle servers hold many). */
  get #tlsSocket(): TLSSocket {
    return this.stream as TLSSocket;
  }

  override get info(): TlsTransportInfo {
    return super.info as TlsTransportInfo;
  }

  protected override _describe(): TlsTransportInfo {
    return new TlsLayerInfo(this.#tls, this.#lowerInfo);
  }

  protected override _mapError(error: unknown): Error {
    return tlsErrorFrom(error, 'protocol');
  }

  protected override _onEof(): void {
    if (eofVerdict(this.#tlsSocket) === 'truncated' && (this.#flags & ALLOW_TRUNCATION) === 0) {
      this._onError(truncationError(this.#tls.alpnProtocol));
      return;
    }
    super._onEof();
  }

  protected override _end(): void {
    // Node loses the close_notify if it shuts down while its last encrypted write is still
    // unacknowledged (see the notes above): wait for the queue to empty, then one turn.
    if (this.#tlsSocket.writableLength > 0) {
      this.#flags |= END_WHEN_FLUSHED;
      return;
    }
    setImmediate(() => {
      if (!this._lost) this.#tlsSocket.end();
    });
  }

  protected override _onDrained(): void {
    super._onDrained();
    if ((this.#flags & END_WHEN_FLUSHED) !== 0 && this.#tlsSocket.writableLength === 0) {
      this.#flags &= ~END_WHEN_FLUSHED;
      this._end();
    }
  }

  protected override _abortStream(error: Error | null): void {
    this.#tlsSocket.destroy();
    const stream = this.#stream;
    if (stream) {
      // Never reset the socket under a live TLS engine: OpenSSL still holds it, and Node crashes
      // when its handle goes away first. Closing it without close_notify is abort enough: the
      // peer sees a truncated stream, an error on its side.
      if (!stream.destroyed) stream.destroy();
    } else {
      // Bridged: destroying the TLS socket closes the lower transport gracefully; an abort must
      // reach it as an abort.
      this.#lowerOwned?.abort(error ?? undefined);
    }
  }

  protected override _destroy(error: Error | null, hard: boolean): void {
    super._destroy(error, hard);
    const stream = this.#stream;
    if (stream && !stream.destroyed) stream.destroy();
  }
}

/** HTTP frames its own messages, so for it a cut between messages loses nothing. */
const SELF_FRAMING_PROTOCOLS = new Set(['http/1.1', 'http/1.0', 'h2']);

/**
 * The error for an end of stream without close_notify. Usually the peer crashed or aborted, or the
 * connection was cut (a TCP FIN or reset is not authenticated, so an attacker can forge one), and
 * the remedy is not ours to apply. `allowTruncation` is suggested only where the negotiated
 * protocol frames its own messages, which is where accepting such an end can be safe.
 */
function truncationError(alpnProtocol: string | null): TlsError {
  const base =
    'the peer ended the connection without close_notify (it crashed or aborted, or the connection was cut: a TCP end is not authenticated), so the data may have been cut short';
  const advice =
    alpnProtocol !== null && SELF_FRAMING_PROTOCOLS.has(alpnProtocol)
      ? `; ${alpnProtocol} frames its own messages, so if a cut between messages is harmless to you, set \`allowTruncation\` on the context (the HTTP parser still fails a message cut short${alpnProtocol === 'h2' ? '' : ', unless its body is meant to end with the connection: one without Content-Length or chunked encoding'})`
      : '';
  return new TlsError('ERR_TLS_TRUNCATED', base + advice);
}

/**
 * A TLS transport's info; its addresses are those of the transport below, read through it. A
 * class rather than accessors defined on each object (see `SocketInfo` in stream.ts); `toJSON`
 * and `util.inspect` show the addresses like plain data.
 */
class TlsLayerInfo implements TlsTransportInfo {
  readonly kind = 'tls' as const;
  declare readonly proxy?: TransportInfo['proxy'];
  readonly tls: TlsInfo;
  readonly lower: TransportInfo;

  constructor(tls: TlsInfo, lower: TransportInfo) {
    if (lower.proxy) (this as { proxy?: TransportInfo['proxy'] }).proxy = lower.proxy;
    this.tls = tls;
    this.lower = lower;
  }

  get local(): Address | null {
    return this.lower.local;
  }

  get peer(): Address | null {
    return this.lower.peer;
  }

  toJSON(): TlsTransportInfo {
    const { kind, local, peer, proxy, tls, lower } = this;
    return proxy ? { kind, local, peer, proxy, tls, lower } : { kind, local, peer, tls, lower };
  }

  [inspect.custom](_depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return show(this.toJSON(), options);
  }
}
