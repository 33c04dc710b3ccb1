/**
 * The relay between two connections (tlskit tunnel's core), over memory pairs: bytes both ways
 * in order, half-close carried per direction, bytes read before the relay took over kept, a
 * failure on one side aborting the other, and a slow reader throttling the sender.
 */
import { Connection } from 'tlskit';
import { memoryPair } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { relay } from '../../src/stream/relay.js';

/** client ⇄ [a | relay | b] ⇄ backend, each link a memory pair with seeded splits. */
function chain(seed: number) {
  const [clientEnd, aEnd] = memoryPair({ seed, maxChunkSize: 700 });
  const [bEnd, backendEnd] = memoryPair({ seed: seed + 1, maxChunkSize: 900 });
  return {
    client: new Connection(clientEnd),
    a: new Connection(aEnd),
    b: new Connection(bEnd),
    backend: new Connection(backendEnd),
  };
}

async function readAll(connection: Connection): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of connection) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('relay', () => {
  it('carries bytes both ways, each direction ending on its own, and counts them', async () => {
    const { client, a, b, backend } = chain(3);
    // Read before the relay takes over: what is left buffered must still go through.
    await client.write('hello ');
    expect(Buffer.from(await a.readExactly(2)).toString()).toBe('he');
    const counts = { forward: 0, backward: 0 };
    const relayed = relay(a, b, counts);
    const upload = Buffer.alloc(200_000, 7);
    const arriving = readAll(backend); // read as it comes: the relay holds no more than a window
    await client.write(upload);
    client.end(); // half-close: the backend sees the end and still answers
    const received = await arriving;
    expect(received.subarray(0, 4).toString()).toBe('llo ');
    expect(received.subarray(4).equals(upload)).toBe(true);
    await backend.write('answer after the client finished');
    backend.end();
    expect((await readAll(client)).toString()).toBe('answer after the client finished');
    expect(await relayed).toBeNull();
    expect(counts).toEqual({ forward: 4 + upload.length, backward: 32 });
    expect(await a.closed).toBeNull();
    expect(await b.closed).toBeNull();
  });

  it('aborts the other side when one fails, and resolves with the error and the side it came from', async () => {
    const { client, a, b, backend } = chain(5);
    const relayed = relay(a, b, { forward: 0, backward: 0 });
    await client.write('partial');
    expect(Buffer.from(await backend.readExactly(7)).toString()).toBe('partial');
    backend.abort(new Error('backend crashed'));
    expect(await relayed).toMatchObject({ error: { code: 'ECONNRESET' }, lost: 'b' });
    expect(await client.closed).toMatchObject({ code: 'ECONNRESET' });
  });

  it('closes the other side when one is closed from outside (an idle timeout), and resolves cleanly', async () => {
    const { client, a, b, backend } = chain(9);
    const relayed = relay(a, b, { forward: 0, backward: 0 });
    await client.write('ping');
    expect(Buffer.from(await backend.readExactly(4)).toString()).toBe('ping');
    a.transport.close(); // what the server's idleTimeout does to the client's connection
    expect(await relayed).toBeNull();
    expect(await b.closed).toBeNull();
    expect(await backend.read()).toBeNull(); // the backend saw a clean end, not a connection left open
    await backend.close();
    await client.close();
  });

  it('throttles the sender when the receiver does not read, and loses nothing', async () => {
    const { client, a, b, backend } = chain(7);
    const relayed = relay(a, b, { forward: 0, backward: 0 });
    const total = 4 * 1024 * 1024;
    const block = Buffer.alloc(64 * 1024, 1);
    let written = 0;
    // The backend reads nothing yet: the client's writes must come to wait, not fill memory.
    const writing = (async () => {
      while (written < total) {
        await client.write(block);
        written += block.length;
      }
      client.end();
    })();
    await expect.poll(() => b.transport.writeBufferSize > 0).toBe(true);
    expect(written).toBeLessThan(total);
    const received = await readAll(backend);
    await writing;
    expect(received.length).toBe(total);
    backend.end();
    expect(await relayed).toBeNull();
  });
});
