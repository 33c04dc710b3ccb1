/** The smaller options objects: memoryPair, fromDuplex, RecordingProtocol, and the read limits. */
import { Connection, fromDuplex, type Transport, toDuplex } from 'tlskit';
import { type MemoryPairOptions, memoryPair, RecordingProtocol, turns } from 'tlskit/testing';
import { expect } from 'vitest';
import { type EffectTable, rejectsWith, within } from './support.js';

/** The piece sizes in which `length` bytes written at one end arrive at the other. */
async function pieces(options: MemoryPairOptions, length = 2_000): Promise<number[]> {
  const [a, b] = memoryPair(options);
  const recording = new RecordingProtocol();
  a.setProtocol({});
  b.setProtocol(recording);
  a.write(new Uint8Array(length));
  await recording.waitForBytes(length);
  a.abort();
  return recording.chunks.map((chunk) => chunk.length);
}

/** Event-loop turns until a first byte written now arrives. */
async function turnsToArrive(options: MemoryPairOptions): Promise<number> {
  const [a, b] = memoryPair(options);
  const recording = new RecordingProtocol();
  a.setProtocol({});
  b.setProtocol(recording);
  a.write('x');
  let count = 0;
  while (recording.receivedBytes === 0) {
    await turns(1);
    count++;
  }
  a.abort();
  return count;
}

/** `transport` closes while its peer never finishes; resolves with connectionLost's error. */
async function closeAgainstSilentPeer(transport: Transport, peer: Transport): Promise<Error | null> {
  peer.setProtocol({ eofReceived: () => true });
  const closing = new RecordingProtocol();
  transport.setProtocol(closing);
  transport.close();
  const error = await within(1_500, closing.waitForLost(), 'close()');
  peer.abort();
  return error;
}

/** A connection whose peer sends nothing: a read waits until its signal or timeout ends it. */
function silent(): Connection {
  const [a, b] = memoryPair();
  b.setProtocol({});
  return new Connection(a);
}

/** The effects of a read's `signal` and `timeout`: each ends a wait for data that never comes. */
function deadlineEffects(read: (connection: Connection, options: object) => Promise<unknown>): EffectTable {
  return {
    async signal() {
      const controller = new AbortController();
      const waiting = read(silent(), { signal: controller.signal });
      controller.abort();
      await rejectsWith(within(1_500, waiting, 'the read ending'), 'ABORT_ERR');
    },
    async timeout() {
      await rejectsWith(within(1_500, read(silent(), { timeout: 30 }), 'the read ending'), 'ERR_TIMEOUT');
    },
  };
}

/** A connection whose peer sends a line longer than four bytes. */
function longLine(): Connection {
  const [a, b] = memoryPair();
  b.setProtocol({});
  b.write('abcdefgh\n');
  return new Connection(a);
}

export const effects = {
  memoryPair: {
    async chunkSize() {
      const sizes = await pieces({ chunkSize: 7 }, 100);
      expect(Math.max(...sizes)).toBe(7);
      expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(100);
    },
    async seed() {
      const one = await pieces({ seed: 1, maxChunkSize: 100 });
      expect(await pieces({ seed: 1, maxChunkSize: 100 })).toEqual(one);
      expect(await pieces({ seed: 2, maxChunkSize: 100 })).not.toEqual(one);
    },
    async maxChunkSize() {
      expect(Math.max(...(await pieces({ seed: 3, maxChunkSize: 5 })))).toBeLessThanOrEqual(5);
      expect(Math.max(...(await pieces({ seed: 3 })))).toBeGreaterThan(5);
    },
    async delay() {
      const prompt = await turnsToArrive({});
      expect(await turnsToArrive({ delay: 5 })).toBeGreaterThanOrEqual(prompt + 5);
    },
    async closeTimeout() {
      const [a, b] = memoryPair({ closeTimeout: 100 });
      expect(await closeAgainstSilentPeer(a, b)).toBeNull();
    },
  } satisfies EffectTable,
  fromDuplex: {
    async closeTimeout() {
      const [a, b] = memoryPair();
      expect(await closeAgainstSilentPeer(fromDuplex(toDuplex(a), { closeTimeout: 100 }), b)).toBeNull();
    },
  } satisfies EffectTable,
  RecordingProtocol: {
    async keepOpenOnEof() {
      for (const keepOpenOnEof of [false, true]) {
        const [a, b] = memoryPair();
        const recording = new RecordingProtocol({ keepOpenOnEof });
        a.setProtocol(recording);
        b.setProtocol({ eofReceived: () => true });
        b.end();
        await recording.waitForEof();
        expect(a.closing).toBe(!keepOpenOnEof);
        a.abort();
      }
    },
    async onMade() {
      const [a] = memoryPair();
      const seen: Transport[] = [];
      a.setProtocol(new RecordingProtocol({ onMade: (transport) => seen.push(transport) }));
      expect(seen).toEqual([a]);
      a.abort();
    },
    async onData() {
      const [a, b] = memoryPair();
      const seen: string[] = [];
      const recording = new RecordingProtocol({ onData: (data) => seen.push(Buffer.from(data).toString()) });
      a.setProtocol(recording);
      b.setProtocol({});
      b.write('hello');
      await recording.waitForBytes(5);
      expect(seen.join('')).toBe('hello');
      a.abort();
    },
    async onEof() {
      const [a, b] = memoryPair();
      let closingInside: boolean | undefined;
      const recording = new RecordingProtocol({ onEof: (transport) => (closingInside = transport.closing) });
      a.setProtocol(recording);
      b.setProtocol({});
      b.end();
      await recording.waitForEof();
      expect(closingInside).toBe(false); // called inside eofReceived, before it returned
      a.abort();
    },
    async timeout() {
      const waiting = new RecordingProtocol({ timeout: 50 }).waitForEof();
      await expect(within(1_500, waiting, 'the wait timing out')).rejects.toThrow(/timed out after 50 ms/);
    },
  } satisfies EffectTable,
  read: deadlineEffects((connection, options) => connection.read(options)),
  readExactly: deadlineEffects((connection, options) => connection.readExactly(4, options)),
  readUntil: {
    async limit() {
      const error = await rejectsWith(longLine().readUntil('\n', { limit: 4 }), 'ERR_LIMIT_EXCEEDED');
      expect(error).toMatchObject({ limit: 4 });
    },
    ...deadlineEffects((connection, options) => connection.readUntil('\n', options)),
  } satisfies EffectTable,
  readLine: {
    async limit() {
      const error = await rejectsWith(longLine().readLine({ limit: 4 }), 'ERR_LIMIT_EXCEEDED');
      expect(error).toMatchObject({ limit: 4 });
    },
    ...deadlineEffects((connection, options) => connection.readLine(options)),
  } satisfies EffectTable,
};
