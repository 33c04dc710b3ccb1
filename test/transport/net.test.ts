import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  AbortError,
  ConnectionError,
  connect,
  createConnection,
  createServer,
  InvalidArgumentError,
  type Protocol,
  serve,
  TimeoutError,
  type Transport,
} from 'tlskit';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { blackhole } from '../helpers/blackhole.js';
import { unixPath } from '../helpers/pairs.js';

/** The echo protocol from the foundation issue, typed. */
const echo = (): Protocol => {
  let t: Transport;
  return { connectionMade: (x) => (t = x), dataReceived: (d) => t.write(d) };
};

describe('the foundation example, as written', () => {
  it('echoes a line over TCP and over a byte-at-a-time memory pair', async () => {
    const server = await createServer(echo, { host: '127.0.0.1', port: 0 });
    const conn = await connect({ host: '127.0.0.1', port: server.address.port });
    await conn.write('hello\n');
    expect(await conn.readLine()).toBe('hello');
    await conn.close();
    await server.close();

    const [a, b] = memoryPair({ chunkSize: 1 });
    b.setProtocol(echo());
    const client = new RecordingProtocol({ keepOpenOnEof: true });
    a.setProtocol(client);
    a.write('hello\n');
    await client.waitForBytes(6);
    expect(client.text()).toBe('hello\n');
    expect(client.chunks.every((chunk) => chunk.length === 1)).toBe(true);
    a.close();
    await client.waitForLost();
  });
});

describe('createConnection and createServer', () => {
  it('bind a fresh protocol per connection and report addresses', async () => {
    const made: Transport[] = [];
    const server = await createServer(() => ({ connectionMade: (t: Transport) => made.push(t) }), {
      host: '127.0.0.1',
      port: 0,
    });
    const port = server.address.port;
    const first = new RecordingProtocol();
    const second = new RecordingProtocol();
    const t1 = await createConnection(() => first, { host: '127.0.0.1', port });
    await createConnection(() => second, { host: '127.0.0.1', port });
    expect(t1.protocol).toBe(first);
    expect(first.transport).toBe(t1);
    expect(t1.info).toMatchObject({ kind: 'tcp', peer: { host: '127.0.0.1', port } });
    await new Promise<void>((resolve) => {
      const check = () => (made.length === 2 ? resolve() : setImmediate(check));
      check();
    });
    expect(made[0]!.info.kind).toBe('tcp');
    expect(server.connections).toBe(2);
    await server.close();
    // Closing the server closed both connections gracefully: the clients saw a clean end.
    expect(first.eofCount).toBe(1);
    await first.waitForLost();
    await second.waitForLost();
    expect(first.lostError).toBeNull();
  });

  it('work over Unix sockets', async () => {
    const path = unixPath();
    const server = await createServer(echo, { path });
    expect(server.address).toEqual({ path });
    const client = new RecordingProtocol({ keepOpenOnEof: true });
    const transport = await createConnection(() => client, { path });
    expect(transport.info).toEqual({ kind: 'unix', local: null, peer: { path } });
    transport.write('over unix');
    await client.waitForBytes(9);
    expect(client.text()).toBe('over unix');
    transport.close();
    await client.waitForLost();
    await server.close();
  });

  it('report a refused connection with the OS code and the original error as cause', async () => {
    const server = await createServer(echo, { host: '127.0.0.1', port: 0 });
    const port = server.address.port;
    await server.close();
    const error = await createConnection(echo, { host: '127.0.0.1', port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe('ECONNREFUSED');
    expect((error as ConnectionError).syscall).toBe('connect');
    expect((error as ConnectionError).cause).toBeInstanceOf(Error);
  });

  it('a listen that fails names the address, the code and what to do', async () => {
    const first = await createServer(echo, { host: '127.0.0.1', port: 0 });
    const port = (first.address as { port: number }).port;
    const taken = await createServer(echo, { host: '127.0.0.1', port }).catch((error: Error) => error);
    expect(taken).toBeInstanceOf(ConnectionError);
    expect(taken).toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });
    expect((taken as Error).message).toBe(
      `createServer: cannot listen on 127.0.0.1:${port} (EADDRINUSE): something already listens there; stop it or choose another port (\`port: 0\` lets the system pick a free one)`,
    );
    await first.close();
    const stale = unixPath();
    writeFileSync(stale, ''); // a socket file left behind, or any file there
    await expect(serve({ path: stale }, () => {})).rejects.toThrow(
      `serve: cannot listen on ${stale} (EADDRINUSE): the socket file exists; if no server uses it any more`,
    );
    await expect(serve({ path: join(dirname(stale), 'missing-dir', 's.sock') }, () => {})).rejects.toThrow(
      /serve: cannot listen on .*missing-dir\/s\.sock \((EACCES|ENOENT)\): .*(its|socket file's) directory does not exist/,
    );
    await expect(serve({ path: join(stale, 's.sock') }, () => {})).rejects.toThrow(
      /\(ENOTDIR\): a part of the path before the file name is not a directory/,
    );
  });

  it('reject bad options with the field, the value and the range', async () => {
    await expect(createConnection(echo, { host: '127.0.0.1', port: 70000 })).rejects.toThrow(
      /createConnection: `port` must be an integer from 1 to 65535, got 70000/,
    );
    await expect(createServer(echo, { host: '127.0.0.1', port: -1 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(createConnection(echo, { path: '' })).rejects.toThrow(/`path` must be a non-empty string/);
    await expect(createConnection(echo, { host: '127.0.0.1', port: 1, timeout: -5 })).rejects.toThrow(
      /`timeout` must be a positive number of milliseconds, got -5/,
    );
    // Node would fire a longer timer after 1 ms: a far deadline must not become an instant one.
    await expect(
      createServer(echo, { host: '127.0.0.1', port: 0, shutdownTimeout: 2 ** 31 }),
    ).rejects.toThrow(
      /createServer: `shutdownTimeout` is 2147483648 ms, longer than a Node timer can wait; use at most 2147483647 \(about 24\.8 days\)/,
    );
    expect(() => createServer('nope' as never, { port: 0 })).toThrow(
      /must be a function that returns a protocol/,
    );
  });

  it('reject a number given as a string, quoting it, and options that are no object at all', async () => {
    await expect(createConnection(echo, { host: '127.0.0.1', port: '443' as never })).rejects.toThrow(
      /`port` must be an integer from 1 to 65535, got "443" \(a string\)/,
    );
    await expect(
      createConnection(echo, { host: '127.0.0.1', port: 1, timeout: '5' as never }),
    ).rejects.toThrow(/`timeout` must be a positive number of milliseconds, got "5" \(a string\)/);
    for (const options of [undefined, null, [], 443]) {
      await expect(createConnection(echo, options as never)).rejects.toThrow(
        /^createConnection: the options must be an object such as \{ host: 'example.com', port: 443/,
      );
      await expect(createServer(echo, options as never)).rejects.toThrow(
        /^createServer: the options must be an object such as \{ port: 8443/,
      );
    }
  });

  it('reject an already aborted signal without connecting', async () => {
    const controller = new AbortController();
    controller.abort(new Error('changed my mind'));
    const error = await createConnection(echo, {
      host: '127.0.0.1',
      port: 9,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).code).toBe('ABORT_ERR');
    expect((error as AbortError).cause).toEqual(new Error('changed my mind'));
  });

  it('a factory that throws aborts that connection only', async () => {
    let calls = 0;
    const server = await createServer(
      () => {
        calls++;
        if (calls === 1) throw new Error('factory failed');
        return echo();
      },
      { host: '127.0.0.1', port: 0 },
    );
    const port = server.address.port;
    const first = new RecordingProtocol();
    // The reset can beat the client's own 'connect' event; either way it surfaces as ECONNRESET.
    const outcome = await createConnection(() => first, { host: '127.0.0.1', port }).then(
      () => first.waitForLost(),
      (error: unknown) => error,
    );
    expect(outcome).toMatchObject({ code: 'ECONNRESET' });
    const second = await connect({ host: '127.0.0.1', port });
    await second.write('still serving\n');
    expect(await second.readLine()).toBe('still serving');
    await second.close();
    await server.close();
  });
});

describe('connect deadlines against a listener that never accepts', () => {
  const listener = blackhole();
  const blackholePort = listener.port;
  afterAll(() => listener.stop());

  it('times out with ERR_TIMEOUT', async () => {
    const target = await blackholePort();
    const error = await createConnection(echo, { host: '127.0.0.1', port: target, timeout: 200 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', timeout: 200 });
    expect((error as Error).message).toMatch(/no connection to 127\.0\.0\.1:\d+ within 200 ms/);
  });

  it('aborts with ABORT_ERR when the signal fires mid-connect', async () => {
    const target = await blackholePort();
    const controller = new AbortController();
    const attempt = createConnection(echo, { host: '127.0.0.1', port: target, signal: controller.signal });
    setImmediate(() => controller.abort());
    await expect(attempt).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });
});

describe('serve', () => {
  it('runs the handler per connection and closes when it returns', async () => {
    const server = await serve({ host: '127.0.0.1', port: 0 }, async (c) => {
      const name = await c.readLine();
      await c.write(`hi ${name}\n`);
    });
    const port = server.address.port;
    const conn = await connect({ host: '127.0.0.1', port });
    await conn.write('ada\n');
    expect(await conn.readLine()).toBe('hi ada');
    expect(await conn.readLine()).toBeNull();
    await conn.close();
    expect(await conn.closed).toBeNull();
    await server.close();
  });

  it('aborts the connection and reports a failing handler', async () => {
    const failures: unknown[] = [];
    const server = await serve(
      { host: '127.0.0.1', port: 0, onError: (error) => failures.push(error) },
      async () => {
        throw new Error('handler bug');
      },
    );
    const port = server.address.port;
    const outcome = await connect({ host: '127.0.0.1', port })
      .then(
        (conn) => conn.read(),
        (error: unknown) => error,
      )
      .catch((error: unknown) => error);
    expect(outcome).toMatchObject({ code: 'ECONNRESET' });
    expect(failures).toEqual([new Error('handler bug')]);
    await server.close();
  });
});
