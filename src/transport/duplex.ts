import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { BaseTransportOptions } from './base.js';
import { InvalidArgumentError } from './errors.js';
import { checkMilliseconds, checkOptionNames, type OptionNames } from './options.js';
import { StreamTransport } from './stream.js';
import type { TcpAddress, Transport } from './transport.js';

export const FROM_DUPLEX_OPTIONS: OptionNames = { known: ['closeTimeout'] };

/**
 * Makes any Node Duplex a Transport: `dataReceived` gets the stream's chunks, `write` writes to it,
 * `end` ends it. The stream is switched to allow half-open connections, as the contract requires.
 */
export function fromDuplex(stream: Duplex, options: BaseTransportOptions = {}): Transport {
  if (
    stream === null ||
    typeof stream !== 'object' ||
    typeof stream.write !== 'function' ||
    typeof stream.on !== 'function' ||
    typeof stream.read !== 'function'
  ) {
    throw new InvalidArgumentError(
      'fromDuplex: `stream` must be a Node Duplex stream (readable and writable)',
    );
  }
  checkOptionNames('fromDuplex', options, FROM_DUPLEX_OPTIONS);
  const closeTimeout = checkMilliseconds('fromDuplex', 'closeTimeout', options.closeTimeout);
  return new StreamTransport(stream, { kind: 'duplex', closeTimeout });
}

/**
 * Makes any Transport a Node Duplex, so Node stream code (`node:http`, `ws`, `pipeline`) runs over
 * memory pairs, TLS layers or any other transport. Binds its own protocol to the transport.
 * Destroying the stream closes the transport (`abort` when destroyed with an error).
 *
 * When the connection ends cleanly, the readable side ends and the stream closes after the
 * consumer has read everything the peer sent (a consumer that never reads keeps it open, as with a
 * `net.Socket`). When it is lost with an error, the stream is destroyed with that error at once.
 */
export function toDuplex(transport: Transport): TransportDuplex {
  if (transport === null || typeof transport !== 'object' || typeof transport.setProtocol !== 'function') {
    throw new InvalidArgumentError('toDuplex: `transport` must be a tlskit Transport');
  }
  return new TransportDuplex(transport);
}

/** The Duplex `toDuplex` returns. `transport` is the transport underneath. */
export class TransportDuplex extends Duplex {
  /** The transport this stream reads from and writes to. */
  readonly transport: Transport;
  #pendingCallback: ((error?: Error | null) => void) | null = null;
  #finalCallback: ((error?: Error | null) => void) | null = null;
  #writePaused = false;
  #lost = false;
  #idleTimeout = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  /**
   * Binds this stream's protocol to `transport`; use `toDuplex(transport)`. `serverClosing`
   * (internal, for serveHttp) is what the protocol does when a tlskit server closes.
   */
  constructor(transport: Transport, serverClosing?: () => void) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.transport = transport;
    transport.setProtocol({
      serverClosing,
      dataReceived: (data) => {
        this.#touch();
        if (!this.push(data)) transport.pauseReading();
      },
      eofReceived: () => {
        this.push(null);
        return true;
      },
      connectionLost: (error) => {
        this.#lost = true;
        clearTimeout(this.#idleTimer);
        this.#release(error ?? undefined);
        this.#finished(error ?? undefined);
        if (error) {
          this.destroy(error);
          return;
        }
        if (this.destroyed) return; // our own destroy() closed the transport
        // A clean end: what the peer sent is the consumer's until it has read it, as on a socket.
        // Destroying now would discard it and 'end' would never come; instead the stream ends once
        // it is read out, and only then closes.
        this.push(null);
        if (this.readableEnded) this.destroy();
        else this.once('end', () => this.destroy());
      },
      pauseWriting: () => {
        this.#writePaused = true;
      },
      resumeWriting: () => {
        this.#writePaused = false;
        this.#release();
        if (this.transport.writeBufferSize === 0) this.#finished();
      },
    });
  }

  /** Peer address, for code that logs `socket.remoteAddress`. */
  get remoteAddress(): string | undefined {
    return (this.transport.info.peer as TcpAddress | null)?.host;
  }

  get remotePort(): number | undefined {
    return (this.transport.info.peer as TcpAddress | null)?.port;
  }

  get localAddress(): string | undefined {
    return (this.transport.info.local as TcpAddress | null)?.host;
  }

  get localPort(): number | undefined {
    return (this.transport.info.local as TcpAddress | null)?.port;
  }

  /**
   * Emits `'timeout'` after `ms` without reads or writes, as `net.Socket` does; 0 turns it off.
   * `node:http` relies on this for its keep-alive timeout.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleTimeout = ms;
    this.#touch();
    return this;
  }

  /** Accepted for `net.Socket` compatibility; tlskit sockets already disable Nagle. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /**
   * Lets the process exit while this connection is open (`unref`), or not (`ref`), as on a
   * `net.Socket`; `node:http`'s keep-alive agent unrefs the sockets it keeps idle. What holds the
   * process is the socket under a transport over TCP or a Unix socket (with or without TLS, and
   * `fromDuplex` of a socket), so these calls reach that socket. A memory pair or a transport over
   * some other stream holds nothing of its own (a memory pair only a pending delivery), and for it
   * they do nothing.
   */
  ref(): this {
    this.#socket()?.ref();
    return this;
  }

  /** See `ref()`. */
  unref(): this {
    this.#socket()?.unref();
    return this;
  }

  override _read(): void {
    if (!this.#lost) this.transport.resumeReading();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    try {
      this.transport.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (this.#writePaused) this.#pendingCallback = callback;
    else callback();
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    this.#touch();
    try {
      for (const { chunk } of chunks) this.transport.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (this.#writePaused) this.#pendingCallback = callback;
    else callback();
  }

  /**
   * Half-closes the transport; `'finish'` follows once the transport has handed on every byte
   * (its `writeBufferSize` is 0: the peer or the OS took them) or the connection ended cleanly.
   * The end of stream itself cannot be awaited: a Transport reports the completion of `end()` to
   * nobody but itself, and `connectionLost` also waits for the peer to finish, which a half-open
   * connection may never do. Nothing is queued behind the end of stream, so it follows the bytes.
   */
  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.transport.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (this.#lost || this.transport.writeBufferSize === 0) {
      callback();
      return;
    }
    this.#finalCallback = callback;
    // No more writes can come, so the write limits no longer pace anyone: lowering them to zero
    // makes the transport report, through resumeWriting, the moment its buffer is empty.
    this.transport.setWriteBufferLimits(0, 0);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    if (!this.#lost) {
      this.#lost = true;
      if (error) this.transport.abort(error);
      else this.transport.close();
    }
    this.#release(error ?? undefined);
    this.#finished(error ?? undefined);
    callback(error);
  }

  #release(error?: Error): void {
    const callback = this.#pendingCallback;
    this.#pendingCallback = null;
    callback?.(error);
  }

  /** Completes a pending `_final`. */
  #finished(error?: Error): void {
    const callback = this.#finalCallback;
    this.#finalCallback = null;
    callback?.(error);
  }

  /** The Node stream under the transport, when it can hold the event loop (a socket). */
  #socket(): { ref(): unknown; unref(): unknown } | null {
    if (!(this.transport instanceof StreamTransport)) return null;
    const stream = this.transport.stream as Partial<Socket>;
    return typeof stream.ref === 'function' && typeof stream.unref === 'function' ? (stream as Socket) : null;
  }

  #touch(): void {
    if (this.#idleTimeout <= 0) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      return;
    }
    if (this.#idleTimer) this.#idleTimer.refresh();
    else {
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = undefined;
        this.emit('timeout');
      }, this.#idleTimeout);
      this.#idleTimer.unref();
    }
  }
}
