/**
 * A bounded fault soak: many memory pairs, each with its own fragmentation, delays, payloads and
 * write limits, and most with one fault placed at a random call of a random callback (abort, abort
 * with an error, a throw, or close). Every pair must end with connectionLost exactly once per side
 * and no broken rule; bytes that arrive are always a prefix of what was sent; pairs whose fault
 * never fired (or that had none) deliver every byte, checksum-exact, and close cleanly.
 *
 * Everything about pair N follows from the base seed and N, so a failure replays exactly:
 *   TLSKIT_SOAK_SEED=<seed> TLSKIT_SOAK_PAIR=<n> npx vitest run test/transport/fault-soak.test.ts
 */
import { createHash } from 'node:crypto';
import type { Transport } from 'tlskit';
import { type MemoryPairOptions, memoryPair, RecordingProtocol, seededRandom, turns } from 'tlskit/testing';
import { afterEach, expect, it } from 'vitest';

const BASE_SEED = Number(process.env.TLSKIT_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ONLY_PAIR = process.env.TLSKIT_SOAK_PAIR === undefined ? null : Number(process.env.TLSKIT_SOAK_PAIR);
/** New pairs start until this much time has passed; the waves in flight then finish. */
const BUDGET_MS = 3_000;
const MAX_PAIRS = 3_000;
const CONCURRENCY = 12;
/** How long one pair may take to end before it counts as hung. */
const PAIR_DEADLINE_MS = 8_000;

const CALLBACKS = ['connectionMade', 'dataReceived', 'eofReceived', 'pauseWriting', 'resumeWriting'] as const;
const ACTIONS = ['abort', 'abortWithError', 'throw', 'close'] as const;
type Callback = (typeof CALLBACKS)[number];
type Action = (typeof ACTIONS)[number];

/** One fault: at end `side`, on the `nth` call of `callback`, do `action`. */
interface Fault {
  side: 0 | 1;
  callback: Callback;
  nth: number;
  action: Action;
}

interface EndPlan {
  payload: Uint8Array;
  writeChunk: number;
  highWater: number;
  pauseChance: number;
}

interface PairPlan {
  memory: MemoryPairOptions;
  ends: [EndPlan, EndPlan];
  fault: Fault | null;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function between(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

function planEnd(random: () => number, maxPayload: number): EndPlan {
  const payload = new Uint8Array(between(random, 0, maxPayload));
  for (let i = 0; i < payload.length; i++) payload[i] = Math.floor(random() * 256);
  return {
    payload,
    writeChunk: between(random, 1, 4096),
    highWater: between(random, 64, 16_384),
    pauseChance: pick(random, [0, 0.02, 0.2]),
  };
}

/** Everything about pair `index`, from the base seed alone. */
function planPair(index: number): PairPlan {
  const random = seededRandom((BASE_SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const seed = between(random, 0, 2 ** 30);
  const memory = pick<MemoryPairOptions>(random, [
    {},
    { chunkSize: between(random, 1, 64) },
    { seed, maxChunkSize: between(random, 1, 3000) },
    { seed, maxChunkSize: between(random, 1, 3000), delay: between(random, 1, 3) },
  ]);
  // Byte-at-a-time delivery of a large payload takes thousands of turns: keep those small.
  const maxPayload = (memory.chunkSize ?? 64) < 16 ? 2_000 : pick(random, [200, 8_000, 100_000]);
  const ends: [EndPlan, EndPlan] = [planEnd(random, maxPayload), planEnd(random, maxPayload)];
  const fault: Fault | null =
    random() < 0.25
      ? null
      : {
          side: random() < 0.5 ? 0 : 1,
          callback: pick(random, CALLBACKS),
          nth: between(random, 1, 3),
          action: pick(random, ACTIONS),
        };
  return { memory: { ...memory, closeTimeout: 2_000 }, ends, fault };
}

/** A recording end that sends its payload with flow control and carries out its fault. */
class SoakEnd extends RecordingProtocol {
  readonly reason = new Error('injected fault');
  fired = false;
  readonly #plan: EndPlan;
  readonly #fault: Fault | null;
  readonly #random: () => number;
  readonly #calls = new Map<Callback, number>();
  #offset = 0;
  #writePaused = false;
  #ended = false;

  constructor(plan: EndPlan, fault: Fault | null, random: () => number) {
    super({ keepOpenOnEof: true, timeout: PAIR_DEADLINE_MS });
    this.#plan = plan;
    this.#fault = fault;
    this.#random = random;
  }

  override connectionMade(transport: Transport): void {
    super.connectionMade(transport);
    transport.setWriteBufferLimits(this.#plan.highWater);
    this.#at('connectionMade');
    this.#pump();
  }

  override dataReceived(data: Uint8Array): void {
    super.dataReceived(data);
    this.#at('dataReceived');
    if (!this.transport!.closing && this.#random() < this.#plan.pauseChance) {
      this.pauseReading();
      setImmediate(() => this.resumeReading());
    }
  }

  override eofReceived(): boolean {
    const keepOpen = super.eofReceived();
    this.#at('eofReceived');
    return keepOpen;
  }

  override pauseWriting(): void {
    super.pauseWriting();
    this.#writePaused = true;
    this.#at('pauseWriting');
  }

  override resumeWriting(): void {
    super.resumeWriting();
    this.#writePaused = false;
    this.#at('resumeWriting');
    this.#pump();
  }

  /** The error connectionLost must carry at this end when its fault fired. */
  get expectedError(): Error | null {
    const action = this.#fault?.action;
    return action === 'abortWithError' || action === 'throw' ? this.reason : null;
  }

  #at(callback: Callback): void {
    const fault = this.#fault;
    if (fault?.callback !== callback) return;
    const count = (this.#calls.get(callback) ?? 0) + 1;
    this.#calls.set(callback, count);
    if (count !== fault.nth) return;
    this.fired = true;
    const transport = this.transport!;
    if (fault.action === 'abort') transport.abort();
    else if (fault.action === 'abortWithError') transport.abort(this.reason);
    else if (fault.action === 'close') transport.close();
    else throw this.reason;
  }

  #pump(): void {
    const transport = this.transport!;
    const { payload, writeChunk } = this.#plan;
    while (!this.#writePaused && !transport.closing && this.#offset < payload.length) {
      const end = Math.min(payload.length, this.#offset + writeChunk);
      transport.write(payload.subarray(this.#offset, end));
      this.#offset = end;
    }
    if (!this.#ended && !transport.closing && this.#offset === payload.length) {
      this.#ended = true;
      transport.end();
    }
  }
}

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Runs pair `index` to its end and returns what went wrong, or `null`. */
async function runPair(index: number): Promise<string | null> {
  const plan = planPair(index);
  const random = seededRandom((BASE_SEED + index) >>> 0);
  const [ta, tb] = memoryPair(plan.memory);
  const faultAt = (side: 0 | 1) => (plan.fault?.side === side ? plan.fault : null);
  const ends = [
    new SoakEnd(plan.ends[0], faultAt(0), random),
    new SoakEnd(plan.ends[1], faultAt(1), random),
  ] as const;
  ta.setProtocol(ends[0]);
  tb.setProtocol(ends[1]);
  try {
    await Promise.all(ends.map((end) => end.waitForLost()));
  } catch (error) {
    ta.abort();
    tb.abort();
    return (error as Error).message;
  }
  await turns(5); // a second connectionLost, or anything after it, gets the time to show
  const problems: string[] = [];
  for (const side of [0, 1] as const) {
    const end = ends[side];
    const sent = plan.ends[1 - side]!.payload;
    const received = end.received();
    if (end.lostCount !== 1) problems.push(`end ${side}: connectionLost came ${end.lostCount} times`);
    if (end.violations.length > 0) problems.push(`end ${side}: ${end.violations.join('; ')}`);
    if (!Buffer.from(received).equals(sent.subarray(0, received.length)))
      problems.push(`end ${side}: the bytes that arrived are not what the peer sent`);
    if (end.fired && end.lostError !== end.expectedError)
      problems.push(`end ${side}: its fault should end it with ${end.expectedError}, got ${end.lostError}`);
  }
  const faultFired = ends[0].fired || ends[1].fired;
  if (!faultFired) {
    for (const side of [0, 1] as const) {
      const sent = plan.ends[1 - side]!.payload;
      if (digest(ends[side].received()) !== digest(sent))
        problems.push(
          `end ${side}: received ${ends[side].receivedBytes} of ${sent.length} bytes, or not those`,
        );
      if (ends[side].lostError !== null) problems.push(`end ${side}: lost with ${ends[side].lostError}`);
    }
  }
  if (problems.length === 0) return null;
  const fault = plan.fault ? `${JSON.stringify(plan.fault)}${faultFired ? '' : ' (never fired)'}` : 'none';
  return `memory ${JSON.stringify(plan.memory)}, payloads ${plan.ends[0].payload.length}/${plan.ends[1].payload.length}, fault ${fault}: ${problems.join('; ')}`;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

it(`fault soak over memory pairs (seed ${BASE_SEED}): connectionLost once per side, no byte lost without a fault`, async () => {
  process.on('unhandledRejection', onUnhandled);
  const failures: string[] = [];
  const started = Date.now();
  let next = ONLY_PAIR ?? 0;
  let ran = 0;
  const last = ONLY_PAIR ?? MAX_PAIRS - 1;
  const worker = async () => {
    while (next <= last && Date.now() - started < BUDGET_MS) {
      const index = next++;
      ran++;
      const problem = await runPair(index);
      if (problem) failures.push(`pair ${index}: ${problem}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const replay = `replay with TLSKIT_SOAK_SEED=${BASE_SEED} TLSKIT_SOAK_PAIR=<n>`;
  expect(
    failures,
    `${failures.length} of ${ran} pairs failed (${replay}):\n${failures.slice(0, 5).join('\n')}`,
  ).toEqual([]);
  expect(unhandled, `unhandled rejections (seed ${BASE_SEED})`).toEqual([]);
  expect(ran).toBeGreaterThan(ONLY_PAIR === null ? 100 : 0);
});
