import type { BaseTransportOptions } from '../transport/base.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { type DeliveryPlan, MemoryTransport } from '../transport/memory.js';
import {
  checkMilliseconds,
  checkOptionNames,
  checkOptionsObject,
  type OptionNames,
  shown,
} from '../transport/options.js';
import { seededRandom } from './random.js';

export { MemoryTransport };

/**
 * How a memory pair delivers bytes. Everything is deterministic for a given `seed` and a given
 * schedule of writes: a piece is drawn per delivery, so writing other sizes or at other turns
 * draws the same numbers for other pieces.
 */
export interface MemoryPairOptions extends BaseTransportOptions {
  /** Deliver at most this many bytes per `dataReceived` call; 1 delivers byte by byte. */
  chunkSize?: number;
  /**
   * Deliver in pieces of random size from 1 to `maxChunkSize`, chosen by a generator seeded with
   * this value (each direction gets its own stream of numbers).
   */
  seed?: number;
  /** Largest random piece when `seed` is set (default 4096). */
  maxChunkSize?: number;
  /**
   * Event-loop turns to wait before each delivery: exactly this many, or with `seed`, a random
   * number from 0 to this many.
   */
  delay?: number;
}

/** The largest seed: each direction's generator is seeded with `seed * 2 + direction`, in 32 bits. */
const MAX_SEED = 2 ** 31 - 1;

export const MEMORY_PAIR_OPTIONS: OptionNames = {
  known: ['chunkSize', 'seed', 'maxChunkSize', 'delay', 'closeTimeout'],
};

/**
 * Two connected in-memory transport ends `[a, b]` with no protocol bound yet (bind each with
 * `setProtocol`). Bytes never cross synchronously; fragmentation and delays follow `options`.
 */
export function memoryPair(options: MemoryPairOptions = {}): [MemoryTransport, MemoryTransport] {
  checkOptionsObject('memoryPair', options, '{ seed: 1 }');
  checkOptionNames('memoryPair', options, MEMORY_PAIR_OPTIONS);
  const { chunkSize, seed, maxChunkSize = 4096, delay = 0 } = options;
  if (options.maxChunkSize !== undefined && seed === undefined) {
    throw new InvalidArgumentError(
      'memoryPair: `maxChunkSize` bounds the random pieces of a `seed`; without `seed` it would do nothing (use `chunkSize` for fixed pieces)',
    );
  }
  if (chunkSize !== undefined && seed !== undefined && delay === 0) {
    throw new InvalidArgumentError(
      'memoryPair: `chunkSize` fixes the pieces and `seed` draws them at random: give one of them (with `delay`, `seed` draws the delays and `chunkSize` may fix the pieces)',
    );
  }
  const closeTimeout = checkMilliseconds('memoryPair', 'closeTimeout', options.closeTimeout);
  checkCount('chunkSize', chunkSize, 1);
  checkCount('maxChunkSize', maxChunkSize, 1);
  checkCount('delay', delay, 0);
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)) {
    throw new InvalidArgumentError(
      `memoryPair: \`seed\` must be an integer from 0 to ${MAX_SEED}, got ${shown(seed)} (the generator keeps 32 bits: larger seeds would repeat smaller ones)`,
    );
  }
  const plan = (direction: number): DeliveryPlan | null => {
    if (chunkSize === undefined && seed === undefined && delay === 0) return null;
    const random = seededRandom((seed ?? 0) * 2 + direction);
    return {
      pieceSize:
        seed !== undefined
          ? (queued) => Math.min(queued, chunkSize ?? 1 + Math.floor(random() * maxChunkSize))
          : (queued) => Math.min(queued, chunkSize ?? queued),
      delay: seed !== undefined && delay > 0 ? () => Math.floor(random() * (delay + 1)) : () => delay,
      burst: delay === 0 ? 16 : 1,
    };
  };
  return MemoryTransport.pair([plan(0), plan(1)], { closeTimeout });
}

function checkCount(name: string, value: number | undefined, minimum: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < minimum) {
    throw new InvalidArgumentError(
      `memoryPair: \`${name}\` must be an integer >= ${minimum}, got ${shown(value)}`,
    );
  }
}
