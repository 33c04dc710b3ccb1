import assert from 'node:assert/strict';
import type { Transport } from '../transport/transport.js';
import { faultCase } from './fault-cases.js';
import {
  assertPeerSawAbort,
  bothLostCleanly,
  type ConformanceCase,
  errorCode,
  patternBytes,
  turns,
  withPair,
} from './harness.js';
import { RecordingProtocol } from './recording-protocol.js';

export {
  type ConformanceCase,
  patternBytes,
  type TransportPairFactory,
  type TransportTraits,
  turns,
} from './harness.js';

const SIZES = [1, 2, 3, 100, 1000, 4096, 16_384, 7, 65_536, 12_345, 1];

async function halfClose(first: RecordingProtocol, second: RecordingProtocol): Promise<void> {
  first.transport!.write('request');
  first.transport!.end();
  await second.waitForEof();
  assert.equal(second.text(), 'request');
  assert.equal(second.transport!.closing, false, 'half-close must not close the peer');
  second.transport!.write('response after your end');
  second.transport!.end();
  await first.waitForEof();
  assert.equal(first.text(), 'response after your end');
  await bothLostCleanly(first, second);
  assert.deepEqual(first.events, ['made', 'data', 'eof', 'lost']);
  assert.deepEqual(second.events, ['made', 'data', 'eof', 'lost']);
}

/**
 * Sizes for the paused-reader case, chosen around the buffers a medium may fill while nobody
 * reads: below 16 KiB (Node 20's default stream high-water mark, so a TLS socket holds it all
 * without asking for less), between 16 and 64 KiB (64 KiB since Node 22), and beyond both, so the
 * writer meets backpressure.
 */
const PAUSED_READER_SIZES = [1_000, 20_000, 200_000];

function pausedReaderCase(size: number): ConformanceCase {
  return {
    name: `a reader paused when the peer finishes gets every byte and then the clean end once it resumes (${size} bytes)`,
    run: (makePair) =>
      withPair(makePair, { a: { keepOpenOnEof: true }, b: { keepOpenOnEof: true } }, async (a, b, ta, tb) => {
        // b finishes first, so its connection is complete the moment a's end of stream reaches it:
        // a transport must not let that completion discard what b has not read yet.
        tb.end();
        await a.waitForEof();
        b.pauseReading();
        const bytes = patternBytes(size, 13);
        ta.write(bytes);
        ta.end();
        // Wherever the medium can carry a's bytes and end of stream to b's side without b reading
        // (TCP, stream bridges, TLS), a completes, and b's side then completes too; a memory pair
        // holds them until b reads, and a large write waits for b, so there is nothing to wait for
        // beyond a few turns.
        await Promise.race([a.waitForLost(), turns(50)]);
        await turns(10);
        assert.equal(b.receivedBytes, 0, 'data arrived while reading was paused');
        b.resumeReading();
        await b.waitFor('eofReceived', () => b.eofCount > 0 || b.lostCount > 0);
        assert.equal(
          b.lostError ?? null,
          null,
          'the paused reader lost its connection instead of reading it out',
        );
        assert.ok(Buffer.from(b.received()).equals(bytes), 'bytes from a arrived changed or incomplete');
        await bothLostCleanly(a, b);
        assert.deepEqual(b.events, ['made', 'data', 'eof', 'lost']);
      }),
  };
}

/**
 * The same promise when the pause comes late: the reader pauses inside `dataReceived` of the last
 * chunk, so the end of stream arrives right behind it, while paused. A Node stream that has ended
 * both ways then closes itself, and that close must not read as the connection breaking.
 */
const pausedOnLastChunkCase: ConformanceCase = {
  name: 'a reader that pauses on the last chunk, as the peer finishes, gets the clean end once it resumes',
  run: (makePair) => {
    const size = 50_000;
    let seen = 0;
    const pauseOnLast = (data: Uint8Array, transport: Transport) => {
      seen += data.length;
      if (seen === size) transport.pauseReading();
    };
    const options = { a: { keepOpenOnEof: true }, b: { keepOpenOnEof: true, onData: pauseOnLast } };
    return withPair(makePair, options, async (a, b, ta, tb) => {
      tb.end(); // b's side is finished first: only a's end of stream is still to come
      await a.waitForEof();
      const bytes = patternBytes(size, 17);
      ta.write(bytes);
      ta.end();
      await b.waitFor('every byte', () => b.receivedBytes === size || b.lostCount > 0);
      await Promise.race([a.waitForLost(), turns(50)]);
      await turns(10);
      assert.equal(b.eofCount, 0, 'the end of stream arrived while reading was paused');
      tb.resumeReading();
      await b.waitFor('eofReceived', () => b.eofCount > 0 || b.lostCount > 0);
      assert.equal(b.lostError ?? null, null, 'the paused reader lost its connection instead of its end');
      assert.ok(Buffer.from(b.received()).equals(bytes), 'bytes from a arrived changed or incomplete');
      await bothLostCleanly(a, b);
      assert.deepEqual(b.events.slice(-2), ['eof', 'lost']);
    });
  },
};

/** The transport contract, as executable checks. Run every case against every transport pair. */
export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: 'bytes arrive in order in both directions, never as empty chunks',
    run: (makePair) =>
      withPair(makePair, { a: { keepOpenOnEof: true }, b: { keepOpenOnEof: true } }, async (a, b, ta, tb) => {
        const sent = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
        SIZES.forEach((size, i) => {
          const fromA = patternBytes(size, i + 1);
          const fromB = patternBytes(size, i + 100);
          ta.write(fromA);
          tb.write(fromB);
          sent.a.push(fromA);
          sent.b.push(fromB);
        });
        ta.write('');
        ta.end();
        tb.end();
        await Promise.all([a.waitForEof(), b.waitForEof()]);
        assert.ok(Buffer.from(b.received()).equals(Buffer.concat(sent.a)), 'bytes from a arrived changed');
        assert.ok(Buffer.from(a.received()).equals(Buffer.concat(sent.b)), 'bytes from b arrived changed');
        await bothLostCleanly(a, b);
      }),
  },
  {
    name: 'end() half-closes: the peer reads to the end and can still answer (a first)',
    run: (makePair) =>
      withPair(makePair, { a: { keepOpenOnEof: true }, b: { keepOpenOnEof: true } }, (a, b) =>
        halfClose(a, b),
      ),
  },
  {
    name: 'end() half-closes: the peer reads to the end and can still answer (b first)',
    run: (makePair) =>
      withPair(makePair, { a: { keepOpenOnEof: true }, b: { keepOpenOnEof: true } }, (a, b) =>
        halfClose(b, a),
      ),
  },
  {
    name: 'an eofReceived that does not return true closes our side as well',
    run: (makePair) =>
      withPair(makePair, { a: { keepOpenOnEof: true } }, async (a, b, ta, tb) => {
        ta.write('bye');
        ta.end();
        await b.waitForEof();
        assert.equal(tb.closing, true, 'the transport should be closing after eofReceived returned nothing');
        await a.waitForEof();
        assert.equal(b.text(), 'bye');
        await bothLostCleanly(a, b);
      }),
  },
  {
    name: 'close() flushes queued bytes, then both ends see a clean close',
    run: (makePair) =>
      withPair(makePair, {}, async (a, b, ta) => {
        const big = patternBytes(256 * 1024, 7);
        ta.write(big);
        ta.write('tail');
        ta.close();
        assert.equal(ta.closing, true);
        assert.throws(
          () => ta.write('late'),
          (error) => errorCode(error) === 'ERR_TRANSPORT_CLOSED',
        );
        await b.waitForEof();
        assert.equal(b.receivedBytes, big.length + 4);
        assert.ok(Buffer.from(b.received()).equals(Buffer.concat([big, Buffer.from('tail')])));
        await bothLostCleanly(a, b);
        assert.equal(ta.writeBufferSize, 0);
      }),
  },
  {
    name: 'abort() closes at once: our side sees null, the peer sees an error with a code',
    run: (makePair, traits = {}) =>
      withPair(makePair, {}, async (a, b, ta) => {
        ta.write(patternBytes(64 * 1024, 3));
        ta.abort();
        assert.equal(ta.closing, true);
        assert.equal(await a.waitForLost(), null);
        await assertPeerSawAbort(b, traits);
      }),
  },
  {
    name: 'abort() drops what is still queued: a peer that was not reading never gets all of it',
    run: (makePair, traits = {}) =>
      withPair(makePair, {}, async (a, b, ta) => {
        b.pauseReading();
        // More than any kernel buffers take, so most of it is still ours to drop.
        const total = 8 * 1024 * 1024;
        ta.write(patternBytes(total, 5));
        ta.abort();
        assert.equal(await a.waitForLost(), null);
        b.resumeReading();
        await b.waitForLost();
        if (traits.queuesWrites === false) return;
        assert.ok(b.receivedBytes < total, `abort() delivered all ${total} queued bytes: it must drop them`);
      }),
  },
  {
    name: 'what eofReceived writes before returning nothing is still sent, then our side closes',
    run: (makePair) =>
      withPair(
        makePair,
        { a: { keepOpenOnEof: true }, b: { onEof: (transport) => transport.write('last words') } },
        async (a, b, ta) => {
          ta.end();
          await b.waitForEof();
          await a.waitForEof();
          assert.equal(a.text(), 'last words');
          await bothLostCleanly(a, b);
        },
      ),
  },
  {
    name: 'abort(error) hands that error to our connectionLost',
    run: (makePair) =>
      withPair(makePair, {}, async (a, _b, ta) => {
        const reason = new Error('deliberate');
        ta.abort(reason);
        assert.equal(await a.waitForLost(), reason);
        ta.abort(new Error('second abort is ignored'));
        assert.equal(a.lostCount, 1);
      }),
  },
  {
    name: 'writing after end() or after the connection is gone throws with a code',
    run: (makePair) =>
      withPair(makePair, { a: { keepOpenOnEof: true } }, async (a, _b, ta) => {
        ta.end();
        assert.throws(
          () => ta.write('x'),
          (error) => errorCode(error) === 'ERR_WRITE_AFTER_END',
        );
        ta.end();
        await a.waitForLost();
        assert.equal(ta.closing, true);
        assert.throws(
          () => ta.write('x'),
          (error) => errorCode(error) === 'ERR_TRANSPORT_CLOSED',
        );
      }),
  },
  {
    name: 'pauseReading() stops the source, so the writer is told to pause; resumeReading() delivers it all',
    run: (makePair) =>
      withPair(makePair, {}, async (a, b, ta) => {
        b.pauseReading();
        ta.setWriteBufferLimits(16 * 1024, 4 * 1024);
        // Pieces far smaller than the mark, so a pause at the wrong mark (the default 64 KiB, say)
        // shows: the write that crossed 16 KiB must be the one that paused.
        const chunk = patternBytes(4 * 1024, 5);
        let sizeAtPause = -1;
        const original = a.pauseWriting.bind(a);
        a.pauseWriting = () => {
          sizeAtPause = ta.writeBufferSize;
          original();
        };
        let written = 0;
        while (a.pauseWritingCount === 0) {
          assert.ok(
            written < 64 * 1024 * 1024,
            'the writer was never told to pause: is reading really paused?',
          );
          ta.write(chunk);
          written += chunk.length;
          if (a.pauseWritingCount === 0) await turns(1);
        }
        assert.ok(sizeAtPause > 16 * 1024, 'pauseWriting came before the buffer passed the high-water mark');
        assert.ok(
          sizeAtPause - chunk.length <= 16 * 1024,
          `pauseWriting came late, with ${sizeAtPause} bytes buffered: setWriteBufferLimits(16 KiB) was not applied`,
        );
        assert.equal(b.receivedBytes, 0, 'data arrived while reading was paused');
        b.resumeReading();
        await a.waitFor('resumeWriting', () => a.resumeWritingCount > 0);
        ta.end();
        await b.waitForEof();
        assert.equal(b.receivedBytes, written);
        const received = b.received();
        for (let offset = 0; offset < written; offset += chunk.length) {
          assert.ok(
            Buffer.from(received.subarray(offset, offset + chunk.length)).equals(chunk),
            `bytes at ${offset}`,
          );
        }
        await bothLostCleanly(a, b);
      }),
  },
  ...PAUSED_READER_SIZES.map(pausedReaderCase),
  pausedOnLastChunkCase,
  {
    name: 'resumeWriting fires only once the buffer drained to the low-water mark',
    run: (makePair) =>
      withPair(makePair, {}, async (a, b, ta) => {
        let sizeAtResume = -1;
        const original = a.resumeWriting.bind(a);
        a.resumeWriting = () => {
          sizeAtResume = ta.writeBufferSize;
          original();
        };
        ta.setWriteBufferLimits(8 * 1024, 2 * 1024);
        b.pauseReading();
        while (a.pauseWritingCount === 0) {
          ta.write(patternBytes(32 * 1024, 9));
          if (a.pauseWritingCount === 0) await turns(1);
        }
        b.resumeReading();
        await a.waitFor('resumeWriting', () => a.resumeWritingCount > 0);
        assert.ok(
          sizeAtResume >= 0 && sizeAtResume <= 2 * 1024,
          `resumed with ${sizeAtResume} bytes buffered`,
        );
        ta.close();
        await bothLostCleanly(a, b);
      }),
  },
  {
    name: 'a protocol callback that throws aborts the transport with the thrown error',
    run: (makePair, traits = {}) => {
      const thrown = new Error('protocol bug');
      return withPair(
        makePair,
        {
          b: {
            onData: () => {
              throw thrown;
            },
          },
        },
        async (a, b, ta) => {
          ta.write('trigger');
          assert.equal(await b.waitForLost(), thrown);
          await assertPeerSawAbort(a, traits);
        },
      );
    },
  },
  // Ending the connection from inside a callback: an allow-list refusing a peer in connectionMade,
  // a parser giving up in dataReceived, a protocol that wants no half-close in eofReceived.
  ...(['a', 'b'] as const).flatMap((side) => [
    faultCase(side, 'connectionMade', 'abort'),
    faultCase(side, 'connectionMade', 'close'),
    faultCase(side, 'connectionMade', 'throw'),
    faultCase(side, 'dataReceived', 'abort'),
    faultCase(side, 'eofReceived', 'abort'),
  ]),
  {
    name: 'setProtocol() rebinds: the new protocol gets connectionMade and the rest, the old one nothing more',
    run: (makePair) =>
      withPair(makePair, {}, async (a, b, ta, tb) => {
        ta.write('one');
        await b.waitForBytes(3);
        const next = new RecordingProtocol();
        tb.setProtocol(next);
        assert.equal(tb.protocol, next);
        assert.equal(next.transport, tb);
        ta.write('two');
        ta.close();
        await next.waitForLost();
        assert.equal(b.text(), 'one');
        assert.equal(next.text(), 'two');
        assert.deepEqual(b.events, ['made', 'data']);
        assert.deepEqual(next.violations, []);
        await a.waitForLost();
      }),
  },
  {
    name: 'info names what the transport runs over',
    run: (makePair) =>
      withPair(makePair, {}, async (_a, _b, ta, tb) => {
        for (const transport of [ta, tb]) {
          assert.ok(['tcp', 'unix', 'memory', 'duplex', 'tls'].includes(transport.info.kind));
        }
      }),
  },
];
