import { asError, callAbortingOnThrow, checkWaterMarks, deliverLastCallback, toBytes } from './callbacks.js';
import { InvalidArgumentError, StateError, TimeoutError } from './errors.js';
import type { Protocol } from './protocol.js';
import type { Transport, TransportInfo } from './transport.js';

/** Default write-buffer high-water mark: 64 KiB, as in asyncio. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Default time `close()` waits for the peer to finish, in milliseconds. */
export const DEFAULT_CLOSE_TIMEOUT = 5_000;

/** Internal hooks that layers inside tlskit (servers, TLS) use; not part of the public contract. */
export const kOnLost = Symbol('tlskit.onLost');
export const kOwnerView = Symbol('tlskit.ownerView');
export const kPendingBytes = Symbol('tlskit.pendingBytes');
export const kTakePending = Symbol('tlskit.takePending');
export const kUpgradedTo = Symbol('tlskit.upgradedTo');
export const kHandOver = Symbol('tlskit.handOver');
export const kTopmost = Symbol('tlskit.topmost');
/** The method `kOnLost` calls on an observer object. */
export const kLost = Symbol('tlskit.lost');

/**
 * Told once when the connection ends: a function, or an object with a `kLost` method, which lets
 * a server register the record it already keeps per connection instead of a closure per connection.
 */
export type LostListener = ((error: Error | null) => void) | { [kLost](error: Error | null): void };

function tell(listener: LostListener, error: Error | null): void {
  if (typeof listener === 'function') listener(error);
  else listener[kLost](error);
}

/**
 * What a layer that took over a transport forwards `close`/`abort` to. An owner with `failed` is a
 * layer whose start failed (a TLS handshake) and that tears the transport down a little later:
 * until then the transport reads as closing, and refuses writes as a closed one does.
 */
export type TransportOwner = Pick<Transport, 'close' | 'abort' | 'closing'> & { readonly failed?: Error };

export interface BaseTransportOptions {
  /** Time `close()` waits for the peer's end of stream before releasing the connection. */
  closeTimeout?: number;
}

interface WaterMarks {
  readonly high: number;
  readonly low: number;
}
const DEFAULT_WATER_MARKS: WaterMarks = { high: DEFAULT_HIGH_WATER_MARK, low: DEFAULT_HIGH_WATER_MARK / 4 };

/** The yes/no states of a transport, one bit each of `#flags`. */
const STARTED = 1;
const WRITE_PAUSED = 2;
const READ_PAUSED = 4;
const HELD_EOF = 8;
const EOF_RECEIVED = 16;
const WRITE_ENDED = 32;
const WRITE_FINISHED = 64;
const CLOSING = 128;
const LOST = 256;
const LOST_OWED = 512;

/**
 * The state machine every tlskit transport shares, so that all of them keep the contract the same
 * way: protocol binding, the order and uniqueness of callbacks, half-close, graceful and abortive
 * close, and write flow control. A subclass moves bytes; this class decides what the protocol sees.
 *
 * Subclasses implement the `_`-prefixed hooks and report events through `_onData`, `_onEof`,
 * `_onWriteFinished`, `_onError` and `_onDrained`.
 */
export abstract class BaseTransport implements Transport {
  #protocol: Protocol | null = null;
  /** The write buffer limits: one object shared by every transport until one sets its own. */
  #limits: WaterMarks = DEFAULT_WATER_MARKS;
  /** Chunks that arrived while reading was paused; the source is already stopped. */
  #held: Uint8Array[] | null = null;
  #lostError: Error | null = null;
  #closeTimer: NodeJS.Timeout | undefined;
  #closeTimeout: number;
  /** One listener, or several; most transports have at most one (their server's). */
  #lostListeners: LostListener | LostListener[] | null = null;
  #upgradedTo: TransportOwner | null = null;
  #ownerView: Transport | null = null;
  /**
   * The protocol whose `connectionMade` is running. A connection it ends there (an allow-list
   * refusing a peer, a throw) owes it `connectionLost`, delivered once `connectionMade` returns:
   * never inside it, and never skipped.
   */
  #making: Protocol | null = null;

  /**
   * The transport's yes/no states, one bit each in `#flags`: an idle server holds thousands of
   * transports, and ten boolean fields cost 72 bytes more per connection than one integer.
   */
  #flags = 0;

  #is(flag: number): boolean {
    return (this.#flags & flag) !== 0;
  }

  #set(flag: number, value: boolean): void {
    this.#flags = value ? this.#flags | flag : this.#flags & ~flag;
  }

  constructor(options: BaseTransportOptions = {}) {
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
  }

  abstract get info(): TransportInfo;

  /**
   * Queue bytes for sending. Called only while writing is allowed. `handedOver`: nobody else holds
   * `data` (the TLS layer's records, fresh from the engine), so a transport that would copy a
   * caller's bytes may keep them as they are.
   */
  protected abstract _write(data: Uint8Array, handedOver: boolean): void;
  /** Flush queued bytes, then half-close; report completion with `_onWriteFinished()`. */
  protected abstract _end(): void;
  /** Release the connection. `hard` (abort) drops queued bytes and resets the peer. */
  protected abstract _destroy(error: Error | null, hard: boolean): void;
  /** Stop reading from the source. */
  protected abstract _pauseSource(): void;
  /** Start or resume reading from the source. The first call follows the first `setProtocol`. */
  protected abstract _resumeSource(): void;
  /** Bytes queued for sending and not yet taken by the peer or the OS. */
  protected abstract get _queuedBytes(): number;

  get protocol(): Protocol | null {
    return this.#protocol;
  }

  get closing(): boolean {
    return this.#upgradedTo ? this.#upgradedTo.closing : this.#is(CLOSING);
  }

  get writeBufferSize(): number {
    return this.#is(LOST) ? 0 : this._queuedBytes;
  }

  setProtocol(protocol: Protocol): void {
    if (typeof protocol !== 'object' || protocol === null) {
      throw new InvalidArgumentError('setProtocol: protocol must be an object with optional callbacks');
    }
    this.#protocol = protocol;
    if (this.#is(LOST)) {
      // Bound after the end: made, then lost at once. A throw in connectionMade is reported as
      // on a live transport, through connectionLost, and never escapes to whoever bound it.
      let thrown: Error | null = null;
      try {
        protocol.connectionMade?.(this);
      } catch (error) {
        thrown = asError(error);
      }
      this.#deliverLost(protocol, thrown ?? this.#lostError);
      return;
    }
    const boundWhilePaused = this.#is(WRITE_PAUSED);
    const outer = this.#making;
    this.#making = protocol;
    try {
      this.#call(protocol.connectionMade, this);
    } finally {
      this.#making = outer;
    }
    if (this.#protocol !== protocol) return;
    if (this.#is(LOST)) {
      if (this.#is(LOST_OWED)) this.#deliverLost(protocol);
      return;
    }
    // Bound while the buffer is over its high-water mark (a protocol switch towards a slow
    // peer): it must hear pauseWriting first, as its resumeWriting will come.
    if (boundWhilePaused && this.#is(WRITE_PAUSED)) this.#call(protocol.pauseWriting);
    if (!this.#is(STARTED)) {
      this.#set(STARTED, true);
      if (!this.#is(READ_PAUSED)) this._resumeSource();
    }
  }

  write(data: Uint8Array | string): void {
    this.#assertOwned('write');
    this.#write(toBytes(data, 'write'));
  }

  end(): void {
    if (this.#upgradedTo?.failed) return;
    this.#assertOwned('end');
    this.#end();
  }

  close(): void {
    if (this.#upgradedTo) this.#upgradedTo.close();
    else this.#close();
  }

  abort(error?: Error): void {
    if (this.#upgradedTo) this.#upgradedTo.abort(error);
    else this.#finish(error ?? null, true);
  }

  pauseReading(): void {
    if (this.#is(READ_PAUSED) || this.#is(CLOSING)) return;
    this.#set(READ_PAUSED, true);
    if (this.#is(STARTED)) this._pauseSource();
  }

  resumeReading(): void {
    if (!this.#is(READ_PAUSED) || this.#is(CLOSING)) return;
    this.#set(READ_PAUSED, false);
    const held = this.#held;
    if (held !== null) {
      // Chunks that arrive while these are delivered join the queue behind them, keeping order.
      while (held.length > 0 && !this.#is(READ_PAUSED) && !this.#is(CLOSING))
        this.#deliverData(held.shift()!);
      if (held.length === 0 && this.#held === held) this.#held = null;
    }
    if (this.#is(READ_PAUSED) || this.#is(CLOSING)) return;
    if (this.#is(HELD_EOF)) {
      this.#set(HELD_EOF, false);
      this.#deliverEof();
    }
    if (this.#is(STARTED) && !this.#is(READ_PAUSED) && !this.#is(LOST)) this._resumeSource();
  }

  setWriteBufferLimits(high: number = DEFAULT_HIGH_WATER_MARK, low: number = Math.floor(high / 4)): void {
    checkWaterMarks(high, low);
    this.#limits = { high, low };
    this.#checkHighWater();
    this._onDrained();
  }

  /**
   * The same transport without the upgrade guard, for the layer that owns it (a TLS bridge): its
   * writes and closes must reach this transport, while everybody else's are refused.
   */
  get [kOwnerView](): Transport {
    if (this.#ownerView) return this.#ownerView;
    const self = this;
    this.#ownerView = {
      // Only the TLS layer's bridge writes here, records the engine made afresh for this write.
      write: (data) => self.#write(toBytes(data, 'write'), true),
      end: () => self.#end(),
      close: () => self.#close(),
      abort: (error) => self.#finish(error ?? null, true),
      pauseReading: () => self.pauseReading(),
      resumeReading: () => self.resumeReading(),
      setWriteBufferLimits: (high, low) => self.setWriteBufferLimits(high, low),
      setProtocol: (protocol) => self.setProtocol(protocol),
      get closing() {
        return self.#is(CLOSING);
      },
      get writeBufferSize() {
        return self.writeBufferSize;
      },
      get protocol() {
        return self.protocol;
      },
      get info() {
        return self.info;
      },
    };
    return this.#ownerView;
  }

  /** Bytes that arrived but were not delivered to the protocol (reading is paused). */
  [kPendingBytes](): number {
    return this.#held?.reduce((sum, chunk) => sum + chunk.length, 0) ?? 0;
  }

  /** Removes and returns the undelivered bytes. */
  [kTakePending](): Uint8Array[] {
    const held = this.#held ?? [];
    this.#held = null;
    return held;
  }

  /**
   * Puts this transport under a layer above (TLS), or back under nobody with `null`. While owned,
   * `write` and `end` throw `ERR_TRANSPORT_UPGRADED`, and `close`/`abort` act on the owner.
   */
  [kUpgradedTo](owner: TransportOwner | null): void {
    this.#upgradedTo = owner;
  }

  /**
   * Completes a native upgrade: the layer above took the source itself, so this transport reports
   * nothing more. Its protocol moved up; its bookkeeping (server connection sets) ends when the
   * owner's connection does.
   */
  [kHandOver](owner: BaseTransport): void {
    this.#upgradedTo = owner;
    this.#protocol = null;
    owner[kOnLost]((error) => {
      if (this.#is(LOST)) return;
      this.#set(LOST, true);
      this.#set(CLOSING, true);
      this.#set(WRITE_ENDED, true);
      this.#lostError = error;
      clearTimeout(this.#closeTimer);
      this.#notifyLost(error);
    });
  }

  /** The transport the connection speaks through now: this one, or the TLS layer it became. */
  [kTopmost](): Transport {
    let transport: BaseTransport = this;
    while (transport.#upgradedTo instanceof BaseTransport) transport = transport.#upgradedTo;
    return transport;
  }

  /** Registers a listener for the end of the connection (servers track their connections). */
  [kOnLost](listener: LostListener): void {
    if (this.#is(LOST)) tell(listener, this.#lostError);
    else if (this.#lostListeners === null) this.#lostListeners = listener;
    else if (Array.isArray(this.#lostListeners)) this.#lostListeners.push(listener);
    else this.#lostListeners = [this.#lostListeners, listener];
  }

  /** How long `close()` waits for the peer, in milliseconds. */
  protected get _closeTimeout(): number {
    return this.#closeTimeout;
  }

  /** True once the connection is gone. */
  protected get _lost(): boolean {
    return this.#is(LOST);
  }

  /**
   * Whether the peer's end of stream arrived and waits for reading to resume, with our own end
   * already out: the connection is complete, and only the protocol has yet to read it out. A
   * source that closes now (a Node stream ended both ways destroys itself) loses nothing.
   */
  protected get _completeButHeld(): boolean {
    return this.#is(HELD_EOF) && this.#is(WRITE_FINISHED) && !this.#is(LOST);
  }

  /** True while the protocol wants no data. */
  protected get _readPaused(): boolean {
    return this.#is(READ_PAUSED) && !this.#is(CLOSING);
  }

  /** Report bytes from the source. */
  protected _onData(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.#is(LOST) || this.#is(EOF_RECEIVED) || this.#is(HELD_EOF)) return;
    if (this.#is(CLOSING)) return; // close() was called: drain and discard until the peer finishes
    if (this.#held !== null) {
      this.#held.push(chunk);
      return;
    }
    if (this.#is(READ_PAUSED)) {
      this.#held = [chunk];
      return;
    }
    this.#deliverData(chunk);
  }

  /** Report that the peer finished sending. */
  protected _onEof(): void {
    if (this.#is(LOST) || this.#is(EOF_RECEIVED) || this.#is(HELD_EOF)) return;
    if (!this.#is(CLOSING) && (this.#is(READ_PAUSED) || this.#held !== null)) {
      this.#set(HELD_EOF, true);
      return;
    }
    this.#deliverEof();
  }

  /** Report that our half-close reached the peer (or the OS). */
  protected _onWriteFinished(): void {
    if (this.#is(LOST) || this.#is(WRITE_FINISHED)) return;
    this.#set(WRITE_FINISHED, true);
    if (this.#is(EOF_RECEIVED)) this.#finish(null, false);
  }

  /** Report a fatal error; the connection is released and the protocol told. */
  protected _onError(error: Error): void {
    this.#finish(error, false);
  }

  /** Report that the connection ended without error (for sources that close on their own). */
  protected _onClosed(error: Error | null): void {
    this.#finish(error, false);
  }

  /** Report that queued bytes were taken; may resume the protocol's writing. */
  protected _onDrained(): void {
    if (this.#is(WRITE_PAUSED) && !this.#is(LOST) && this._queuedBytes <= this.#limits.low) {
      this.#set(WRITE_PAUSED, false);
      this.#call(this.#protocol?.resumeWriting);
    }
  }

  #write(data: Uint8Array, handedOver = false): void {
    if (this.#is(WRITE_ENDED) || this.#is(CLOSING)) {
      const reason = this.#is(LOST)
        ? 'the connection is closed'
        : this.#is(CLOSING)
          ? this.#is(EOF_RECEIVED)
            ? 'the connection is closing (close() was called, or eofReceived did not return true to keep it open)'
            : 'close() was called'
          : 'end() was called';
      throw new StateError(
        this.#is(LOST) || this.#is(CLOSING) ? 'ERR_TRANSPORT_CLOSED' : 'ERR_WRITE_AFTER_END',
        `write: cannot write, ${reason}`,
        { cause: this.#lostError ?? undefined },
      );
    }
    if (data.length === 0) return;
    this._write(data, handedOver);
    this.#checkHighWater();
  }

  #end(): void {
    if (this.#is(WRITE_ENDED) || this.#is(CLOSING)) return;
    this.#set(WRITE_ENDED, true);
    this._end();
  }

  #close(): void {
    if (this.#is(CLOSING)) return;
    this.#set(CLOSING, true);
    this.#held = null;
    // An end of stream held for a paused reader has arrived all the same: close() discards the
    // bytes before it, not the end itself, which would otherwise be waited for again.
    if (this.#is(HELD_EOF)) {
      this.#set(HELD_EOF, false);
      this.#set(EOF_RECEIVED, true);
    }
    if (!this.#is(WRITE_ENDED)) {
      this.#set(WRITE_ENDED, true);
      this._end();
      if (this.#is(LOST)) return;
    }
    if (this.#is(WRITE_FINISHED) && this.#is(EOF_RECEIVED)) {
      this.#finish(null, false);
      return;
    }
    // Keep reading (and discarding) so the peer's end of stream can arrive.
    if (this.#is(STARTED)) this._resumeSource();
    this.#closeTimer = setTimeout(() => {
      // Our bytes were taken: the peer merely did not finish in time, which costs nothing. Bytes
      // still queued are lost, and that is an error worth reporting.
      const queued = this._queuedBytes;
      const stuck = this.#is(WRITE_FINISHED)
        ? null
        : new TimeoutError(
            queued > 0
              ? `close: the peer did not take the last ${queued} bytes within ${this.#closeTimeout} ms`
              : `close: our end of stream was not out within ${this.#closeTimeout} ms (the connection below did not drain)`,
            this.#closeTimeout,
          );
      this.#finish(stuck, stuck !== null);
    }, this.#closeTimeout);
    // Kept referenced: close() promises connectionLost within closeTimeout, and a transport with
    // no socket of its own (a memory pair) would otherwise let the process exit before it comes.
  }

  #assertOwned(method: string): void {
    const owner = this.#upgradedTo;
    if (owner?.failed) {
      throw new StateError(
        'ERR_TRANSPORT_CLOSED',
        `${method}: cannot ${method}, the connection is closing: the TLS handshake over it failed`,
        { cause: owner.failed },
      );
    }
    if (owner) {
      throw new StateError(
        'ERR_TRANSPORT_UPGRADED',
        `${method}: this transport was upgraded to TLS; use the TLS transport startTls() returned`,
      );
    }
  }

  #checkHighWater(): void {
    if (!this.#is(WRITE_PAUSED) && !this.#is(LOST) && this._queuedBytes > this.#limits.high) {
      this.#set(WRITE_PAUSED, true);
      this.#call(this.#protocol?.pauseWriting);
    }
  }

  #deliverData(chunk: Uint8Array): void {
    // The hot path: a direct call rather than #call's generic forwarding.
    const protocol = this.#protocol;
    if (!protocol?.dataReceived) return;
    try {
      protocol.dataReceived(chunk);
    } catch (error) {
      this.abort(asError(error));
    }
  }

  #deliverEof(): void {
    this.#set(EOF_RECEIVED, true);
    if (this.#is(CLOSING)) {
      if (this.#is(WRITE_FINISHED)) this.#finish(null, false);
      return;
    }
    const protocol = this.#protocol;
    let keepOpen = false;
    if (protocol?.eofReceived) {
      try {
        keepOpen = protocol.eofReceived() === true;
      } catch (error) {
        this.abort(asError(error));
        return;
      }
    }
    if (this.#is(LOST) || this.#is(CLOSING)) return;
    if (!keepOpen) this.#close();
    else if (this.#is(WRITE_FINISHED)) this.#finish(null, false);
  }

  #finish(error: Error | null, hard: boolean): void {
    if (this.#is(LOST)) return;
    this.#set(LOST, true);
    this.#set(CLOSING, true);
    this.#set(WRITE_ENDED, true);
    this.#lostError = error;
    this.#held = null;
    clearTimeout(this.#closeTimer);
    try {
      this._destroy(error, hard);
    } finally {
      const protocol = this.#protocol;
      if (protocol === this.#making) this.#set(LOST_OWED, protocol !== null);
      else if (protocol) this.#deliverLost(protocol);
      this.#notifyLost(error);
    }
  }

  #notifyLost(error: Error | null): void {
    const listeners = this.#lostListeners;
    this.#lostListeners = null;
    if (Array.isArray(listeners)) for (const listener of listeners) tell(listener, error);
    else if (listeners) tell(listeners, error);
  }

  #deliverLost(protocol: Protocol, error: Error | null = this.#lostError): void {
    this.#set(LOST_OWED, false);
    deliverLastCallback(protocol, protocol.connectionLost, error);
  }

  // biome-ignore lint/suspicious/noExplicitAny: callbacks of any arity are forwarded unchanged
  #call<A extends any[]>(fn: ((...args: A) => unknown) | undefined, ...args: A): void {
    if (!fn || this.#is(LOST)) return;
    callAbortingOnThrow(this.#protocol, fn, args, (error) => this.abort(error));
  }
}
