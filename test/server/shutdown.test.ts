/**
 * Graceful shutdown: `server.close({ timeout })` stops accepting at once, drops handshakes in
 * progress, tells open connections, lets them finish within the deadline with close_notify, and
 * aborts the rest; it resolves with what happened.
 */
import { createHash, randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import {
  type ClientContext,
  type CloseResult,
  type Connection,
  connect,
  createServer,
  type Protocol,
  type Server,
  serve,
  type TcpAddress,
  type Transport,
} from 'tlskit';
import { describe, expect, it } from 'vitest';
import { world } from '../options/support.js';

const loopback = { host: '127.0.0.1', port: 0 };
const portOf = (server: Server) => (server.address as TcpAddress).port;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A promise and its resolver. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves once `count` calls were made. */
function countdown(count: number): { tick: () => void; done: Promise<void> } {
  const { promise, resolve } = signal();
  let left = count;
  if (left === 0) resolve();
  return {
    tick: () => {
      left--;
      if (left === 0) resolve();
    },
    done: promise,
  };
}

/**
 * One line echoed by a line server, then the server closes while the client waits to read: what
 * close() resolved to, and what the client's read ended with (`null` for a clean close_notify).
 */
async function echoOnceThenClose(server: Server, tls: ClientContext): Promise<[CloseResult, unknown]> {
  const client = await connect({ ...loopback, port: portOf(server), tls });
  await client.write('one\n');
  expect(await client.readLine()).toBe('ok one');
  return Promise.all([server.close({ timeout: 5_000 }), client.read().finally(() => client.close())]);
}

describe('server.close()', () => {
  it('lets 100 busy TLS connections finish: no byte lost, every one ends with close_notify', async () => {
    const { serverContext, clientContext } = await world();
    const size = 64 * 1024;
    const started = countdown(100);
    const server = await serve({ ...loopback, tls: serverContext }, async (connection) => {
      const header = await connection.readExactly(4);
      started.tick();
      // The request is in progress when the server starts closing; it is finished all the same.
      const body = await connection.readExactly(new DataView(header.buffer, header.byteOffset).getUint32(0));
      await connection.write(`${sha256(body)}\n`);
    });
    const clients = await Promise.all(
      Array.from({ length: 100 }, () => connect({ ...loopback, port: portOf(server), tls: clientContext })),
    );
    const payloads = clients.map(() => randomBytes(size));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(size);
    for (const client of clients) await client.write(length);
    await started.done;
    const closing = server.close({ timeout: 20_000 });
    // Refused at once: the listener is closed.
    await expect(connect({ ...loopback, port: portOf(server), tls: clientContext })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    const answers = await Promise.all(
      clients.map(async (client, i) => {
        await client.write(payloads[i]!);
        const answer = await client.readLine();
        const end = await client.read(); // null only after the server's close_notify
        await client.close();
        return { answer, end, closed: await client.closed };
      }),
    );
    for (const [i, { answer, end, closed }] of answers.entries()) {
      expect(answer).toBe(sha256(payloads[i]!));
      expect(end).toBeNull();
      expect(closed).toBeNull();
    }
    expect(await closing).toEqual({ drained: 100, aborted: 0, dropped: 0 });
    expect(server.connections).toBe(0);
  });

  it('aborts a connection that ignores the signal once the deadline passes', async () => {
    const { serverContext, clientContext } = await world();
    const handled = signal();
    const server = await serve({ ...loopback, tls: serverContext }, async (connection) => {
      handled.resolve();
      // Returns when its client leaves; ignores the server's closing.
      while ((await connection.read()) !== null);
    });
    const stubborn = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    const polite = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    await handled.promise;
    await polite.close();
    await expect.poll(() => server.connections).toBe(1);
    const result = await server.close({ timeout: 200 });
    expect(result).toEqual({ drained: 0, aborted: 1, dropped: 0 });
    // Aborted: the client sees the connection cut, without close_notify.
    await expect(stubborn.read()).rejects.toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
  });

  it('drops connections still in their handshake at once', async () => {
    const { serverContext } = await world();
    const errors: Error[] = [];
    const server = await serve(
      { ...loopback, tls: serverContext, onHandshakeError: (error) => errors.push(error) },
      () => {},
    );
    const silent = Array.from({ length: 3 }, () => net.connect(portOf(server), '127.0.0.1'));
    await Promise.all(silent.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
    await expect.poll(() => server.connections).toBe(3);
    const gone = silent.map(
      (socket) => new Promise((resolve) => socket.on('error', () => {}).once('close', resolve)),
    );
    expect(await server.close({ timeout: 5_000 })).toEqual({ drained: 0, aborted: 0, dropped: 3 });
    await Promise.all(gone);
    expect(errors).toEqual([]); // being dropped by our own shutdown is not the client's failure
  });

  it('tells a Connection through its `serverClosing` signal, so a read for the next request ends', async () => {
    const { serverContext, clientContext } = await world();
    const served: string[] = [];
    const server = await serve({ ...loopback, tls: serverContext }, async (connection: Connection) => {
      expect(connection.serverClosing.aborted).toBe(false);
      try {
        for (;;) {
          const line = await connection.readLine({ signal: connection.serverClosing });
          if (line === null) return;
          served.push(line);
          await connection.write(`ok ${line}\n`);
        }
      } catch (error) {
        expect(error).toMatchObject({ name: 'AbortError' });
        expect(connection.serverClosing.aborted).toBe(true);
      }
    });
    const [result, end] = await echoOnceThenClose(server, clientContext);
    expect(result).toEqual({ drained: 1, aborted: 0, dropped: 0 });
    expect(end).toBeNull(); // a clean close_notify
    expect(served).toEqual(['one']);
  });

  it('a handler that lets the `serverClosing` abort escape has returned: close_notify, nothing reported', async () => {
    const { serverContext, clientContext } = await world();
    const reported: unknown[] = [];
    const server = await serve(
      { ...loopback, tls: serverContext, onError: (error) => reported.push(error) },
      async (connection: Connection) => {
        // The README's pattern, without a try: the shutdown rejects this read.
        for (;;) {
          const line = await connection.readLine({ signal: connection.serverClosing });
          if (line === null) return;
          await connection.write(`ok ${line}\n`);
        }
      },
    );
    const [result, end] = await echoOnceThenClose(server, clientContext);
    expect(end).toBeNull(); // a clean close_notify, not a truncation
    expect(result).toEqual({ drained: 1, aborted: 0, dropped: 0 });
    expect(reported).toEqual([]);
  });

  it('an AbortError from another signal is still the handler failing', async () => {
    const { serverContext, clientContext } = await world();
    const reported = signal<unknown>();
    const server = await serve(
      { ...loopback, tls: serverContext, onError: (error) => reported.resolve(error) },
      async (connection: Connection) => {
        await connection.readLine({ signal: AbortSignal.abort() });
      },
    );
    const client = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    expect(await reported.promise).toMatchObject({ name: 'AbortError' });
    await expect(client.read()).rejects.toThrow();
    client.abort();
    await server.close();
  });

  it('calls Protocol.serverClosing, and closes protocols without it at once', async () => {
    const told: Transport[] = [];
    const kinds = new Map<Transport, string>();
    let next = 0;
    const server = await createServer(() => {
      const polite = next++ % 2 === 0;
      const protocol: Protocol = {
        connectionMade: (transport) => kinds.set(transport, polite ? 'polite' : 'plain'),
      };
      if (polite) {
        protocol.serverClosing = function (this: Protocol) {
          for (const [transport, kind] of kinds) {
            if (kind === 'polite' && !told.includes(transport)) {
              told.push(transport);
              transport.write('bye\n');
              transport.close();
            }
          }
        };
      }
      return protocol;
    }, loopback);
    const clients = await Promise.all([0, 1].map(() => connect({ ...loopback, port: portOf(server) })));
    await expect.poll(() => kinds.size).toBe(2);
    const [result, lines] = await Promise.all([
      server.close({ timeout: 5_000 }),
      Promise.all(clients.map((client) => client.readLine().finally(() => client.close()))),
    ]);
    expect(result).toEqual({ drained: 2, aborted: 0, dropped: 0 });
    expect(lines).toContain('bye');
    expect(lines).toContain(null);
    expect(told).toHaveLength(1);
  });

  it('a protocol whose serverClosing throws is aborted with that error', async () => {
    const lost = signal<Error | null>();
    const server = await createServer(
      () => ({
        serverClosing() {
          throw new Error('cannot stop');
        },
        connectionLost: (error) => lost.resolve(error),
      }),
      loopback,
    );
    const client = await connect({ ...loopback, port: portOf(server) });
    await expect.poll(() => server.connections).toBe(1);
    await server.close({ timeout: 5_000 });
    expect(await lost.promise).toMatchObject({ message: 'cannot stop' });
    client.abort();
  });

  it('returns the same promise when called again, and checks its options', async () => {
    const server = await serve(loopback, () => {});
    expect(() => server.close({ timeout: -1 })).toThrow(/`timeout` must be a positive number/);
    expect(() => server.close({ timout: 5 } as never)).toThrow(/timout/);
    const first = server.close();
    expect(server.close({ timeout: 1 })).toBe(first);
    // A later call is checked all the same, though the first call's deadline stands.
    expect(() => server.close({ timout: 5 } as never)).toThrow(/timout/);
    expect(await first).toEqual({ drained: 0, aborted: 0, dropped: 0 });
  });

  it('closes when the `signal` given to serve aborts, with `shutdownTimeout` as the deadline', async () => {
    const controller = new AbortController();
    const entered = signal();
    const server = await serve({ ...loopback, signal: controller.signal, shutdownTimeout: 150 }, async () => {
      entered.resolve();
      await new Promise(() => {});
    });
    const client = await connect({ ...loopback, port: portOf(server) });
    await entered.promise;
    controller.abort();
    const closed = await client.closed.catch((error: Error) => error);
    expect(closed).toMatchObject({ code: 'ECONNRESET' });
    expect(await server.close()).toEqual({ drained: 0, aborted: 1, dropped: 0 });
    const aborted = new AbortController();
    aborted.abort();
    await expect(serve({ ...loopback, signal: aborted.signal }, () => {})).rejects.toThrow(/already aborted/);
  });

  it('a signal that aborts while serve() is still setting up closes the server once it listens', async () => {
    const controller = new AbortController();
    const starting = serve({ ...loopback, signal: controller.signal }, () => {});
    controller.abort();
    const server = await starting;
    // Closing already: nobody calls close() here, and the listener is gone.
    const refused = await connect({ ...loopback, port: portOf(server) }).catch((error: Error) => error);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(await server.close()).toEqual({ drained: 0, aborted: 0, dropped: 0 });
  });

  it('a closed server lets go of the signal it was given, which may outlive many servers', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 5; i++) await (await serve({ ...loopback, signal: shared.signal }, () => {})).close();
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });
});
