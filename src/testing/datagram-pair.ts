/**
 * Two in-memory datagram endpoints with the network's habits, for deterministic tests of protocols
 * written on the datagram contract. Subtleties:
 *
 * - Every fault (loss, duplication, reordering, delay) is drawn from one generator per direction
 *   seeded by `seed`, in a fixed order per datagram, so a seed replays the same run exactly.
 * - Datagrams never cross synchronously: each is delivered on a later event-loop turn, so a
 *   protocol cannot come to rely on a reply arriving inside its own `send`.
 * - A datagram in flight counts in the sender's `writeBufferSize` until delivered (or dropped),
 *   which gives the pair the same send-queue flow control as a UDP socket with a full buffer.
 * - Closing one end tells the other nothing, as with UDP: datagrams to a closed end are dropped.
 */
import {
  BaseDatagramTransport,
  type DatagramAddress,
  type DatagramInfo,
} from '../transport/datagram-base.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkMilliseconds, checkOptionNames, type OptionNames } from '../transport/options.js';
import { seededRandom } from './random.js';

/** How a datagram pair mistreats datagrams. Deterministic for a given `seed`. */
export interface DatagramPairOptions {
  /** Seeds the faults (default 0). */
  seed?: number;
  /** Probability from 0 to 1 that a datagram is lost. */
  loss?: number;
  /** Probability that a datagram is delivered twice. */
  duplication?: number;
  /** Probability that a datagram is held back and delivered after the next one (or a turn late). */
  reordering?: number;
  /** Event-loop turns before delivery: a random number from 0 to this many (default 0). */
  delay?: number;
  /** The largest datagram `send` accepts (default 65,507, as UDP over IPv4). */
  maxDatagramSize?: number;
  /** Time `close()` waits for datagrams in flight. */
  closeTimeout?: number;
}

export const DATAGRAM_PAIR_OPTIONS: OptionNames = {
  known: ['seed', 'loss', 'duplication', 'reordering', 'delay', 'maxDatagramSize', 'closeTimeout'],
  elsewhere: {
    chunkSize: 'datagrams are never split; `chunkSize` belongs to memoryPair (streams)',
    maxChunkSize: 'datagrams are never split; `maxChunkSize` belongs to memoryPair (streams)',
  },
};

interface Faults {
  loss: number;
  duplication: number;
  reordering: number;
  delay: number;
  random: () => number;
}

/** One end of a `datagramPair`. */
export class MemoryDatagramTransport extends BaseDatagramTransport {
  #peer: MemoryDatagramTransport | null = null;
  readonly #address: DatagramAddress;
  readonly #faults: Faults;
  readonly #max: number;
  #inFlight = 0;
  #heldBack: Uint8Array | null = null;
  #heldBackDelay = 0;
  #destroyed = false;

  constructor(address: DatagramAddress, faults: Faults, max: number, closeTimeout?: number) {
    super('datagramPair', closeTimeout);
    this.#address = address;
    this.#faults = faults;
    this.#max = max;
  }

  /** Connects two ends; used by `datagramPair`. */
  static link(a: MemoryDatagramTransport, b: MemoryDatagramTransport): void {
    a.#peer = b;
    b.#peer = a;
  }

  get maxDatagramSize(): number {
    return this.#max;
  }

  get info(): DatagramInfo {
    return {
      kind: 'memory',
      local: this.#address,
      peer: this.#peer === null ? null : this.#peer.#address,
      sendBufferSize: null,
      receiveBufferSize: null,
    };
  }

  protected get _queuedBytes(): number {
    return this.#inFlight;
  }

  protected _start(): void {}

  protected _destination(to: DatagramAddress | undefined): void {
    const peer = this.#peer!.#address;
    if (to !== undefined && (to.host !== peer.host || to.port !== peer.port)) {
      throw new InvalidArgumentError(
        `send: a datagramPair end reaches only its peer ${peer.host}:${peer.port}, not ${to.host}:${to.port}; omit \`to\``,
      );
    }
  }

  protected _send(data: Uint8Array): void {
    const copy = data.slice(); // the datagram is on the wire: later changes to `data` must not reach it
    const { loss, duplication, reordering, random } = this.#faults;
    // Draw every number for every datagram, so that one fault's setting does not shift the others.
    const lost = random() < loss;
    const twice = random() < duplication;
    const reorder = random() < reordering;
    // Both delays too, used or not: drawn only when posted, they would shift with the faults.
    const delays = [this.#drawDelay(), this.#drawDelay()] as const;
    if (lost) return;
    if (reorder && this.#heldBack === null) {
      this.#heldBack = copy;
      this.#heldBackDelay = delays[0];
      this.#inFlight += copy.length;
      // With no next datagram in this turn, it goes out late instead: never held for ever.
      setImmediate(() => this.#releaseHeldBack());
      return;
    }
    this.#post(copy, delays[0]);
    if (twice) this.#post(copy, delays[1]);
    this.#releaseHeldBack();
  }

  #drawDelay(): number {
    const { delay, random } = this.#faults;
    return delay === 0 ? 0 : Math.floor(random() * (delay + 1));
  }

  #releaseHeldBack(): void {
    const held = this.#heldBack;
    if (held === null || this.#destroyed) return;
    this.#heldBack = null;
    this.#inFlight -= held.length;
    this.#post(held, this.#heldBackDelay);
  }

  #post(data: Uint8Array, delay: number): void {
    this.#inFlight += data.length;
    const arrive = (left: number) => {
      if (this.#destroyed) return;
      if (left > 0) {
        setImmediate(arrive, left - 1);
        return;
      }
      this.#inFlight -= data.length;
      const peer = this.#peer!;
      if (!peer.#destroyed) peer._onDatagram(data.slice(), this.#address);
      this._onDrained();
    };
    setImmediate(arrive, delay);
  }

  protected _destroy(): void {
    this.#destroyed = true;
    this.#inFlight = 0;
    this.#heldBack = null;
  }
}

/**
 * Two linked in-memory datagram endpoints `[a, b]` with no protocol bound yet. Faults follow
 * `options`, the same for both directions, each direction with its own numbers from `seed`.
 */
export function datagramPair(
  options: DatagramPairOptions = {},
): [MemoryDatagramTransport, MemoryDatagramTransport] {
  checkOptionNames('datagramPair', options, DATAGRAM_PAIR_OPTIONS);
  const { seed = 0, delay = 0, maxDatagramSize = 65_507 } = options;
  if (!Number.isInteger(seed))
    throw new InvalidArgumentError(`datagramPair: \`seed\` must be an integer, got ${String(seed)}`);
  const loss = probability('loss', options.loss);
  const duplication = probability('duplication', options.duplication);
  const reordering = probability('reordering', options.reordering);
  if (!Number.isInteger(delay) || delay < 0) {
    throw new InvalidArgumentError(
      `datagramPair: \`delay\` must be an integer >= 0 of event-loop turns, got ${String(delay)}`,
    );
  }
  if (!Number.isInteger(maxDatagramSize) || maxDatagramSize < 1) {
    throw new InvalidArgumentError(
      `datagramPair: \`maxDatagramSize\` must be an integer >= 1 of bytes, got ${String(maxDatagramSize)}`,
    );
  }
  const closeTimeout = checkMilliseconds('datagramPair', 'closeTimeout', options.closeTimeout);
  const faults = (direction: number): Faults => ({
    loss,
    duplication,
    reordering,
    delay,
    random: seededRandom(seed * 2 + direction),
  });
  const a = new MemoryDatagramTransport(
    { host: 'memory', port: 1 },
    faults(0),
    maxDatagramSize,
    closeTimeout,
  );
  const b = new MemoryDatagramTransport(
    { host: 'memory', port: 2 },
    faults(1),
    maxDatagramSize,
    closeTimeout,
  );
  MemoryDatagramTransport.link(a, b);
  return [a, b];
}

function probability(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new InvalidArgumentError(
      `datagramPair: \`${name}\` must be a probability from 0 to 1, got ${String(value)}`,
    );
  }
  return value;
}
