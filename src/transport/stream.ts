import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { type InspectOptionsStylized, inspect } from 'node:util';
import {
  BaseTransport,
  type BaseTransportOptions,
  kPendingBytes,
  kTakePending,
  kUpgradedTo,
  type TransportOwner,
} from './base.js';
import { ConnectionError, toTransportError } from './errors.js';
import type { ProxyInfo } from './proxy-header-wire.js';
import type { Address, TransportInfo, TransportKind } from './transport.js';

/** Internal: takes the Node stream out of a StreamTransport so a TLS layer can wrap it natively. */
export const kDetachStream = Symbol('tlskit.detachStream');
/** Internal: hands the Node stream to a consumer outside tlskit (node:http) for good. */
export const kReleaseStream = Symbol('tlskit.releaseStream');

export interface StreamTransportOptions extends BaseTransportOptions {
  kind: TransportKind;
  /** Our address, or `'socket'` to read it from the TCP socket when first asked (then kept). */
  local?: Address | null | 'socket';
  /** The peer's address, likewise. */
  peer?: Address | null | 'socket';
  /** What a trusted proxy said about the connection (`info.proxy`). */
  proxy?: ProxyInfo;
}

const noop = () => {};

const READING = 1;
const RELEASED = 2;

/**
 * The stream's listeners are shared functions, not closures per transport: a server holds many
 * idle connections, and each closure costs memory. Node calls them with the stream as `this`;
 * this symbol leads back to the transport.
 */
const kOwner = Symbol('tlskit.streamTransport');
type Owned = Duplex & { [kOwner]?: StreamTransport };
const kStreamData = Symbol('tlskit.streamData');
const kStreamEnd = Symbol('tlskit.streamEnd');
const kStreamFinish = Symbol('tlskit.streamFinish');
const kStreamError = Symbol('tlskit.streamError');
const kStreamClose = Symbol('tlskit.streamClose');

function onData(this: Owned, chunk: Buffer | string): void {
  this[kOwner]?.[kStreamData](chunk);
}
function onEnd(this: Owned): void {
  this[kOwner]?.[kStreamEnd]();
}
function onFinish(this: Owned): void {
  this[kOwner]?.[kStreamFinish]();
}
function onError(this: Owned, error: unknown): void {
  this[kOwner]?.[kStreamError](error);
}
function onClose(this: Owned): void {
  this[kOwner]?.[kStreamClose]();
}

/**
 * A Transport over a Node Duplex. One implementation serves TCP and Unix sockets (`net.Socket`),
 * any user stream (`fromDuplex`) and TLS (`tls.TLSSocket`), so the data path is the same everywhere:
 * `'data'` events go straight to `dataReceived`, writes straight to `stream.write`.
 */
export class StreamTransport extends BaseTransport {
  readonly #stream: Duplex;
  /** `null` until first asked when a subclass describes the transport (`kind: null`). */
  #info: TransportInfo | null;
  #error: Error | null = null;
  /**
   * `READING` (the data listener is on) and `RELEASED` (the stream went to a consumer outside
   * tlskit: nothing reads it here), as bits: one field per transport rather than two.
   */
  #flags = 0;
  /** Made on the first write: many transports (idle ones, detached ones) never write. */
  #afterWrite: (() => void) | null = null;

  /** Stream events, reported by the shared listeners below. */
  [kStreamData](chunk: Buffer | string): void {
    // A stream given an encoding (`setEncoding('hex')`) emits its bytes as text in that encoding.
    this._onData(typeof chunk === 'string' ? Buffer.from(chunk, this.#encoding()) : chunk);
  }

  #encoding(): BufferEncoding {
    return (this.#stream as { readableEncoding?: BufferEncoding | null }).readableEncoding ?? 'utf8';
  }

  [kStreamEnd](): void {
    this._onEof();
  }

  [kStreamFinish](): void {
    this._onWriteFinished();
  }

  [kStreamError](error: unknown): void {
    this.#error ??= this._mapError(error);
    // Report at once: a Node stream may still emit 'end' before 'close', and the error is the
    // truer account of what happened.
    if (!this._lost) this._onError(this.#error);
  }

  [kStreamClose](): void {
    if (this._lost) return;
    // Ended both ways, the stream destroyed itself while the protocol had paused reading: what
    // it holds (bytes, then the end) is delivered on resume, and the connection ends cleanly then.
    if (this.#error === null && this._completeButHeld) return;
    this._onClosed(
      this.#error ??
        new ConnectionError('ERR_STREAM_PREMATURE_CLOSE', 'the stream closed before the connection finished'),
    );
  }

  /** `options.kind` null: the subclass provides `info` itself. */
  constructor(stream: Duplex, options: StreamTransportOptions | (BaseTransportOptions & { kind: null })) {
    super(options);
    this.#stream = stream;
    this.#info = options.kind === null ? null : streamInfo(stream, options as StreamTransportOptions);
    // Half-close is part of the contract: the stream must not end our side when the peer ends.
    (stream as { allowHalfOpen?: boolean }).allowHalfOpen = true;
    (stream as Owned)[kOwner] = this;
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.on('finish', onFinish);
    if (stream.destroyed) queueMicrotask(() => onClose.call(stream as Owned));
  }

  get info(): TransportInfo {
    this.#info ??= this._describe();
    return this.#info;
  }

  /**
   * The info of a transport made with `kind: null`, made when first asked and then kept (in this
   * class's field: idle servers hold transports by the thousand, so a subclass keeps no second one).
   */
  protected _describe(): TransportInfo {
    throw new Error(
      'StreamTransport: made with `kind: null`, so the subclass must override `_describe` (a tlskit bug)',
    );
  }

  /** The Node stream underneath, for layers inside tlskit. */
  get stream(): Duplex {
    return this.#stream;
  }

  /** Map a stream error to what the protocol sees; TLS overrides this. */
  protected _mapError(error: unknown): Error {
    return toTransportError(error);
  }

  protected _write(data: Uint8Array): void {
    try {
      this.#afterWrite ??= () => this._onDrained();
      this.#stream.write(data, this.#afterWrite);
    } catch (error) {
      // A stream whose write throws (Node #29678) fails the connection; the caller's write does
      // not throw a foreign error.
      const mapped = this._mapError(error);
      process.nextTick(() => this._onError(mapped));
    }
  }

  protected _end(): void {
    this.#stream.end();
  }

  protected _destroy(error: Error | null, hard: boolean): void {
    const stream = this.#stream;
    if ((stream as Owned)[kOwner] !== this) return; // detached: the stream belongs to a layer above
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('finish', onFinish);
    if (stream.destroyed) return;
    if (hard) this._abortStream(error);
    else stream.destroy();
  }

  /** Ends the stream so that the peer sees an error; TLS overrides this. */
  protected _abortStream(error: Error | null): void {
    abortStream(this.#stream, error);
  }

  protected _pauseSource(): void {
    if ((this.#flags & RELEASED) === 0) this.#stream.pause();
  }

  protected _resumeSource(): void {
    if ((this.#flags & RELEASED) !== 0) return;
    if ((this.#flags & READING) === 0) {
      this.#flags |= READING;
      this.#stream.on('data', onData);
      this.#stream.on('end', onEnd);
    }
    this.#stream.resume();
  }

  protected get _queuedBytes(): number {
    return this.#stream.writableLength;
  }

  override [kPendingBytes](): number {
    return super[kPendingBytes]() + this.#stream.readableLength;
  }

  /**
   * Stops reporting anything and returns the stream, for a TLS layer that hands it to `node:tls`.
   * Undelivered bytes go back into the stream's buffer, in order, when `keepPending` is set
   * (`node:tls` then feeds them to the handshake); otherwise the caller has checked there are none.
   */
  [kDetachStream](keepPending: boolean): Duplex {
    const stream = this.#stream;
    stream.pause();
    // A server's idle deadline watched this stream; the layer above reads and writes it now, so
    // its activity would no longer be seen here.
    if (stream instanceof Socket) stream.setTimeout(0);
    const held = this[kTakePending]();
    if (keepPending) for (let i = held.length - 1; i >= 0; i--) stream.unshift(held[i]);
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('finish', onFinish);
    stream.off('close', onClose);
    stream.off('error', onError);
    (stream as Owned)[kOwner] = undefined;
    // A late error from the old owner must not become an uncaught exception.
    stream.on('error', noop);
    return stream;
  }

  /**
   * Gives the stream to a consumer outside tlskit that reads and writes it itself (node:http and
   * node:http2 take a socket as their connection), keeping the transport as the connection's
   * record: its protocol stays bound (a server tells it when it is closing), `close()` ends the
   * stream gracefully and destroys it after `closeTimeout`, `abort()` aborts it as the transport
   * would, and the connection is lost, with `connectionLost` and the server's bookkeeping, when
   * the stream closes. `write` and `end` throw: the consumer is the only writer now. The stream is
   * returned paused, with any undelivered bytes back in its buffer; the consumer resumes it once
   * its listeners are in place.
   */
  [kReleaseStream](): Duplex {
    const closeTimeout = this._closeTimeout;
    const stream = this[kDetachStream](true);
    this.#flags |= RELEASED;
    let closing = false;
    let aborted: Error | null = null;
    const owner: TransportOwner = {
      get closing() {
        return closing || stream.destroyed;
      },
      close: () => {
        if (closing || stream.destroyed) return;
        closing = true;
        stream.end();
        const timer = setTimeout(() => stream.destroy(), closeTimeout);
        stream.once('close', () => clearTimeout(timer));
      },
      abort: (error) => {
        closing = true;
        aborted ??= error ?? new ConnectionError('ECONNABORTED', 'the transport was aborted');
        if (!stream.destroyed) this._abortStream(aborted);
      },
    };
    this[kUpgradedTo](owner);
    stream.once('close', () => this._onClosed(aborted));
    if (stream.destroyed) queueMicrotask(() => this._onClosed(aborted));
    return stream;
  }
}

/**
 * Ends a stream so that its peer sees an error, not an end of stream: a TCP reset, or a stream
 * destroyed with an error (a Unix socket cannot signal a reset, so its peer sees an end).
 */
export function abortStream(stream: Duplex, error: Error | null): void {
  // Only a plain TCP socket can reset (a TLS socket or a Unix socket would throw): tell them apart
  // without the cost of a thrown error, since aborts can be frequent.
  if (stream instanceof Socket && !(stream instanceof TLSSocket) && typeof stream.remotePort === 'number') {
    stream.resetAndDestroy();
    return;
  }
  stream.destroy(error ?? new ConnectionError('ECONNABORTED', 'the transport was aborted'));
}

/**
 * The info of a transport whose addresses come from its socket. Each read is a system call, which
 * most connections never need, so none is made up front or at close: `local` and `peer` read the
 * socket on first access and keep the value; a closed socket no longer knows its addresses, so one
 * never read before is `null`. A class rather than accessors defined on each object: defining
 * properties per connection cost more than a tenth of making the TLS socket on a server's accept.
 * `toJSON` and `util.inspect` show the addresses like the plain data of other transports.
 */
class SocketInfo implements TransportInfo {
  readonly kind: TransportKind;
  declare readonly proxy?: ProxyInfo;
  #socket: Socket;
  #local: Address | null | undefined = undefined;
  #peer: Address | null | undefined = undefined;

  constructor(kind: TransportKind, socket: Socket, proxy: ProxyInfo | undefined) {
    this.kind = kind;
    if (proxy) (this as { proxy?: ProxyInfo }).proxy = proxy;
    this.#socket = socket;
  }

  get local(): Address | null {
    if (this.#local === undefined)
      this.#local = socketAddress(this.#socket.localAddress, this.#socket.localPort);
    return this.#local;
  }

  get peer(): Address | null {
    if (this.#peer === undefined)
      this.#peer = socketAddress(this.#socket.remoteAddress, this.#socket.remotePort);
    return this.#peer;
  }

  toJSON(): TransportInfo {
    const { kind, local, peer, proxy } = this;
    return proxy ? { kind, local, peer, proxy } : { kind, local, peer };
  }

  [inspect.custom](_depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return show(this.toJSON(), options);
  }
}

function socketAddress(host: string | undefined, port: number | undefined): Address | null {
  return host === undefined || port === undefined ? null : { host, port };
}

/** @internal The info of a transport over `stream` (also of a TLS socket's own connection). */
export function streamInfo(stream: Duplex, options: StreamTransportOptions): TransportInfo {
  const { kind, local = null, peer = null, proxy } = options;
  if (local !== 'socket' && peer !== 'socket')
    return proxy ? { kind, local, peer, proxy } : { kind, local, peer };
  if (local !== 'socket' || peer !== 'socket' || !(stream instanceof Socket)) {
    throw new TypeError(
      "StreamTransport: addresses read from the socket need a net.Socket and both set to 'socket'",
    );
  }
  return new SocketInfo(kind, stream, proxy);
}
