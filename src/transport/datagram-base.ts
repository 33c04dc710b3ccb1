/**
 * The state machine every datagram transport shares: binding, the order and uniqueness of
 * callbacks, close/abort, the bounded hold while reading is paused, the size limit, and send-queue
 * flow control. A subclass moves datagrams; this class decides what the protocol sees.
 *
 * Unlike BaseTransport there is no end of stream to wait for, so `close()` waits only for our own
 * queue to drain (bounded by `closeTimeout`) and nothing here depends on the peer.
 */
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HIGH_WATER_MARK } from './base.js';
import { asError, callAbortingOnThrow, checkWaterMarks, deliverLastCallback, toBytes } from './callbacks.js';
import type { DatagramProtocol, DatagramTransport } from './datagram.js';
import {
  InvalidArgumentError,
  LimitExceededError,
  StateError,
  TimeoutError,
  toTransportError,
} from './errors.js';

/** Where a datagram came from or goes to. */
export interface DatagramAddress {
  host: string;
  port: number;
}

/** What a datagram transport runs over. */
export type DatagramKind = 'udp4' | 'udp6' | 'memory';

/** Describes a datagram endpoint. */
export interface DatagramInfo {
  kind: DatagramKind;
  /** Our bound address. */
  local: DatagramAddress | null;
  /** The peer of a connected endpoint, `null` on an unconnected one. */
  peer: DatagramAddress | null;
  /** The OS send buffer size in bytes (SO_SNDBUF), where there is one. */
  sendBufferSize: number | null;
  /** The OS receive buffer size in bytes (SO_RCVBUF), where there is one. */
  receiveBufferSize: number | null;
}

/** The largest UDP payload over IPv4: 65,535 minus the IPv4 (20) and UDP (8) headers. */
export const MAX_UDP4_PAYLOAD = 65_507;
/** The largest UDP payload over IPv6 without jumbograms: 65,535 minus the UDP header. */
export const MAX_UDP6_PAYLOAD = 65_527;
/** How many datagrams a paused reader holds before dropping new ones. */
export const DEFAULT_HELD_DATAGRAMS = 1024;

type Held = { data: Uint8Array; from: DatagramAddress };

export abstract class BaseDatagramTransport implements DatagramTransport {
  #protocol: DatagramProtocol | null = null;
  #started = false;
  #high = DEFAULT_HIGH_WATER_MARK;
  #low = DEFAULT_HIGH_WATER_MARK / 4;
  #writePaused = false;
  #readPaused = false;
  #held: Held[] = [];
  #dropped = 0;
  #closing = false;
  #lost = false;
  #lostError: Error | null = null;
  #closeTimer: NodeJS.Timeout | undefined;
  readonly #closeTimeout: number;
  readonly #where: string;

  constructor(where: string, closeTimeout = DEFAULT_CLOSE_TIMEOUT) {
    this.#where = where;
    this.#closeTimeout = closeTimeout;
  }

  abstract get info(): DatagramInfo;
  abstract get maxDatagramSize(): number;
  /** Hand one datagram to the medium; `to` is already checked against connectedness. */
  protected abstract _send(data: Uint8Array, to: DatagramAddress | undefined): void;
  /** Release the medium. */
  protected abstract _destroy(): void;
  /** Bytes queued and not yet taken. */
  protected abstract get _queuedBytes(): number;
  /** Start delivering (called after the first `setProtocol`). */
  protected abstract _start(): void;
  /** Throws unless `to` fits: required when unconnected, absent or the peer when connected. */
  protected abstract _destination(to: DatagramAddress | undefined): void;

  get protocol(): DatagramProtocol | null {
    return this.#protocol;
  }
  get closing(): boolean {
    return this.#closing;
  }
  get writeBufferSize(): number {
    return this.#lost ? 0 : this._queuedBytes;
  }
  get dropped(): number {
    return this.#dropped;
  }
  get held(): number {
    return this.#held.length;
  }

  setProtocol(protocol: DatagramProtocol): void {
    if (typeof protocol !== 'object' || protocol === null) {
      throw new InvalidArgumentError('setProtocol: protocol must be an object with optional callbacks');
    }
    this.#protocol = protocol;
    this.#call(protocol.connectionMade, this);
    if (this.#lost) {
      this.#deliverLost(protocol, this.#lostError);
      return;
    }
    if (!this.#started && this.#protocol === protocol) {
      this.#started = true;
      this._start();
    }
  }

  send(data: Uint8Array | string, to?: DatagramAddress): void {
    if (this.#closing) {
      throw new StateError(
        'ERR_TRANSPORT_CLOSED',
        `send: cannot send, ${this.#lost ? 'the endpoint is closed' : 'close() was called'}`,
      );
    }
    const bytes = toBytes(data, 'send');
    const limit = this.maxDatagramSize;
    if (bytes.length > limit) {
      throw new LimitExceededError(
        `send: a datagram of ${bytes.length} bytes is over the limit of ${limit} bytes for ${this.info.kind}; one send is one datagram, so split the message in the protocol`,
        limit,
      );
    }
    this._destination(to);
    this._send(bytes, to);
    if (!this.#writePaused && this._queuedBytes > this.#high) {
      this.#writePaused = true;
      this.#call(this.#protocol?.pauseWriting);
    }
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#held = [];
    if (this._queuedBytes === 0) {
      this.#finish(null);
      return;
    }
    this.#closeTimer = setTimeout(() => {
      const queued = this._queuedBytes;
      this.#finish(
        queued === 0
          ? null
          : new TimeoutError(
              `close: ${queued} queued bytes were not sent within ${this.#closeTimeout} ms`,
              this.#closeTimeout,
            ),
      );
    }, this.#closeTimeout);
  }

  abort(error?: Error): void {
    this.#finish(error ?? null);
  }

  pauseReading(): void {
    this.#readPaused = true;
  }

  resumeReading(): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    const held = this.#held;
    this.#held = [];
    for (let i = 0; i < held.length && !this.#readPaused && !this.#closing; i++) {
      this.#deliver(held[i]!.data, held[i]!.from);
      if (this.#readPaused) this.#held = held.slice(i + 1).concat(this.#held);
    }
  }

  setWriteBufferLimits(high: number = DEFAULT_HIGH_WATER_MARK, low: number = Math.floor(high / 4)): void {
    checkWaterMarks(high, low);
    this.#high = high;
    this.#low = low;
    this._onDrained();
  }

  /** The function name used in this transport's errors. */
  protected get _where(): string {
    return this.#where;
  }

  /** Report an arriving datagram. */
  protected _onDatagram(data: Uint8Array, from: DatagramAddress): void {
    if (this.#closing) return;
    if (this.#readPaused) {
      if (this.#held.length < DEFAULT_HELD_DATAGRAMS) this.#held.push({ data, from });
      else this.#dropped++;
      return;
    }
    this.#deliver(data, from);
  }

  /** Report a non-fatal error from the network. */
  protected _onNetworkError(error: unknown): void {
    if (this.#lost) return;
    this.#call(this.#protocol?.errorReceived, toTransportError(error));
  }

  /** Report that queued bytes were taken. */
  protected _onDrained(): void {
    if (this.#lost) return;
    const queued = this._queuedBytes;
    if (this.#writePaused && queued <= this.#low) {
      this.#writePaused = false;
      this.#call(this.#protocol?.resumeWriting);
    }
    if (this.#closing && queued === 0) this.#finish(null);
  }

  /** Report that the medium went away on its own. */
  protected _onClosed(error: Error | null): void {
    this.#finish(error);
  }

  #deliver(data: Uint8Array, from: DatagramAddress): void {
    const protocol = this.#protocol;
    if (!protocol?.datagramReceived) return;
    try {
      protocol.datagramReceived(data, from);
    } catch (error) {
      this.abort(asError(error));
    }
  }

  #finish(error: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#lostError = error;
    this.#closing = true;
    this.#held = [];
    clearTimeout(this.#closeTimer);
    try {
      this._destroy();
    } finally {
      if (this.#protocol) this.#deliverLost(this.#protocol, error);
    }
  }

  #deliverLost(protocol: DatagramProtocol, error: Error | null): void {
    deliverLastCallback(protocol, protocol.connectionLost, error);
  }

  // biome-ignore lint/suspicious/noExplicitAny: callbacks of any arity are forwarded unchanged
  #call<A extends any[]>(fn: ((...args: A) => unknown) | undefined, ...args: A): void {
    if (!fn || this.#lost) return;
    callAbortingOnThrow(this.#protocol, fn, args, (error) => this.abort(error));
  }
}
