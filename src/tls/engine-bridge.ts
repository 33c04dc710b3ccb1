/*
 * The engine bridge: what node:tls drives when no socket is underneath
 * =====================================================================
 *
 * `node:tls` runs OpenSSL over a native handle. Given a JavaScript stream instead, it wraps it in
 * its shim (JSStreamSocket), which moves encrypted bytes with a handful of stream calls: `pause`
 * and `resume` to stop and start reading, `'data'`, `'end'`, `'error'` and `'close'` events, and
 * `write(chunk, callback)` between `cork()` and `uncork()`, `end(callback)`, `destroy()`. The
 * bridge answers exactly those calls, straight onto a tlskit Transport, instead of dressing the
 * transport up as a full Node Duplex: every encrypted record would otherwise pass through a
 * Readable buffer and a Writable state machine on its way, for nothing the shim uses.
 *
 * What it keeps from the stream contract, and why:
 * - It starts paused, and the transport below really stops reading while it is: the shim
 *   subscribes to `'data'` only after it was made, so nothing may be emitted before it asks.
 *   Bytes handed to `unshift` (plaintext a STARTTLS peer pipelined behind its upgrade command,
 *   which belongs to the handshake) are emitted first, when the shim first resumes.
 * - A write's callback waits while the transport below is past its high-water mark, which is
 *   how OpenSSL's output is paced by a slow peer.
 * - `end(callback)` half-closes the transport and calls back once its buffer is empty.
 * - After a clean end it stays open until destroyed. Node destroys a TLS socket the moment the
 *   stream under it closes (nodejs/node#49327), and with it any plaintext a paused reader has not
 *   taken yet, so closing when the connection below finished would lose it.
 * - `readableEnded` is set before `'end'` is emitted: eof.ts reads it to tell a peer's
 *   close_notify from a truncation.
 * - Destroying it closes the transport, or aborts it when destroyed with an error.
 */
import { EventEmitter } from 'node:events';
import type { Protocol } from '../transport/protocol.js';
import type { Transport } from '../transport/transport.js';

type Callback = (error?: Error | null) => void;

/** One function for every bridge's deferred resume, rather than a closure per resume. */
function flowSoon(bridge: EngineBridge): void {
  bridge.flow();
}

/** The stream `node:tls` drives over a Transport without a socket of its own. */
export class EngineBridge extends EventEmitter {
  /** Read by node:tls (TLSSocket copies it); half-open connections are part of the contract. */
  readonly allowHalfOpen = true;
  /** Read once by the shim, which thereafter tracks its own state. */
  readonly readable = true;
  readonly writable = true;
  readonly #transport: Transport;
  #paused = true;
  #flowScheduled = false;
  #unshifted: Buffer[] | null = null;
  #ended = false;
  #endPending = false;
  #lost = false;
  #destroyed = false;
  #writePaused = false;
  #waitingWrites: Callback[] = [];
  #endCallback: Callback | null = null;

  constructor(transport: Transport) {
    super();
    this.#transport = transport;
    transport.pauseReading();
    transport.setProtocol(this.#protocol());
  }

  /** True once the peer's end of stream was passed on (`'end'` emitted). */
  get readableEnded(): boolean {
    return this.#ended;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  pause(): this {
    if (!this.#paused) {
      this.#paused = true;
      if (!this.#lost) this.#transport.pauseReading();
    }
    return this;
  }

  resume(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    // Like a Readable, data flows from the next tick on: the shim resumes from inside its own
    // constructor, before the TLS engine is attached to it, and would drop what came now.
    if (!this.#flowScheduled) {
      this.#flowScheduled = true;
      process.nextTick(flowSoon, this);
    }
    return this;
  }

  /** @internal The deferred part of `resume`. */
  flow(): void {
    this.#flowScheduled = false;
    if (this.#paused) return;
    const unshifted = this.#unshifted;
    if (unshifted) {
      // The shim may pause again from inside a 'data' handler; what is left waits for the next resume.
      while (unshifted.length > 0 && !this.#paused) this.emit('data', unshifted.shift());
      if (unshifted.length > 0) return;
      this.#unshifted = null;
    }
    if (!this.#lost && !this.#paused) this.#transport.resumeReading();
    if (this.#endPending && !this.#ended) process.nextTick(() => this.#emitEnd());
  }

  /** Puts bytes in front of everything the transport will deliver (before the first resume). */
  unshift(chunk: Buffer): void {
    this.#unshifted ??= [];
    this.#unshifted.unshift(chunk);
  }

  cork(): void {}

  uncork(): void {}

  write(chunk: Buffer, callback: Callback): boolean {
    try {
      this.#transport.write(chunk);
    } catch (error) {
      process.nextTick(callback, error as Error);
      return false;
    }
    if (this.#writePaused) {
      this.#waitingWrites.push(callback);
      return false;
    }
    callback();
    return true;
  }

  end(callback: Callback): void {
    try {
      this.#transport.end();
    } catch (error) {
      process.nextTick(callback, error as Error);
      return;
    }
    if (this.#lost || this.#transport.writeBufferSize === 0) {
      process.nextTick(callback);
      return;
    }
    this.#endCallback = callback;
    // No more writes can come, so the write limits pace nobody now: at zero, the transport says
    // through resumeWriting the moment its buffer is empty.
    this.#transport.setWriteBufferLimits(0, 0);
  }

  destroy(error?: Error | null): this {
    if (this.#destroyed) return this;
    this.#destroyed = true;
    if (!this.#lost) {
      this.#lost = true;
      if (error) this.#transport.abort(error);
      else this.#transport.close();
    }
    this.#release(error ?? undefined);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  #release(error?: Error): void {
    for (const callback of this.#waitingWrites.splice(0)) callback(error);
    const end = this.#endCallback;
    this.#endCallback = null;
    end?.(error);
  }

  #protocol(): Protocol {
    return {
      dataReceived: (data) => {
        this.emit(
          'data',
          Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length),
        );
      },
      eofReceived: () => {
        this.#endOfStream();
        return true; // our side stays open: TLS sends its own close_notify, then ends
      },
      connectionLost: (error) => {
        if (this.#destroyed) return;
        this.#lost = true;
        this.#release(error ?? undefined);
        if (error) {
          this.emit('error', error);
          this.destroy(error);
          return;
        }
        this.#endOfStream(); // held open: node:tls destroys the bridge when it is done
      },
      pauseWriting: () => {
        this.#writePaused = true;
      },
      resumeWriting: () => {
        this.#writePaused = false;
        if (this.#waitingWrites.length > 0) for (const callback of this.#waitingWrites.splice(0)) callback();
        if (this.#endCallback && this.#transport.writeBufferSize === 0) this.#release();
      },
    };
  }

  /**
   * The end of stream reaches the shim a tick after the data before it, as a Readable's 'end'
   * would: a fatal alert among that data must fail the handshake with its own error before the
   * end that follows could be read as the peer hanging up. While paused it waits for the resume.
   */
  #endOfStream(): void {
    if (this.#ended || this.#endPending) return;
    this.#endPending = true;
    process.nextTick(() => this.#emitEnd());
  }

  #emitEnd(): void {
    if (this.#ended || this.#paused || this.#destroyed) return;
    this.#ended = true;
    this.emit('end');
  }
}
