import { AbortError, Connection, TimeoutError } from 'tlskit';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

/** A Connection on end a; the test writes from end b. */
function setup() {
  const [a, b] = memoryPair({ chunkSize: 3 });
  const conn = new Connection(a);
  const peer = new RecordingProtocol(); // answers our close() with its own end
  b.setProtocol(peer);
  return { conn, peer, writer: b };
}

describe('Connection reads with a signal or a timeout', () => {
  it('a read that times out rejects with ERR_TIMEOUT, consumes nothing, and the connection reads on', async () => {
    const { conn, writer } = setup();
    writer.write('abc');
    const error = await conn.readLine({ timeout: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', timeout: 50 });
    expect((error as Error).message).toMatch(/^readLine: .* within 50 ms .*stay buffered/);
    expect(conn.bufferedBytes).toBe(3);
    writer.write('def\n');
    expect(await conn.readLine({ timeout: 5_000 })).toBe('abcdef');
    await conn.close();
  });

  it('a read whose signal aborts while it waits rejects with ABORT_ERR and the reason; the next read works', async () => {
    const { conn, writer } = setup();
    const controller = new AbortController();
    const pending = conn.readExactly(4, { signal: controller.signal });
    writer.write('xy');
    controller.abort(new Error('user gave up'));
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(error).toMatchObject({ code: 'ABORT_ERR' });
    expect((error as Error).cause).toEqual(new Error('user gave up'));
    writer.write('zw');
    expect(Buffer.from(await conn.readExactly(4)).toString()).toBe('xyzw');
    await conn.close();
  });

  it('a signal that is already aborted rejects at once, even with data buffered, and leaves the data', async () => {
    const { conn, writer } = setup();
    writer.write('one\ntwo\n'); // arrives as 'one', '\ntw', 'o\n'
    expect(await conn.readLine()).toBe('one');
    expect(conn.bufferedBytes).toBeGreaterThan(0);
    const error = await conn.read({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ABORT_ERR' });
    expect(await conn.readLine()).toBe('two');
    await conn.close();
  });

  it('a read that completes in time is unaffected by its timeout or signal firing later', async () => {
    const { conn, writer } = setup();
    const controller = new AbortController();
    writer.write('hello\n');
    expect(await conn.readLine({ timeout: 30, signal: controller.signal })).toBe('hello');
    controller.abort();
    // The deadline was cleared with the read: a later read waits for data, not for the old timer.
    const next = conn.read({ timeout: 5_000 });
    writer.write('next');
    expect(await next).not.toBeNull();
    await conn.close();
  });

  it('refuses unknown options and bad values, naming them', async () => {
    const { conn } = setup();
    await expect(conn.read({ timout: 5 } as never)).rejects.toThrow(
      /^read: unknown option `timout`; did you mean `timeout`\?/,
    );
    await expect(conn.readLine({ timeout: -1 })).rejects.toThrow(
      /readLine: `timeout` must be a positive number of milliseconds, got -1/,
    );
    await expect(conn.readExactly(1, { signal: {} as AbortSignal })).rejects.toThrow(
      /readExactly: `signal` must be an AbortSignal/,
    );
    conn.abort();
  });
});
