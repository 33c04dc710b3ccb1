/** datagramPair's faults: each does what it says, and a seed replays the same run exactly. */
import { type DatagramPairOptions, DatagramRecorder, datagramPair, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

/** Sends datagrams "0".."count-1" from a to b and returns what b received, in order. */
async function run(options: DatagramPairOptions, count = 200): Promise<string[]> {
  const [a, b] = datagramPair(options);
  const sender = new DatagramRecorder();
  const receiver = new DatagramRecorder();
  a.setProtocol(sender);
  b.setProtocol(receiver);
  for (let i = 0; i < count; i++) a.send(String(i));
  a.send('end');
  // 'end' may itself be lost, duplicated or held back: wait for the sender's queue to empty.
  for (let turn = 0; turn < 10_000 && a.writeBufferSize > 0; turn++) await turns(1);
  expect(a.writeBufferSize, 'datagrams still in flight after 10,000 turns').toBe(0);
  const received = receiver.datagrams.map((d) => Buffer.from(d.data).toString()).filter((s) => s !== 'end');
  a.abort();
  b.abort();
  return received;
}

const inOrder = Array.from({ length: 200 }, (_, i) => String(i));

describe('datagramPair', () => {
  it('without faults delivers every datagram once, in order, never in the sending turn', async () => {
    const [a, b] = datagramPair();
    const receiver = new DatagramRecorder();
    a.setProtocol({});
    b.setProtocol(receiver);
    a.send('now?');
    expect(receiver.datagrams).toHaveLength(0);
    await receiver.waitFor('the datagram', () => receiver.datagrams.length === 1);
    expect(receiver.datagrams[0]!.from).toEqual(a.info.local);
    expect(await run({})).toEqual(inOrder);
  });

  it('loss drops about the given share, duplication repeats, reordering swaps neighbours', async () => {
    const lossy = await run({ seed: 1, loss: 0.3 });
    expect(lossy.length).toBeGreaterThan(100);
    expect(lossy.length).toBeLessThan(180);
    expect(new Set(lossy).size).toBe(lossy.length);
    const doubled = await run({ seed: 1, duplication: 0.3 });
    expect(doubled.length).toBeGreaterThan(220);
    expect(new Set(doubled)).toEqual(new Set(inOrder));
    const shuffled = await run({ seed: 1, reordering: 0.3 });
    expect([...shuffled].sort()).toEqual([...inOrder].sort());
    expect(shuffled).not.toEqual(inOrder);
  });

  it('delay spreads arrivals over turns, which reorders them', async () => {
    const delayed = await run({ seed: 2, delay: 5 });
    expect([...delayed].sort()).toEqual([...inOrder].sort());
    expect(delayed).not.toEqual(inOrder);
  });

  it('the same seed replays the same run; another seed gives another', async () => {
    const options = { loss: 0.2, duplication: 0.1, reordering: 0.1, delay: 3 };
    const first = await run({ seed: 42, ...options });
    expect(await run({ seed: 42, ...options })).toEqual(first);
    expect(await run({ seed: 43, ...options })).not.toEqual(first);
  });

  it('refuses bad fault settings, naming the option and the value', () => {
    expect(() => datagramPair({ loss: 1.5 })).toThrow(
      'datagramPair: `loss` must be a probability from 0 to 1, got 1.5',
    );
    expect(() => datagramPair({ delay: -1 })).toThrow(/`delay` must be an integer >= 0/);
    expect(() => datagramPair({ chunkSize: 1 } as DatagramPairOptions)).toThrow(/never split.*memoryPair/);
  });
});
