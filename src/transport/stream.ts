import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { BaseTransport, type BaseTransportOptions, kPendingBytes, kTakePending } from './base.js';
import { ConnectionError, toTransportError } from './errors.js';
import type { Address, TransportInfo, TransportKind } from './transport.js';

/** Internal: takes the Node stream out of a StreamTransport so a TLS layer can wrap it natively. */
export const kDetachStream = Symbol('tlskit.detachStream');

export interface StreamTransportOptions extends BaseTransportOptions {
  kind: TransportKind;
  /** Our address, or a function that reads it when first asked (it is kept from then on). */
  local?: Address | null | (() => Address | null);
  /** The peer's address, likewise. */
  peer?: Address | null | (() => Address | null);
}

const noop = () => {};

/**
 * A Transport over a Node Duplex. One implementation serves TCP and Unix sockets (`net.Socket`),
 * any user stream (`fromDuplex`) and TLS (`tls.TLSSocket`), so the data path is the same everywhere:
 * `'data'` events go straight to `dataReceived`, writes straight to `stream.write`.
 */
export class StreamTransport extends BaseTransport {
  readonly #stream: Duplex;
  #info: TransportInfo;
  #error: Error | null = null;
  #reading = false;
  #detached = false;

  readonly #onData = (chunk: Buffer | string) => {
    this._onData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };
  readonly #onEnd = () => this._onEof();
  readonly #onFinish = () => this._onWriteFinished();
  readonly #onError = (error: unknown) => {
    this.#error ??= this._mapError(error);
    // Report at once: a Node stream may still emit 'end' before 'close', and the error is the
    // truer account of what happened.
    if (!this.#detached && !this._lost) this._onError(this.#error);
  };
  readonly #onClose = () => {
    if (this.#detached || this._lost) return;
    this._onClosed(
      this.#error ??
        new ConnectionError('ERR_STREAM_PREMATURE_CLOSE', 'the stream closed before the connection finished'),
    );
  };
  readonly #afterWrite = () => this._onDrained();

  constructor(stream: Duplex, options: StreamTransportOptions) {
    super(options);
    this.#stream = stream;
    this.#info = lazyInfo(options);
    // Half-close is part of the contract: the stream must not end our side when the peer ends.
    (stream as { allowHalfOpen?: boolean }).allowHalfOpen = true;
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    stream.on('finish', this.#onFinish);
    if (stream.destroyed) queueMicrotask(this.#onClose);
  }

  get info(): TransportInfo {
    return this.#info;
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
    void this.#info.local; // read lazy addresses while the socket can still tell
    void this.#info.peer;
    stream.off('data', this.#onData);
    stream.off('end', this.#onEnd);
    stream.off('finish', this.#onFinish);
    if (stream.destroyed) return;
    if (hard) this._abortStream(error);
    else stream.destroy();
  }

  /** Ends the stream so that the peer sees an error; TLS overrides this. */
  protected _abortStream(error: Error | null): void {
    abortStream(this.#stream, error);
  }

  protected _pauseSource(): void {
    this.#stream.pause();
  }

  protected _resumeSource(): void {
    if (!this.#reading) {
      this.#reading = true;
      this.#stream.on('data', this.#onData);
      this.#stream.on('end', this.#onEnd);
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
    const held = this[kTakePending]();
    if (keepPending) for (let i = held.length - 1; i >= 0; i--) stream.unshift(held[i]);
    stream.off('data', this.#onData);
    stream.off('end', this.#onEnd);
    stream.off('finish', this.#onFinish);
    stream.off('close', this.#onClose);
    stream.off('error', this.#onError);
    // A late error from the old owner must not become an uncaught exception.
    stream.on('error', noop);
    this.#detached = true;
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

/** Info whose addresses are read on first access, then kept. */
function lazyInfo(options: StreamTransportOptions): TransportInfo {
  const resolve = (value: StreamTransportOptions['local']) =>
    typeof value === 'function' ? value() : (value ?? null);
  let local: Address | null | undefined;
  let peer: Address | null | undefined;
  return {
    kind: options.kind,
    get local() {
      if (local === undefined) local = resolve(options.local);
      return local;
    },
    set local(value) {
      local = value;
    },
    get peer() {
      if (peer === undefined) peer = resolve(options.peer);
      return peer;
    },
    set peer(value) {
      peer = value;
    },
  };
}
