/**
 * The datagram contract as executable rules, for any datagram transport: run each case against a
 * factory of two endpoints connected to each other (UDP on loopback, a lossless datagramPair).
 * Like the stream suite, every wait has a deadline and nothing sleeps: rules wait on callbacks.
 *
 * The medium must not lose datagrams in these rules (loopback does not, at these rates); the
 * flow-control rule needs a factory whose first endpoint has a small send buffer, so that a burst
 * fills it (for UDP, `sendBufferSize`), and loss tolerance is for the protocols' own tests.
 */
import assert from 'node:assert/strict';
import type { DatagramProtocol, DatagramTransport } from '../transport/datagram.js';
import type { DatagramAddress } from '../transport/datagram-base.js';
import { patternBytes } from './harness.js';

/** Makes two endpoints connected to each other, with no protocol bound. */
export type DatagramPairFactory = () =>
  | Promise<[DatagramTransport, DatagramTransport]>
  | [DatagramTransport, DatagramTransport];

/** One rule of the datagram contract. */
export interface DatagramConformanceCase {
  name: string;
  /**
   * What the medium must do for the rule to apply: `'sendQueueFills'` for a medium where a burst
   * fills the send queue. UDP over loopback on Linux never does (the kernel frees the send buffer
   * inside the send call), so runners skip such rules there; over a link slower than the sender
   * (tlskit's own tests use a veth pair with a rate-limiting qdisc) it does.
   */
  needs?: 'sendQueueFills';
  run(makePair: DatagramPairFactory): Promise<void>;
}

const DEADLINE = 5_000;

/** A protocol that records everything, and waits for what it records. */
export class DatagramRecorder implements DatagramProtocol {
  transport: DatagramTransport | null = null;
  readonly events: string[] = [];
  readonly datagrams: Array<{ data: Uint8Array; from: DatagramAddress }> = [];
  readonly errors: Error[] = [];
  lostCount = 0;
  lostError: Error | null | undefined = undefined;
  #waiters: Array<() => void> = [];

  connectionMade(transport: DatagramTransport): void {
    this.transport = transport;
    this.#record('made');
  }
  datagramReceived(data: Uint8Array, from: DatagramAddress): void {
    this.datagrams.push({ data, from });
    this.#record('datagram');
  }
  errorReceived(error: Error): void {
    this.errors.push(error);
    this.#record('error');
  }
  connectionLost(error: Error | null): void {
    this.lostCount++;
    this.lostError = error;
    this.#record('lost');
  }
  pauseWriting(): void {
    this.#record('pause');
  }
  resumeWriting(): void {
    this.#record('resume');
  }

  /** Resolves once `condition()` holds, or rejects after `timeout` ms naming `what`. */
  waitFor(what: string, condition: () => boolean, timeout = DEADLINE): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(
          new Error(
            `timed out after ${timeout} ms waiting for ${what}; events: ${this.events.slice(-20).join(',')}`,
          ),
        );
      }, timeout);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  #record(event: string): void {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) waiter();
  }
}

async function withEndpoints(
  makePair: DatagramPairFactory,
  body: (a: DatagramRecorder, b: DatagramRecorder) => Promise<void>,
): Promise<void> {
  const [ta, tb] = await makePair();
  const a = new DatagramRecorder();
  const b = new DatagramRecorder();
  ta.setProtocol(a);
  tb.setProtocol(b);
  try {
    await body(a, b);
  } finally {
    ta.abort();
    tb.abort();
  }
  assert.equal(a.lostCount, 1, 'connectionLost must come exactly once');
  assert.equal(b.lostCount, 1, 'connectionLost must come exactly once');
}

const key = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

const boundaries: DatagramConformanceCase = {
  name: 'each send arrives as one datagram, whole: never merged, never split',
  run: (makePair) =>
    withEndpoints(makePair, async (a, b) => {
      const sizes = [1, 2, 100, 1200, 1, 8000, 0, 3, 1472, 60_000];
      const sent = sizes.map((size, i) => patternBytes(size, i + 1));
      for (const datagram of sent) a.transport!.send(datagram);
      await b.waitFor(`${sent.length} datagrams`, () => b.datagrams.length >= sent.length);
      assert.deepEqual(b.datagrams.map((d) => key(d.data)).sort(), sent.map(key).sort());
      const from = b.datagrams[0]!.from;
      assert.deepEqual(from, a.transport!.info.local, 'from must be the sender');
    }),
};

const replies: DatagramConformanceCase = {
  name: 'both ends send and receive; info names each end and its peer',
  run: (makePair) =>
    withEndpoints(makePair, async (a, b) => {
      assert.deepEqual(a.transport!.info.peer, b.transport!.info.local);
      assert.deepEqual(b.transport!.info.peer, a.transport!.info.local);
      a.transport!.send('ping');
      await b.waitFor('ping', () => b.datagrams.length === 1);
      b.transport!.send('pong', b.datagrams[0]!.from);
      await a.waitFor('pong', () => a.datagrams.length === 1);
      assert.equal(Buffer.from(a.datagrams[0]!.data).toString(), 'pong');
      assert.deepEqual(a.events, ['made', 'datagram']);
    }),
};

const oversize: DatagramConformanceCase = {
  name: 'a datagram over the limit is refused naming its size and the limit; the endpoint stays usable',
  run: (makePair) =>
    withEndpoints(makePair, async (a, b) => {
      const limit = a.transport!.maxDatagramSize;
      assert.throws(
        () => a.transport!.send(new Uint8Array(limit + 1)),
        (error: Error & { code?: string }) =>
          error.code === 'ERR_LIMIT_EXCEEDED' &&
          error.message.includes(String(limit + 1)) &&
          error.message.includes(String(limit)),
      );
      a.transport!.send('after');
      await b.waitFor('the datagram after the refusal', () => b.datagrams.length === 1);
      assert.equal(a.transport!.closing, false);
    }),
};

const flowControl: DatagramConformanceCase = {
  name: 'a burst that fills the send queue signals pauseWriting, then resumeWriting once it drains',
  needs: 'sendQueueFills',
  run: (makePair) =>
    withEndpoints(makePair, async (a) => {
      const transport = a.transport!;
      transport.setWriteBufferLimits(1, 0);
      const datagram = patternBytes(1200, 9);
      for (let i = 0; i < 20_000 && !a.events.includes('pause'); i++) transport.send(datagram);
      assert.ok(a.events.includes('pause'), 'a burst of 20,000 datagrams never filled the send queue');
      assert.ok(transport.writeBufferSize > 0, 'paused with an empty queue');
      await a.waitFor('resumeWriting', () => a.events.includes('resume'));
      assert.ok(transport.writeBufferSize === 0);
      assert.equal(a.events.filter((e) => e === 'pause').length, 1);
    }),
};

const pausedReading: DatagramConformanceCase = {
  name: 'pauseReading holds arriving datagrams and resumeReading delivers every one of them',
  run: (makePair) =>
    withEndpoints(makePair, async (a, b) => {
      b.transport!.pauseReading();
      a.transport!.send('one');
      a.transport!.send('two');
      a.transport!.send('marker');
      // No callback tells a paused reader that something arrived: `held` counts them.
      const deadline = Date.now() + DEADLINE;
      while (b.datagrams.length === 0 && Date.now() < deadline && b.transport!.held < 3) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(b.datagrams.length, 0, 'a datagram was delivered while reading was paused');
      b.transport!.resumeReading();
      await b.waitFor('three datagrams', () => b.datagrams.length === 3);
      assert.deepEqual(b.datagrams.map((d) => Buffer.from(d.data).toString()).sort(), [
        'marker',
        'one',
        'two',
      ]);
      assert.equal(b.transport!.held, 0);
    }),
};

const closeOnce: DatagramConformanceCase = {
  name: 'close() ends with exactly one connectionLost(null); send afterwards throws, close/abort again do nothing',
  run: (makePair) =>
    withEndpoints(makePair, async (a) => {
      const transport = a.transport!;
      transport.send('last');
      transport.close();
      assert.equal(transport.closing, true);
      await a.waitFor('connectionLost', () => a.lostCount > 0);
      transport.close();
      transport.abort(new Error('late'));
      assert.equal(a.lostCount, 1);
      assert.equal(a.lostError, null);
      assert.throws(
        () => transport.send('x'),
        (error: Error & { code?: string }) => error.code === 'ERR_TRANSPORT_CLOSED',
      );
    }),
};

const abortOnce: DatagramConformanceCase = {
  name: 'abort(error) ends at once with exactly one connectionLost(error)',
  run: (makePair) =>
    withEndpoints(makePair, async (a, b) => {
      const reason = new Error('stop');
      a.transport!.abort(reason);
      a.transport!.abort();
      a.transport!.close();
      assert.equal(a.lostCount, 1);
      assert.equal(a.lostError, reason);
      assert.equal(b.lostCount, 0, 'the peer of a datagram endpoint is not told');
    }),
};

const throwingCallback: DatagramConformanceCase = {
  name: 'a datagramReceived that throws aborts the endpoint with the thrown error',
  run: async (makePair) => {
    const [ta, tb] = await makePair();
    const a = new DatagramRecorder();
    const boom = new Error('boom');
    const b = new DatagramRecorder();
    b.datagramReceived = () => {
      throw boom;
    };
    ta.setProtocol(a);
    tb.setProtocol(b);
    a.transport!.send('x');
    await b.waitFor('connectionLost', () => b.lostCount > 0);
    assert.equal(b.lostError, boom);
    ta.abort();
  },
};

/** The rules every datagram transport keeps. */
export const datagramConformanceCases: readonly DatagramConformanceCase[] = [
  boundaries,
  replies,
  oversize,
  flowControl,
  pausedReading,
  closeOnce,
  abortOnce,
  throwingCallback,
];
