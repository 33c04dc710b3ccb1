/**
 * Server limits refuse exactly the excess, at once, count it, and publish it on `tlskit:limit`;
 * the connections within the limits are served as usual.
 */
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { connect, type LimitMessage, type Server, serve, type TcpAddress } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PENDING_HANDSHAKES, serverLimits } from '../../src/server/limits.js';
import { world } from '../options/support.js';

const loopback = { host: '127.0.0.1', port: 0 };
const portOf = (server: Server) => (server.address as TcpAddress).port;
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 100 })));
});

/** Collects `tlskit:limit` messages while `body` runs. */
async function limitMessages(body: (messages: LimitMessage[]) => Promise<void>): Promise<LimitMessage[]> {
  const messages: LimitMessage[] = [];
  const listener = (message: unknown) => messages.push(message as LimitMessage);
  diagnostics.subscribe('tlskit:limit', listener);
  try {
    await body(messages);
  } finally {
    diagnostics.unsubscribe('tlskit:limit', listener);
  }
  return messages;
}

/** A raw client socket; `closed` resolves once the server closed it. */
function rawClient(port: number, send?: Uint8Array | string) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  if (send) socket.write(send);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed, connected };
}

/** A server whose handler holds each connection until its client leaves. */
async function holdingServer(options: Record<string, unknown>) {
  const server = await serve({ ...loopback, ...options }, async (connection) => {
    await connection.write('hello\n');
    while ((await connection.read()) !== null);
  });
  servers.push(server);
  return server;
}

describe('server limits', () => {
  it('maxConnections: the sockets beyond the cap are closed at once, the rest are served', async () => {
    const messages = await limitMessages(async () => {
      const server = await holdingServer({ maxConnections: 3 });
      const held = await Promise.all([1, 2, 3].map(() => connect({ ...loopback, port: portOf(server) })));
      for (const connection of held) expect(await connection.readLine()).toBe('hello');
      const extra = [rawClient(portOf(server)), rawClient(portOf(server))];
      await Promise.all(extra.map((client) => client.closed));
      expect(server.stats.limited.maxConnections).toBe(2);
      expect(server.connections).toBe(3);
      // Once one leaves, a new client is served again.
      await held[0]!.close();
      await expect.poll(() => server.connections).toBe(2);
      const next = await connect({ ...loopback, port: portOf(server) });
      expect(await next.readLine()).toBe('hello');
      for (const connection of [...held.slice(1), next]) await connection.close();
    });
    expect(messages).toEqual([
      expect.objectContaining({
        limit: 'maxConnections',
        value: 3,
        peer: expect.objectContaining({ host: '127.0.0.1' }),
      }),
      expect.objectContaining({ limit: 'maxConnections', value: 3 }),
    ]);
  });

  it('maxConnectionsPerAddress counts the address a trusted PROXY header names', async () => {
    const server = await holdingServer({
      maxConnectionsPerAddress: 2,
      proxyProtocol: { trusted: ['127.0.0.1'] },
    });
    const from = (host: string, destination = '192.0.2.1') =>
      connect({
        ...loopback,
        port: portOf(server),
        proxyHeader: {
          version: 2,
          source: { host, port: 1000 },
          destination: { host: destination, port: 443 },
        },
      });
    const a = await Promise.all([from('203.0.113.1'), from('203.0.113.1')]);
    for (const connection of a) expect(await connection.readLine()).toBe('hello');
    // Refused at once (a reset), the same address spelled as IPv4-mapped IPv6 included.
    for (const extra of [await from('203.0.113.1'), await from('::ffff:203.0.113.1', '::ffff:192.0.2.1')]) {
      await expect(extra.readLine()).rejects.toMatchObject({ code: 'ECONNRESET' });
    }
    const b = await from('203.0.113.2');
    expect(await b.readLine()).toBe('hello');
    expect(server.stats.limited.maxConnectionsPerAddress).toBe(2);
    for (const connection of [...a, b]) await connection.close();
  });

  it('maxPendingHandshakes bounds silent TLS clients (slowloris), and real clients are still served', async () => {
    const { serverContext, clientContext } = await world();
    const messages = await limitMessages(async () => {
      const server = await holdingServer({
        tls: serverContext,
        maxPendingHandshakes: 2,
        handshakeTimeout: 60_000,
      });
      const silent = [rawClient(portOf(server)), rawClient(portOf(server))];
      await Promise.all(silent.map((client) => client.connected));
      await expect.poll(() => server.connections).toBe(2);
      const refused = [rawClient(portOf(server)), rawClient(portOf(server))];
      await Promise.all(refused.map((client) => client.closed));
      expect(server.stats.limited.maxPendingHandshakes).toBe(2);
      // The silent ones leave; a real client gets its slot.
      for (const client of silent) client.socket.destroy();
      await expect.poll(() => server.connections).toBe(0);
      const real = await connect({ ...loopback, port: portOf(server), tls: clientContext });
      expect(await real.readLine()).toBe('hello');
      await real.close();
    });
    expect(messages.map((message) => message.limit)).toEqual([
      'maxPendingHandshakes',
      'maxPendingHandshakes',
    ]);
  });

  it('idleTimeout closes a connection that neither reads nor writes, cleanly, and spares a busy one', async () => {
    const { serverContext, clientContext } = await world();
    const server = await serve({ ...loopback, tls: serverContext, idleTimeout: 200 }, async (connection) => {
      for (;;) {
        const line = await connection.readLine();
        if (line === null) return;
        await connection.write(`${line}\n`);
      }
    });
    servers.push(server);
    const idle = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    const busy = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    const idleEnd = idle.read(); // resolves with null: the server's close_notify
    let idleClosed = false;
    void idleEnd.then(() => {
      idleClosed = true;
    });
    // The busy client talks without pause until the idle one is closed, and is still served after.
    let pings = 0;
    while (!idleClosed) {
      await busy.write(`ping ${pings}\n`);
      expect(await busy.readLine()).toBe(`ping ${pings}`);
      pings++;
    }
    expect(await idleEnd).toBeNull();
    await busy.write('still here\n');
    expect(await busy.readLine()).toBe('still here');
    expect(server.stats.limited.idleTimeout).toBe(1);
    await idle.close();
    await busy.close();
  });

  it('idleTimeout spares a write the peer is still taking in, however long the write lasts', async () => {
    const { serverContext, clientContext } = await world();
    const idleTimeout = 400;
    const size = 32 * 1024 * 1024;
    let written: (value: { ms: number; cut: number }) => void = () => {};
    const serverWrote = new Promise<{ ms: number; cut: number }>((resolve) => {
      written = resolve;
    });
    const server = await serve({ ...loopback, tls: serverContext, idleTimeout }, async (connection) => {
      const started = performance.now();
      await connection.write(new Uint8Array(size));
      written({ ms: performance.now() - started, cut: server.stats.limited.idleTimeout });
      await connection.read(); // the client's end
    });
    servers.push(server);
    const client = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    // A slow but steady reader: 10 ms of pause per 256 KiB, far below idleTimeout, so the server's
    // one write stays in progress for well over idleTimeout in all.
    let received = 0;
    let sincePause = 0;
    while (received < size) {
      const chunk = await client.read();
      if (chunk === null) break;
      received += chunk.length;
      sincePause += chunk.length;
      if (sincePause >= 256 * 1024) {
        sincePause = 0;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    expect(received).toBe(size);
    const { ms, cut } = await serverWrote;
    expect(cut).toBe(0);
    expect(ms).toBeGreaterThan(idleTimeout); // the premise: the write outlasted idleTimeout
    await client.close();
  });

  it('idleTimeout closes a connection whose peer stops taking a write in the middle of it', async () => {
    const { serverContext, clientContext } = await world();
    const server = await serve({ ...loopback, tls: serverContext, idleTimeout: 200 }, async (connection) => {
      await connection.write(new Uint8Array(32 * 1024 * 1024)).catch(() => {});
    });
    servers.push(server);
    const limited = new Promise<LimitMessage>((resolve) => {
      const listener = (message: unknown) => {
        diagnostics.unsubscribe('tlskit:limit', listener);
        resolve(message as LimitMessage);
      };
      diagnostics.subscribe('tlskit:limit', listener);
    });
    // The client never reads: the write fills the socket buffers and stops moving.
    const client = await connect({ ...loopback, port: portOf(server), tls: clientContext });
    expect((await limited).limit).toBe('idleTimeout');
    expect(server.stats.limited.idleTimeout).toBe(1);
    client.abort();
  });

  it('has documented defaults: a handshake deadline always, 1024 pending handshakes, no caps', () => {
    expect(serverLimits('serve', {})).toEqual({
      handshakeTimeout: undefined, // the context's, else 30 s: never off
      maxConnections: Number.POSITIVE_INFINITY,
      maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
      maxPendingHandshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
      idleTimeout: undefined,
      shutdownTimeout: 10_000,
    });
    expect(DEFAULT_MAX_PENDING_HANDSHAKES).toBe(1024);
  });

  it('refuses bad values with errors that name the field', async () => {
    for (const [field, value] of [
      ['maxConnections', 0],
      ['maxConnectionsPerAddress', 1.5],
      ['maxPendingHandshakes', '10'],
      ['idleTimeout', -1],
      ['shutdownTimeout', 0],
    ] as const) {
      await expect(serve({ ...loopback, [field]: value } as never, () => {})).rejects.toThrow(
        new RegExp(`\`${field}\` must be a positive`),
      );
    }
  });
});
