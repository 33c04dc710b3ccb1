import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { Connection, fromDuplex, IncompleteReadError, LimitExceededError } from 'tlskit';
import { type MemoryPairOptions, memoryPair, patternBytes, RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

/** A Connection on end a, a recording protocol on end b; bytes cross one at a time. */
function setup(options: MemoryPairOptions = { chunkSize: 1 }) {
  const [a, b] = memoryPair(options);
  const conn = new Connection(a);
  const peer = new RecordingProtocol({ keepOpenOnEof: true });
  b.setProtocol(peer);
  return { conn, peer, peerTransport: b };
}

describe('Connection reads', () => {
  it('read() returns chunks as they arrive, then null at end of stream', async () => {
    const { conn, peerTransport } = setup({ chunkSize: 4 });
    peerTransport.write('abcdefgh');
    peerTransport.end();
    expect(Buffer.from((await conn.read())!).toString()).toBe('abcd');
    expect(Buffer.from((await conn.read())!).toString()).toBe('efgh');
    expect(await conn.read()).toBeNull();
    expect(await conn.read()).toBeNull();
  });

  it('readLine() strips \\n and \\r\\n, returns a last unterminated line, then null', async () => {
    const { conn, peerTransport } = setup();
    peerTransport.write('first\r\nsecond\n\nünïcode\r\nlast');
    peerTransport.end();
    expect(await conn.readLine()).toBe('first');
    expect(await conn.readLine()).toBe('second');
    expect(await conn.readLine()).toBe('');
    expect(await conn.readLine()).toBe('ünïcode');
    expect(await conn.readLine()).toBe('last');
    expect(await conn.readLine()).toBeNull();
  });

  it('readExactly(n) waits for n bytes across many chunks', async () => {
    const { conn, peerTransport } = setup();
    const bytes = patternBytes(1000);
    peerTransport.write(bytes);
    const got = await conn.readExactly(1000);
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    expect(await conn.readExactly(0)).toHaveLength(0);
  });

  it('readExactly(n) rejects with ERR_INCOMPLETE_READ and the partial bytes at end of stream', async () => {
    const { conn, peerTransport } = setup();
    peerTransport.write('only7by');
    peerTransport.end();
    const error = (await conn.readExactly(10).catch((e: unknown) => e)) as IncompleteReadError;
    expect(error).toBeInstanceOf(IncompleteReadError);
    expect(error.code).toBe('ERR_INCOMPLETE_READ');
    expect(error.expected).toBe(10);
    expect(Buffer.from(error.partial).toString()).toBe('only7by');
  });

  it('readUntil() includes the delimiter, even one split across chunks', async () => {
    const { conn, peerTransport } = setup();
    peerTransport.write('HEADER--END--body');
    expect(Buffer.from(await conn.readUntil('--END--')).toString()).toBe('HEADER--END--');
    peerTransport.end();
    expect(Buffer.from((await conn.read())!).toString()).toBe('b');
  });

  it('readUntil() past its limit rejects with ERR_LIMIT_EXCEEDED and leaves the bytes buffered', async () => {
    const { conn, peerTransport } = setup({ chunkSize: 64 });
    peerTransport.write('x'.repeat(200));
    const error = (await conn.readUntil('\n', { limit: 100 }).catch((e: unknown) => e)) as LimitExceededError;
    expect(error).toBeInstanceOf(LimitExceededError);
    expect(error).toMatchObject({ code: 'ERR_LIMIT_EXCEEDED', limit: 100 });
    expect(conn.bufferedBytes).toBeGreaterThan(100);
    const kept = await conn.readExactly(conn.bufferedBytes);
    expect(Buffer.from(kept).toString()).toMatch(/^x+$/);
  });

  it('readLine() has a default limit, so an endless line cannot exhaust memory', async () => {
    const { conn, peerTransport } = setup({ chunkSize: 4096 });
    const attempt = conn.readLine();
    for (let i = 0; i < 40; i++) peerTransport.write('y'.repeat(4096));
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_LIMIT_EXCEEDED', limit: 64 * 1024 });
    // Bounded: the connection stopped reading shortly past the limit instead of buffering 160 KiB.
    expect(conn.bufferedBytes).toBeLessThanOrEqual(64 * 1024 + 4096);
  });

  it('refuses a second read while one is waiting', async () => {
    const { conn, peerTransport } = setup();
    const first = conn.read();
    await expect(conn.readLine()).rejects.toMatchObject({ code: 'ERR_READ_PENDING' });
    peerTransport.write('x');
    expect(await first).not.toBeNull();
  });

  it('refuses a second read while the first has its bytes but has not taken them yet', async () => {
    const { conn, peerTransport } = setup({ chunkSize: 64 });
    peerTransport.write('za\nbbbbbbbbbb\n');
    await conn.readExactly(1); // the rest of the chunk is buffered now
    const first = conn.readLine();
    await expect(conn.readLine()).rejects.toMatchObject({ code: 'ERR_READ_PENDING' });
    expect(await first).toBe('a');
    expect(await conn.readLine()).toBe('bbbbbbbbbb');
  });

  it('async iteration yields every chunk in order', async () => {
    const { conn, peerTransport } = setup({ seed: 11 });
    const bytes = patternBytes(20_000, 4);
    peerTransport.write(bytes);
    peerTransport.end();
    const parts: Uint8Array[] = [];
    for await (const chunk of conn) parts.push(chunk);
    expect(Buffer.concat(parts).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a reset fails pending reads with the transport error', async () => {
    const { conn, peerTransport } = setup();
    const pending = conn.read();
    peerTransport.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await conn.closed).toMatchObject({ code: 'ECONNRESET' });
  });

  it('stops reading when its buffer is full, so an unread peer is paused, not buffered', async () => {
    const [a, b] = memoryPair();
    const conn = new Connection(a);
    const writer = new RecordingProtocol();
    b.setProtocol(writer);
    const chunk = patternBytes(16 * 1024);
    while (writer.pauseWritingCount === 0) {
      b.write(chunk);
      await turns(1);
    }
    expect(conn.bufferedBytes).toBeLessThanOrEqual(64 * 1024 + chunk.length);
    expect(conn.bufferedBytes).toBeGreaterThanOrEqual(64 * 1024);
    await conn.readExactly(conn.bufferedBytes);
    await writer.waitFor('resumeWriting', () => writer.resumeWritingCount > 0);
  });
});

describe('Connection writes', () => {
  it('write() resolves at once below the high-water mark and waits for the peer otherwise', async () => {
    const { conn, peer } = setup({ chunkSize: 1024 });
    await conn.write('small');
    peer.pauseReading();
    let done = false;
    const big = conn.write(patternBytes(200 * 1024)).then(() => {
      done = true;
    });
    await turns(20);
    expect(done).toBe(false);
    peer.resumeReading();
    await big;
    expect(done).toBe(true);
  });

  it('end() half-closes and the peer can still answer; close() resolves once both are done', async () => {
    const { conn, peer, peerTransport } = setup();
    await conn.write('question');
    conn.end();
    await peer.waitForEof();
    peerTransport.write('answer');
    peerTransport.end();
    expect(await conn.readLine()).toBe('answer');
    await conn.close();
    expect(await conn.closed).toBeNull();
    await expect(conn.write('late')).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
  });
});

describe('Connection.abort', () => {
  /** A Connection whose write is waiting because the peer takes nothing. */
  async function stuckWrite() {
    const [a, b] = memoryPair();
    const conn = new Connection(a);
    b.setProtocol({ connectionMade: (transport) => transport.pauseReading() });
    const write = conn.write(patternBytes(200 * 1024));
    const outcome = write.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await turns(5);
    return { conn, outcome };
  }

  it('without an error, rejects a waiting write with ERR_TRANSPORT_CLOSED: its bytes were dropped', async () => {
    const { conn, outcome } = await stuckWrite();
    conn.abort();
    expect(await outcome).toMatchObject({ name: 'StateError', code: 'ERR_TRANSPORT_CLOSED' });
    expect(await conn.closed).toBeNull();
  });

  it('with an error, rejects a waiting write with that error', async () => {
    const { conn, outcome } = await stuckWrite();
    const reason = new Error('shutting down');
    conn.abort(reason);
    expect(await outcome).toBe(reason);
    expect(await conn.closed).toBe(reason);
  });

  it('without an error, rejects a waiting read and later reads instead of reporting an end of stream', async () => {
    const { conn, peerTransport } = setup({});
    peerTransport.write('kept');
    await conn.readExactly(2);
    const pending = conn.readLine();
    conn.abort();
    await expect(pending).rejects.toMatchObject({ name: 'StateError', code: 'ERR_TRANSPORT_CLOSED' });
    // What had arrived is still there to read; after it, reads fail rather than return null.
    expect(Buffer.from((await conn.read())!).toString()).toBe('pt');
    await expect(conn.read()).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
    await expect(conn.readLine()).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
  });

  it('with an error, rejects a waiting read with that error', async () => {
    const { conn } = setup();
    const pending = conn.read();
    const reason = new Error('giving up');
    conn.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});

describe('Connection over a Node stream that ends both ways while the buffer is full', () => {
  it('reads every byte and then the clean end, although the stream destroyed itself meanwhile', async () => {
    // 70,000 bytes pass the Connection's 64 KiB buffer, so it pauses reading as the end arrives;
    // our side has ended already, so the stream closes itself behind the paused reader.
    const stream = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const connection = new Connection(fromDuplex(stream));
    connection.end();
    stream.push(Buffer.alloc(60_000, 1));
    stream.push(Buffer.alloc(10_000, 2));
    stream.push(null);
    await once(stream, 'close');
    let total = 0;
    for (let chunk = await connection.read(); chunk !== null; chunk = await connection.read())
      total += chunk.length;
    expect(total).toBe(70_000);
    expect(await connection.closed).toBeNull();
  });
});
