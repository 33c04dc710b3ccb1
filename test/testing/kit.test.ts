/**
 * The testing kit keeps its own promises: memory pairs copy what they carry and fake only what
 * they say, their options are checked, the pattern bytes have no short period, `turns` refuses
 * what it cannot count, RecordingProtocol flags what its doc lists, a datagram pair's seed fixes
 * each fault on its own, and a protocol bound late hears what it must.
 */
import {
  DatagramRecorder,
  datagramPair,
  memoryPair,
  patternBytes,
  RecordingProtocol,
  turns,
} from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

describe('memoryPair', () => {
  it('delivers copies: a reader may change its chunk in place, a writer may reuse its buffer', async () => {
    for (const options of [{}, { seed: 3 }, { chunkSize: 2 }]) {
      const [a, b] = memoryPair(options);
      const seen: string[] = [];
      b.setProtocol({
        dataReceived(data) {
          seen.push(Buffer.from(data).toString());
          data.fill(0x58); // unmasking or decrypting in place, as a protocol may
        },
      });
      a.setProtocol({});
      const message = Buffer.from('ping');
      a.write(message);
      a.write(message);
      message.write('XXXX'); // reused at once
      await turns(20);
      expect(seen.join(''), JSON.stringify(options)).toBe('pingping');
      a.abort();
    }
  });

  it('injectEof() forges an end for the peer only: this end stays open, its writes vanish', async () => {
    const [ta, tb] = memoryPair();
    const a = new RecordingProtocol({ keepOpenOnEof: true });
    const b = new RecordingProtocol({ keepOpenOnEof: true });
    ta.setProtocol(a);
    tb.setProtocol(b);
    ta.injectEof();
    await b.waitForEof();
    tb.end(); // the peer answers the forged end with its own
    await a.waitForEof();
    await turns(5);
    expect(a.lostCount).toBe(0);
    expect(() => ta.write('vanishes')).not.toThrow();
    ta.end(); // our own end still completes the connection
    await a.waitForLost();
    expect(a.lostError).toBeNull();
    expect(b.text()).toBe('');
    tb.abort();
  });

  it('refuses options that would be ignored or collide, showing what it got', () => {
    expect(() => memoryPair({ seed: 1, chunkSize: 10 })).toThrow(
      /`chunkSize` fixes the pieces and `seed` draws them at random: give one of them/,
    );
    expect(() => memoryPair({ seed: 1, chunkSize: 10, delay: 2 })).not.toThrow();
    expect(() => memoryPair({ seed: -1 })).toThrow(/`seed` must be an integer from 0 to 2147483647, got -1/);
    expect(() => memoryPair({ seed: 2 ** 31 })).toThrow(/larger seeds would repeat smaller ones/);
    expect(() => memoryPair({ chunkSize: '5' as unknown as number })).toThrow(/got "5" \(a string\)/);
    expect(() => memoryPair(null as never)).toThrow(/memoryPair: the options must be an object/);
  });
});

describe('patternBytes and turns', () => {
  it('patternBytes has no short period, and two seeds give different bytes at every offset', () => {
    const bytes = Buffer.from(patternBytes(256 * 1024, 1));
    // Any period shorter than the run would make this window appear again further on.
    expect(bytes.indexOf(bytes.subarray(100_000, 100_064), 100_001)).toBe(-1);
    const other = Buffer.from(patternBytes(64 * 1024, 2));
    expect(bytes.indexOf(other.subarray(0, 64))).toBe(-1);
  });

  it('turns() refuses a count it could never reach', () => {
    expect(() => turns(-1)).toThrow(/`count` must be a whole number, 0 or more, got -1/);
    expect(() => turns(1.5)).toThrow(/got 1\.5/);
  });
});

describe('RecordingProtocol', () => {
  it('flags data or an end inside connectionMade, and writing callbacks after connectionLost', async () => {
    const [ta, tb] = memoryPair();
    const inside = new RecordingProtocol({ onMade: () => inside.dataReceived(new Uint8Array([1])) });
    ta.setProtocol(inside);
    expect(inside.violations).toContain('dataReceived inside connectionMade');
    const eof = new RecordingProtocol({ onMade: () => eof.eofReceived() });
    tb.setProtocol(eof);
    expect(eof.violations).toContain('eofReceived inside connectionMade');
    const late = new RecordingProtocol();
    late.connectionMade(ta);
    late.connectionLost(null);
    late.pauseWriting();
    late.resumeWriting();
    expect(late.violations).toEqual([
      'pauseWriting after connectionLost',
      'resumeWriting after connectionLost',
    ]);
    ta.abort();
    tb.abort();
  });

  it('checks its options: a timeout a timer can wait, functions for hooks, a boolean', () => {
    expect(() => new RecordingProtocol({ timeout: 2 ** 31 })).toThrow(/`timeout`/);
    expect(() => new RecordingProtocol({ timeout: '5000' as unknown as number })).toThrow(/`timeout`/);
    expect(() => new RecordingProtocol({ onData: 42 as never })).toThrow(/`onData` must be a function/);
    expect(() => new RecordingProtocol({ keepOpenOnEof: 'yes' as never })).toThrow(/`keepOpenOnEof`/);
  });
});

describe('datagramPair', () => {
  async function lost(options: Parameters<typeof datagramPair>[0]): Promise<number[]> {
    const [ta, tb] = datagramPair(options);
    const b = new DatagramRecorder();
    ta.setProtocol(new DatagramRecorder());
    tb.setProtocol(b);
    for (let i = 0; i < 200; i++) ta.send(new Uint8Array([i]));
    await turns(50);
    const got = new Set(b.datagrams.map((datagram) => datagram.data[0]!));
    ta.abort();
    tb.abort();
    return [...Array(200).keys()].filter((i) => !got.has(i));
  }

  it('with delays too, one seed loses the same datagrams whatever the other faults are', async () => {
    const alone = await lost({ seed: 11, loss: 0.2, delay: 2 });
    expect(alone.length).toBeGreaterThan(0);
    expect(await lost({ seed: 11, loss: 0.2, delay: 2, duplication: 0.5 })).toEqual(alone);
  });
});

describe('a protocol bound late', () => {
  it('on a lost transport: a throw in connectionMade reaches its connectionLost, not the caller', async () => {
    const [ta, tb] = memoryPair();
    ta.setProtocol({});
    tb.setProtocol({});
    ta.abort();
    await turns(3);
    const thrown = new Error('bug in connectionMade');
    let lostWith: unknown = 'not called';
    expect(() =>
      ta.setProtocol({
        connectionMade() {
          throw thrown;
        },
        connectionLost(error) {
          lostWith = error;
        },
      }),
    ).not.toThrow();
    expect(lostWith).toBe(thrown);
  });

  it('while writing is paused: hears pauseWriting before its resumeWriting', async () => {
    const [ta, tb] = memoryPair();
    const b = new RecordingProtocol();
    ta.setProtocol(new RecordingProtocol());
    tb.setProtocol(b);
    b.pauseReading();
    ta.setWriteBufferLimits(100, 10);
    ta.write(new Uint8Array(1000));
    const next = new RecordingProtocol();
    ta.setProtocol(next); // a protocol switch (an HTTP upgrade) towards a slow peer
    expect(next.pauseWritingCount).toBe(1);
    b.resumeReading();
    await next.waitFor('resumeWriting', () => next.resumeWritingCount > 0);
    expect(next.violations).toEqual([]);
    ta.abort();
  });

  it('write() of something else names what it got, and how to wrap a buffer', () => {
    const [ta] = memoryPair();
    ta.setProtocol({});
    expect(() => ta.write(new ArrayBuffer(4) as never)).toThrow(
      /got an ArrayBuffer \(wrap it: new Uint8Array\(buffer\)\)/,
    );
    ta.abort();
  });
});
