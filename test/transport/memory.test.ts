import { MemoryTransport, memoryPair, patternBytes, RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

async function deliveredSizes(options: Parameters<typeof memoryPair>[0]): Promise<number[]> {
  const [a, b] = memoryPair(options);
  const reader = new RecordingProtocol();
  b.setProtocol(reader);
  a.setProtocol({});
  a.write(patternBytes(3000));
  a.write(patternBytes(3000, 2));
  await reader.waitForBytes(6000);
  a.abort();
  return reader.chunks.map((chunk) => chunk.length);
}

describe('memoryPair', () => {
  it('never delivers synchronously', async () => {
    const [a, b] = memoryPair();
    const reader = new RecordingProtocol();
    b.setProtocol(reader);
    a.setProtocol({});
    a.write('x');
    expect(reader.receivedBytes).toBe(0);
    await reader.waitForBytes(1);
    a.close();
  });

  it('delivers whole chunks by default and single bytes with chunkSize: 1', async () => {
    expect(await deliveredSizes({})).toEqual([3000, 3000]);
    const sizes = await deliveredSizes({ chunkSize: 1 });
    expect(sizes).toHaveLength(6000);
    expect(new Set(sizes)).toEqual(new Set([1]));
  });

  it('splits at random but reproducibly: the same seed gives the same pieces', async () => {
    const first = await deliveredSizes({ seed: 5, maxChunkSize: 700 });
    const again = await deliveredSizes({ seed: 5, maxChunkSize: 700 });
    const other = await deliveredSizes({ seed: 6, maxChunkSize: 700 });
    expect(first).toEqual(again);
    expect(first).not.toEqual(other);
    expect(Math.max(...first)).toBeLessThanOrEqual(700);
    // Pieces join write boundaries the way TCP coalesces segments.
    expect(first.some((_, i) => first.slice(0, i + 1).reduce((x, y) => x + y, 0) === 3000)).toBe(false);
  });

  it('delays by whole event-loop turns', async () => {
    const [a, b] = memoryPair({ delay: 5 });
    const reader = new RecordingProtocol();
    b.setProtocol(reader);
    a.setProtocol({});
    a.write('late');
    await turns(4);
    expect(reader.receivedBytes).toBe(0);
    await reader.waitForBytes(4);
    a.close();
  });

  it('holds bytes written before the reader binds a protocol', async () => {
    const [a, b] = memoryPair();
    a.setProtocol({});
    a.write('early');
    await turns(5);
    expect(a.writeBufferSize).toBe(5);
    const reader = new RecordingProtocol();
    b.setProtocol(reader);
    await reader.waitForBytes(5);
    expect(a.writeBufferSize).toBe(0);
  });

  it('injectEof() cuts the stream: the peer sees an end, queued bytes vanish', async () => {
    const [a, b] = memoryPair();
    const writer = new RecordingProtocol({ keepOpenOnEof: true });
    const reader = new RecordingProtocol({ keepOpenOnEof: true });
    a.setProtocol(writer);
    b.setProtocol(reader);
    b.pauseReading();
    a.write('never delivered');
    a.injectEof();
    b.resumeReading();
    await reader.waitForEof();
    expect(reader.receivedBytes).toBe(0);
    expect(writer.eofCount).toBe(0);
  });

  it('injectReset() gives both ends ECONNRESET', async () => {
    const [a, b] = memoryPair();
    const left = new RecordingProtocol();
    const right = new RecordingProtocol();
    a.setProtocol(left);
    b.setProtocol(right);
    a.injectReset();
    expect(await left.waitForLost()).toMatchObject({ code: 'ECONNRESET' });
    expect(await right.waitForLost()).toMatchObject({ code: 'ECONNRESET' });
  });

  it('rejects bad options by name', () => {
    expect(() => memoryPair({ chunkSize: 0 })).toThrow(/`chunkSize` must be an integer >= 1, got 0/);
    expect(() => memoryPair({ seed: 1.5 })).toThrow(/`seed` must be an integer/);
    expect(MemoryTransport.name).toBe('MemoryTransport');
  });
});
