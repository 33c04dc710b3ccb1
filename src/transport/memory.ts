import { BaseTransport, type BaseTransportOptions } from './base.js';
import { ConnectionError } from './errors.js';
import type { TransportInfo } from './transport.js';

/**
 * How one direction of a memory pair delivers bytes. Without a plan each written chunk is
 * delivered whole, all queued chunks on the next event-loop turn.
 */
export interface DeliveryPlan {
  /** Bytes to deliver in the next `dataReceived` call, given how many are queued (at least 1). */
  pieceSize(queued: number): number;
  /** Event-loop turns to wait before delivering the next piece (0 = the next turn). */
  delay(): number;
  /** Pieces to deliver per turn when there is no delay (default 1). */
  burst?: number;
}

/** Pieces delivered per event-loop turn when nothing asks for delays. */
const PIECES_PER_TURN = 64;

function afterTurns(turns: number, callback: () => void): void {
  if (turns <= 0) {
    setImmediate(callback);
    return;
  }
  setImmediate(() => afterTurns(turns - 1, callback));
}

const info: TransportInfo = Object.freeze({ kind: 'memory', local: null, peer: null }) as TransportInfo;

/**
 * One end of an in-memory connection. Bytes written at one end are delivered to the other on a later
 * event-loop turn, never synchronously, so protocol code meets the same reentrancy as on a socket.
 * A writer's buffer holds what the reader has not taken yet: a reader that pauses makes the writer
 * pause, exactly as a full TCP window would. The window is full at once: a paused reader takes in
 * nothing, not even the end of stream, so a `close()` towards a reader that stays paused past the
 * close timeout ends in an abort, as over TCP towards a reader whose window is full (a socket's
 * kernel buffers would still take a little).
 */
export class MemoryTransport extends BaseTransport {
  #peer!: MemoryTransport;
  readonly #plan: DeliveryPlan | null;
  #queue: Uint8Array[] = [];
  #queueBytes = 0;
  #eofQueued = false;
  #eofSent = false;
  #scheduled = false;
  #receiving = false;
  #gone = false;
  #cut = false;

  /** Creates two connected ends. `plans[0]` shapes bytes from `a` to `b`, `plans[1]` from `b` to `a`. */
  static pair(
    plans: [DeliveryPlan | null, DeliveryPlan | null] = [null, null],
    options: BaseTransportOptions = {},
  ): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport(plans[0], options);
    const b = new MemoryTransport(plans[1], options);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  private constructor(plan: DeliveryPlan | null, options: BaseTransportOptions) {
    super(options);
    this.#plan = plan;
  }

  get info(): TransportInfo {
    return info;
  }

  /**
   * Fault injection: the network drops what this end has queued and delivers an end of stream to
   * the peer, as a middlebox forging a FIN would. This end is not told; its later writes vanish.
   */
  injectEof(): void {
    this.#cut = true;
    this.#queue = [];
    this.#queueBytes = 0;
    this.#eofQueued = true;
    this._onDrained();
    this.#schedule();
  }

  /** Fault injection: the network resets the connection; both ends see `ECONNRESET`. */
  injectReset(): void {
    const reset = () => new ConnectionError('ECONNRESET', 'the connection was reset (injected fault)');
    setImmediate(() => {
      this._onError(reset());
      this.#peer._onError(reset());
    });
  }

  protected _write(data: Uint8Array, handedOver: boolean): void {
    if (this.#cut) return;
    // A copy, as a socket's kernel makes one: the reader owns what it gets (it may change it in
    // place), and the writer may reuse its buffer. Bytes handed over (the TLS layer's records)
    // belong to nobody else already, and copying each record costs a fifth of the bridged path.
    const copy = handedOver ? data : Buffer.from(data);
    this.#queue.push(copy);
    this.#queueBytes += data.length;
    this.#schedule();
  }

  protected _end(): void {
    if (this.#cut) {
      // The network swallows it as it swallows our writes, but for us the end went out.
      setImmediate(() => this._onWriteFinished());
      return;
    }
    this.#eofQueued = true;
    this.#schedule();
  }

  protected _destroy(_error: Error | null, hard: boolean): void {
    this.#gone = true;
    this.#receiving = false;
    this.#queue = [];
    this.#queueBytes = 0;
    const peer = this.#peer;
    setImmediate(() => {
      if (hard) peer._onError(new ConnectionError('ECONNRESET', 'the peer reset the connection'));
      else peer.#schedule();
    });
  }

  protected _pauseSource(): void {
    this.#receiving = false;
  }

  protected _resumeSource(): void {
    if (this.#gone) return;
    this.#receiving = true;
    this.#peer.#schedule();
  }

  protected get _queuedBytes(): number {
    return this.#queueBytes;
  }

  #hasWork(): boolean {
    return this.#queueBytes > 0 || (this.#eofQueued && !this.#eofSent);
  }

  #schedule(): void {
    if (this.#scheduled || this.#gone || !this.#hasWork()) return;
    const peer = this.#peer;
    if (!peer.#receiving && !peer.#gone) return; // the peer's resume will call us again
    this.#scheduled = true;
    afterTurns(this.#plan?.delay() ?? 0, () => {
      this.#scheduled = false;
      this.#deliver();
    });
  }

  #deliver(): void {
    const peer = this.#peer;
    if (this.#gone) return;
    if (peer.#gone) {
      // Nobody will read what we still hold: a socket would answer with a reset.
      if (this.#queueBytes > 0) {
        this._onError(
          new ConnectionError('EPIPE', 'the peer closed the connection before reading everything'),
        );
      } else if (this.#eofQueued && !this.#eofSent) {
        this.#eofSent = true;
        if (!this.#cut) this._onWriteFinished();
      }
      return;
    }
    const plan = this.#plan;
    const budget = plan === null ? PIECES_PER_TURN : (plan.burst ?? 1);
    for (let pieces = 0; pieces < budget && this.#queueBytes > 0 && peer.#receiving; pieces++) {
      const piece = plan === null ? this.#takeChunk() : this.#takeBytes(plan.pieceSize(this.#queueBytes));
      peer._onData(piece);
      if (this.#gone) return;
      this._onDrained();
    }
    if (this.#queueBytes === 0 && this.#eofQueued && !this.#eofSent && peer.#receiving) {
      this.#eofSent = true;
      peer._onEof();
      if (!this.#cut) this._onWriteFinished(); // a forged end is not ours: we may still end
    }
    this.#schedule();
  }

  #takeChunk(): Uint8Array {
    const chunk = this.#queue.shift()!;
    this.#queueBytes -= chunk.length;
    return chunk;
  }

  /** Removes the next `size` bytes (at least 1), joining chunks the way TCP coalesces segments. */
  #takeBytes(size: number): Uint8Array {
    const want = Math.max(1, Math.min(Math.floor(size), this.#queueBytes));
    const head = this.#queue[0]!;
    if (head.length === want) return this.#takeChunk();
    if (head.length > want) {
      this.#queue[0] = head.subarray(want);
      this.#queueBytes -= want;
      return head.subarray(0, want);
    }
    const piece = new Uint8Array(want);
    let filled = 0;
    while (filled < want) {
      const chunk = this.#queue[0]!;
      const take = Math.min(chunk.length, want - filled);
      piece.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take === chunk.length) this.#queue.shift();
      else this.#queue[0] = chunk.subarray(take);
    }
    this.#queueBytes -= want;
    return piece;
  }
}
