import { OPTION_NAMES } from '../tls/option-names.js';
import { type StartTlsOptions, upgrade } from '../tls/start-tls.js';
import { toBytes } from '../transport/callbacks.js';
import {
  AbortError,
  IncompleteReadError,
  InvalidArgumentError,
  LimitExceededError,
  StateError,
} from '../transport/errors.js';
import { checkOptionNames, type OptionNames } from '../transport/options.js';
import type { Protocol } from '../transport/protocol.js';
import type { Transport, TransportInfo } from '../transport/transport.js';
import { ByteQueue, DelimiterSearch } from './byte-queue.js';
import { checkReadOptions, type ReadDeadline, type ReadOptions, readDeadline } from './read-deadline.js';

export type { ReadOptions };

/** Default `limit` of `readUntil` and `readLine`: 64 KiB. */
/** Internal: hands a Connection's transport to a relay's protocol (relay.ts). */
export const kHandTo = Symbol('tlskit.handTo');

export const DEFAULT_READ_LIMIT = 64 * 1024;
/** Bytes a Connection buffers before it pauses the transport: 64 KiB. */
const BUFFER_HIGH_WATER = 64 * 1024;

/** Options of `readUntil` and `readLine`. */
export interface ReadLimitOptions extends ReadOptions {
  /** Most bytes to accept before the delimiter is found, delimiter included (default 64 KiB). */
  limit?: number;
}

const NO_OPTIONS: ReadOptions = {};

/** What `read` and `readExactly` take. */
export const READ_OPTIONS: OptionNames = { known: ['signal', 'timeout'] };
/** What `readUntil` and `readLine` take. */
export const READ_LIMIT_OPTIONS: OptionNames = { known: ['limit', 'signal', 'timeout'] };

const decoder = new TextDecoder();
const NEWLINE = new Uint8Array([0x0a]);

/**
 * Async reads and writes over any Transport. Reads wait for data; `write` resolves once the
 * transport's buffer is below its high-water mark, so a loop of `await write()` never piles up
 * memory. At most one read may wait at a time.
 *
 * The peer's end of stream does not close the connection: reads return `null` and writing stays
 * possible until `end()` or `close()`.
 */
export class Connection implements AsyncIterable<Uint8Array> {
  #transport: Transport;
  readonly #buffer = new ByteQueue();
  #eof = false;
  #lost = false;
  #error: Error | null = null;
  #aborted = false;
  #demand = 0;
  #readWaiter: (() => void) | null = null;
  /**
   * A read is under way, from its call until it has taken its bytes. Not `#readWaiter`: that is
   * null between a wake and the woken read's next step, and a read whose bytes were already
   * buffered never waits at all, so a second read could take the first one's bytes.
   */
  #reading = false;
  #writePaused = false;
  #writeWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  readonly #closed: Promise<Error | null>;
  /** Made when first asked for, or when the server starts closing. */
  #serverClosing: AbortController | null = null;
  /** A startTls() is waiting for its handshake. */
  #upgrading = false;
  #resolveClosed!: (error: Error | null) => void;

  /** Wraps `transport`, binding the Connection's own protocol to it. */
  constructor(transport: Transport) {
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#transport = transport;
    transport.setProtocol(this.#protocol());
  }

  /** The transport underneath (the TLS transport after `startTls`). */
  get transport(): Transport {
    return this.#transport;
  }

  /** What the connection runs over and where its ends are. */
  get info(): TransportInfo {
    return this.#transport.info;
  }

  /**
   * Aborts when the server that accepted this connection begins a graceful shutdown
   * (`server.close()`): finish the request in progress and return from the handler, which then
   * closes the connection cleanly; the server aborts it at its deadline otherwise. Pass it to a
   * read that waits for the next request, `connection.readLine({ signal: connection.serverClosing })`,
   * so that an idle connection ends at once. It never aborts on a client's connection.
   */
  get serverClosing(): AbortSignal {
    this.#serverClosing ??= new AbortController();
    return this.#serverClosing.signal;
  }

  /**
   * Resolves once the connection is gone: with `null` after a clean close (or an `abort()` without
   * an error, which is no failure of the connection), else the error.
   */
  get closed(): Promise<Error | null> {
    return this.#closed;
  }

  /** Reads the next chunk as it arrived, or `null` once the peer finished sending. */
  async read(options?: ReadOptions): Promise<Uint8Array | null> {
    // Unchecked when there are none: `for await` reads this way, chunk after chunk.
    if (options !== undefined) checkReadOptions('read', options, READ_OPTIONS);
    this.#claimRead('read');
    try {
      await this.#waitFor('read', () => this.#buffer.length > 0, 1, options ?? NO_OPTIONS);
      const chunk = this.#buffer.shiftChunk();
      this.#consumed();
      return chunk;
    } finally {
      this.#reading = false;
    }
  }

  /** Reads exactly `n` bytes; rejects with `ERR_INCOMPLETE_READ` if the stream ends first. */
  async readExactly(n: number, options: ReadOptions = {}): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0) {
      throw new InvalidArgumentError(`readExactly: \`n\` must be a non-negative integer, got ${String(n)}`);
    }
    checkReadOptions('readExactly', options, READ_OPTIONS);
    this.#claimRead('readExactly');
    try {
      await this.#waitFor('readExactly', () => this.#buffer.length >= n, n, options);
      if (this.#buffer.length < n) {
        const partial = this.#buffer.shift(this.#buffer.length);
        this.#consumed();
        throw new IncompleteReadError(partial, n);
      }
      const bytes = this.#buffer.shift(n);
      this.#consumed();
      return bytes;
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Reads up to and including `delimiter`. Rejects with `ERR_LIMIT_EXCEEDED` once more than `limit`
   * bytes arrived without it (the bytes stay buffered), and with `ERR_INCOMPLETE_READ` (carrying
   * the partial bytes) if the stream ends first.
   */
  async readUntil(delimiter: Uint8Array | string, options: ReadLimitOptions = {}): Promise<Uint8Array> {
    const needle = toBytes(delimiter, 'readUntil');
    if (needle.length === 0) throw new InvalidArgumentError('readUntil: `delimiter` must not be empty');
    checkReadOptions('readUntil', options, READ_LIMIT_OPTIONS);
    const limit = checkLimit('readUntil', options.limit);
    return this.#readUntil('readUntil', needle, limit, options);
  }

  /**
   * Reads a line and returns it without its `\n` or `\r\n`, decoded as UTF-8. Returns the last line
   * even without a terminator, then `null` at end of stream. Rejects with `ERR_LIMIT_EXCEEDED` when a
   * line with its terminator is longer than `limit` bytes (`limit: 6` takes `abcd\r\n`).
   */
  async readLine(options: ReadLimitOptions = {}): Promise<string | null> {
    checkReadOptions('readLine', options, READ_LIMIT_OPTIONS);
    const limit = checkLimit('readLine', options.limit);
    let line: Uint8Array;
    try {
      line = await this.#readUntil('readLine', NEWLINE, limit, options);
    } catch (error) {
      if (error instanceof IncompleteReadError) {
        return error.partial.length === 0 ? null : decoder.decode(error.partial);
      }
      throw error;
    }
    const end = line.length >= 2 && line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1;
    return decoder.decode(line.subarray(0, end));
  }

  /** Iterates over chunks until the peer finishes sending. Leaving the loop early does not close. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /**
   * Writes `data` (strings as UTF-8). Resolves at once while the transport's buffer is below its
   * high-water mark, otherwise once it drains: resolving means the transport took the bytes, not
   * that the peer has them. Rejects if the connection is lost while the write waits, since its bytes
   * are then dropped: with the connection's error, or a `StateError` `ERR_TRANSPORT_CLOSED` after
   * `abort()` without one.
   */
  write(data: Uint8Array | string): Promise<void> {
    try {
      this.#transport.write(data);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#writePaused) return Promise.resolve();
    return new Promise((resolve, reject) => this.#writeWaiters.push({ resolve, reject }));
  }

  /** Half-closes: we are done sending; reading continues. */
  end(): void {
    this.#transport.end();
  }

  /** Closes gracefully and resolves once the connection is gone (see `Transport.close`). */
  async close(): Promise<void> {
    this.#transport.close();
    await this.#closed;
  }

  /**
   * Closes at once, dropping unsent bytes. A write waiting to drain rejects, and so do reads once
   * the bytes already received are read: with `error`, or without one with a `StateError`
   * `ERR_TRANSPORT_CLOSED`, the code of any use of a closed connection, so that nobody mistakes an
   * abort for a delivered write or the peer's end of stream (`AbortError` is for `AbortSignal`s).
   */
  abort(error?: Error): void {
    this.#aborted = true;
    this.#transport.abort(error);
  }

  /** Bytes received and not read yet. */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  /**
   * Upgrades this connection to TLS in place (STARTTLS) and resolves once the handshake succeeded;
   * reads and writes then go through TLS. Bytes this connection buffered but nobody read count as
   * unconsumed plaintext: by default the upgrade is refused with `ERR_STARTTLS_PENDING_PLAINTEXT`
   * and they stay buffered. If the handshake fails, the connection is closed with that error.
   */
  async startTls(options: Omit<StartTlsOptions, 'protocol' | 'unconsumed'>): Promise<void> {
    checkOptionNames('Connection.startTls', options, OPTION_NAMES['Connection.startTls']);
    if (this.#reading) {
      throw new StateError(
        'ERR_READ_PENDING',
        'startTls: a read is waiting on this connection; upgrade between reads',
      );
    }
    if (this.#eof || this.#lost) {
      throw new StateError(
        'ERR_TRANSPORT_CLOSED',
        'startTls: the peer already finished or the connection is gone',
      );
    }
    if (this.#upgrading) {
      throw new StateError(
        'ERR_TRANSPORT_UPGRADED',
        'startTls: a TLS handshake on this connection is already under way; await the first startTls()',
      );
    }
    const buffered = this.#buffer.length;
    const unconsumed = buffered > 0 ? this.#buffer.shift(buffered) : undefined;
    this.#upgrading = true;
    try {
      await upgrade(this.#transport, { ...options, unconsumed, protocol: this.#protocol() });
    } catch (error) {
      // Refused before anything changed: the bytes go back where they were.
      if (unconsumed && !this.#lost) this.#buffer.push(unconsumed);
      throw error;
    } finally {
      this.#upgrading = false;
    }
  }

  /**
   * @internal Gives the transport's events to `protocol` from now on (a relay moves bytes without
   * a promise per chunk), keeping the Connection the record of the end: `closed` resolves and
   * `close()`/`abort()` still work. Returns the bytes read but not yet taken, and whether the
   * peer had already finished; reading stays as it was (the new protocol resumes it).
   */
  [kHandTo](protocol: Protocol): { buffered: Uint8Array | null; eof: boolean } {
    if (this.#reading) {
      throw new StateError('ERR_READ_PENDING', 'relay: a read is waiting on this connection');
    }
    const own = this.#protocol();
    const buffered = this.#buffer.length > 0 ? this.#buffer.shift(this.#buffer.length) : null;
    const eof = this.#eof;
    this.#transport.setProtocol({
      dataReceived: (data) => protocol.dataReceived?.(data),
      eofReceived: () => protocol.eofReceived?.() ?? false,
      pauseWriting: () => protocol.pauseWriting?.(),
      resumeWriting: () => protocol.resumeWriting?.(),
      serverClosing: () => {
        own.serverClosing?.();
        protocol.serverClosing?.();
      },
      connectionLost: (error) => {
        try {
          protocol.connectionLost?.(error);
        } finally {
          own.connectionLost?.(error);
        }
      },
    });
    return { buffered, eof };
  }

  async #readUntil(
    where: string,
    needle: Uint8Array,
    limit: number,
    options: ReadOptions,
  ): Promise<Uint8Array> {
    this.#claimRead(where);
    try {
      return await this.#takeUntil(where, needle, limit, options);
    } finally {
      this.#reading = false;
    }
  }

  async #takeUntil(
    where: string,
    needle: Uint8Array,
    limit: number,
    options: ReadOptions,
  ): Promise<Uint8Array> {
    // One search for the whole wait: each look continues where the last one stopped.
    const search = new DelimiterSearch(needle);
    let found = -1;
    const ready = () => {
      found = this.#buffer.find(search);
      if (found !== -1) return true;
      if (this.#buffer.length > limit) {
        throw new LimitExceededError(
          `${where}: no delimiter within the first ${limit} bytes (the bytes stay buffered; raise \`limit\` or read them with read())`,
          limit,
        );
      }
      return false;
    };
    await this.#waitFor(where, ready, limit + needle.length, options);
    if (found === -1) {
      const partial = this.#buffer.shift(this.#buffer.length);
      this.#consumed();
      throw new IncompleteReadError(partial, null);
    }
    const end = found + needle.length;
    if (end > limit) {
      throw new LimitExceededError(
        `${where}: the delimiter ends ${end} bytes in, past the limit of ${limit} (the bytes stay buffered)`,
        limit,
      );
    }
    const bytes = this.#buffer.shift(end);
    this.#consumed();
    return bytes;
  }

  /**
   * Waits until `ready()` holds or nothing more can arrive. A broken connection rejects with its
   * error; whatever was buffered stays buffered for `read()`. So does a cancelled or timed-out wait
   * (`options`), which consumes nothing.
   */
  async #waitFor(where: string, ready: () => boolean, demand: number, options: ReadOptions): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(`${where}: aborted before it started`, signal.reason);
    let deadline: ReadDeadline | null = null;
    try {
      while (!ready()) {
        if (this.#error) throw this.#error;
        if (this.#eof || this.#lost) return;
        if (deadline?.error) throw deadline.error;
        deadline ??= readDeadline(where, options, () => this.#wake());
        this.#demand = demand;
        this.#transport.resumeReading();
        await new Promise<void>((resolve) => {
          this.#readWaiter = resolve;
        });
      }
    } finally {
      this.#demand = 0;
      deadline?.clear();
    }
  }

  /** Refuses a read while another is under way: two reads would split one stream's bytes between them. */
  #claimRead(where: string): void {
    if (this.#reading) {
      throw new StateError(
        'ERR_READ_PENDING',
        `${where}: another read is already waiting on this connection`,
      );
    }
    this.#reading = true;
  }

  #wake(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = null;
    waiter?.();
  }

  #consumed(): void {
    if (!this.#lost && this.#buffer.length < BUFFER_HIGH_WATER) this.#transport.resumeReading();
  }

  #protocol(): Protocol {
    return {
      connectionMade: (transport) => {
        this.#transport = transport;
      },
      dataReceived: (data) => {
        this.#buffer.push(data);
        if (this.#buffer.length >= Math.max(BUFFER_HIGH_WATER, this.#demand)) this.#transport.pauseReading();
        this.#wake();
      },
      eofReceived: () => {
        this.#eof = true;
        this.#wake();
        return true;
      },
      connectionLost: (error) => {
        this.#lost = true;
        this.#error =
          error ??
          (this.#aborted
            ? new StateError('ERR_TRANSPORT_CLOSED', 'read: abort() closed the connection')
            : null);
        this.#writePaused = false;
        // A write still waiting never had its bytes taken: a clean close drains the buffer, and
        // with it resumes writing, before it completes. So whatever the cause, they were dropped.
        const dropped =
          error ??
          new StateError(
            'ERR_TRANSPORT_CLOSED',
            'write: the connection was closed before these bytes were sent',
          );
        for (const waiter of this.#writeWaiters.splice(0)) waiter.reject(dropped);
        this.#wake();
        this.#resolveClosed(error);
      },
      pauseWriting: () => {
        this.#writePaused = true;
      },
      resumeWriting: () => {
        this.#writePaused = false;
        for (const waiter of this.#writeWaiters.splice(0)) waiter.resolve();
      },
      serverClosing: () => {
        this.#serverClosing ??= new AbortController();
        this.#serverClosing.abort(
          new AbortError('the server is closing: finish what is in progress and return from the handler'),
        );
      },
    };
  }
}

function checkLimit(where: string, limit: unknown): number {
  if (limit === undefined) return DEFAULT_READ_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`${where}: \`limit\` must be a positive integer, got ${String(limit)}`);
  }
  return limit;
}
