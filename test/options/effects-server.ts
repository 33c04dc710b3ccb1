/**
 * createServer and serve take the same listening options (serve adds onError); each effect runs
 * through both, by way of a starter whose accepted connections are closed by the server at once.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import {
  clientContext,
  connect,
  connectionInfo,
  createConnection,
  createServer,
  type Endpoint,
  type ListenOptions,
  type Server,
  serve,
  serveHttp,
  type TcpAddress,
  type TransportInfo,
} from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { expect, vi } from 'vitest';
import { kOnContextChange } from '../../src/tls/server-context.js';
import { unixPath } from '../helpers/pairs.js';
import { greet, greetWorker, WorkersFixture, workerCertificates } from '../helpers/workers.js';
import { type EffectTable, rejectsWith, within, world } from './support.js';

/** A connection the server accepted, and closed at once. */
interface Accepted {
  info: TransportInfo;
  closed: Promise<Error | null>;
}

type Start = (options: ListenOptions, onAccepted?: (accepted: Accepted) => void) => Promise<Server>;

const viaCreateServer: Start = (options, onAccepted) =>
  createServer<Endpoint>(() => {
    let lost!: (error: Error | null) => void;
    const closed = new Promise<Error | null>((resolve) => {
      lost = resolve;
    });
    return {
      connectionMade: (transport) => {
        onAccepted?.({ info: transport.info, closed });
        transport.close();
      },
      connectionLost: (error) => lost(error),
    };
  }, options);

/** serveHttp, with an http.Server app that ends each connection as node:http receives it. */
const viaServeHttp: Start = (options, onAccepted) => {
  const app = http.createServer();
  app.on('connection', (socket: Duplex) => {
    const closed = new Promise<Error | null>((resolve) => socket.once('close', () => resolve(null)));
    onAccepted?.({ info: connectionInfo(socket)!, closed });
    socket.end();
  });
  return serveHttp<Endpoint>(options, app);
};

const viaServe: Start = (options, onAccepted) =>
  serve<Endpoint>(options, (connection) => {
    onAccepted?.({ info: connection.info, closed: connection.closed });
  });

/** Resolves with the first connection `start` reports. */
function firstAccepted(): { report: (accepted: Accepted) => void; accepted: Promise<Accepted> } {
  let report!: (accepted: Accepted) => void;
  const accepted = new Promise<Accepted>((resolve) => {
    report = resolve;
  });
  return { report, accepted };
}

const loopback = { host: '127.0.0.1', port: 0 };

/** The port of a server listening on TCP. */
const portOf = (server: Server) => (server.address as TcpAddress).port;

/** What the kernel reports as a listening socket's backlog (ss's Send-Q), or null without ss. */
function kernelBacklog(port: number): number | null {
  try {
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
    return Number(line.split(/\s+/)[2]);
  } catch {
    return null;
  }
}

/** A raw TCP client that connects and then says `hello` or nothing; resolves once closed. */
async function rawClient(port: number, send?: string): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  if (send) socket.write(send);
  await new Promise((resolve) => socket.once('close', resolve));
}

function listenEffects(start: Start, api: 'createServer' | 'serve' | 'serveHttp'): EffectTable {
  return {
    async workers() {
      // The fixture program runs the same call on 2 workers (vitest cannot be forked): two
      // processes answer on the one port, each through the function under test.
      const certificates = await workerCertificates();
      const fixture = new WorkersFixture({ ...certificates, api, workers: 2 });
      try {
        const { port } = await fixture.ready();
        const http = api === 'serveHttp';
        const first = await greet({ port }, certificates, { http });
        const second = await greetWorker({ port }, certificates, (pid) => pid !== first.pid, { http });
        expect([first.with, second.with]).toEqual([api, api]);
        await fixture.close();
        expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
        fixture.expectNoUnhandledRejection();
      } finally {
        await fixture.peer.kill();
      }
    },
    async ticketKeyRotation() {
      // In one process the server rotates its own context's keys on the schedule.
      const { server: leaf } = await world();
      const tls = leaf.serverContext();
      const before = tls.ticketKeys;
      let rotated!: () => void;
      const changed = new Promise<void>((resolve) => {
        rotated = resolve;
      });
      const stop = tls[kOnContextChange]((change) => change === 'ticketKeys' && rotated());
      const server = await start({ ...loopback, tls, ticketKeyRotation: 1000 });
      await within(5_000, changed, 'a rotation of the ticket keys');
      stop();
      expect(tls.ticketKeys.equals(before)).toBe(false);
      await server.close();
    },
    async host() {
      // 192.0.2.1 (TEST-NET-1) is no address of this machine: binding to it must fail, which
      // shows the host reaches the listener; nothing is sent anywhere.
      await rejectsWith(start({ host: '192.0.2.1', port: 0 }), 'EADDRNOTAVAIL');
      const server = await start(loopback);
      expect(server.address).toMatchObject({ host: '127.0.0.1' });
      await server.close();
    },
    async port() {
      const first = await start(loopback);
      await rejectsWith(start({ host: '127.0.0.1', port: portOf(first) }), 'EADDRINUSE');
      await first.close();
    },
    async path() {
      const path = unixPath();
      const { report, accepted } = firstAccepted();
      const server = await start({ path }, report);
      expect(server.address).toEqual({ path });
      const client = await connect({ path });
      expect((await accepted).info).toMatchObject({ kind: 'unix', local: { path } });
      await client.close();
      await server.close();
    },
    async closeTimeout() {
      // The client never finishes its side: the server's close ends at the deadline, not after
      // the default 5 s, over TCP and over TLS.
      const { serverContext, clientContext } = await world();
      for (const tls of [undefined, serverContext]) {
        const { report, accepted } = firstAccepted();
        const server = await start({ ...loopback, tls, closeTimeout: 100 }, report);
        const client = new RecordingProtocol({ keepOpenOnEof: true });
        await createConnection(() => client, {
          ...loopback,
          port: portOf(server),
          tls: tls && clientContext,
          serverName: 'localhost',
        });
        const { closed } = await accepted;
        expect(
          await within(1_500, closed, `the server's close() ${tls ? 'over TLS' : 'over TCP'}`),
        ).toBeNull();
        await server.close();
      }
    },
    async backlog() {
      const listen = vi.spyOn(net.Server.prototype, 'listen');
      try {
        const server = await start({ ...loopback, backlog: 7 });
        expect(listen.mock.calls.some(([options]) => (options as { backlog?: number }).backlog === 7)).toBe(
          true,
        );
        const queued = kernelBacklog(portOf(server));
        if (queued !== null) expect(queued).toBe(7);
        await server.close();
      } finally {
        listen.mockRestore();
      }
    },
    async tls() {
      const { serverContext, clientContext } = await world();
      const { report, accepted } = firstAccepted();
      const server = await start({ ...loopback, tls: serverContext }, report);
      const client = await connect({ ...loopback, port: portOf(server), tls: clientContext });
      expect((await accepted).info.kind).toBe('tls');
      await client.close();
      await server.close();
    },
    async onHandshakeError() {
      const { serverContext } = await world();
      let failed!: (failure: [Error, unknown]) => void;
      const failure = new Promise<[Error, unknown]>((resolve) => {
        failed = resolve;
      });
      const server = await start({
        ...loopback,
        tls: serverContext,
        onHandshakeError: (error, peer) => failed([error, peer]),
      });
      void rawClient(portOf(server), 'GET / HTTP/1.1\r\n\r\n');
      const [error, peer] = await failure;
      expect(error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
      expect(peer).toMatchObject({ host: '127.0.0.1' });
      await server.close();
    },
    async handshakeTimeout() {
      // A client that connects and says nothing is cut off at the server's deadline (the issue:
      // it used to stay for the context's 30 s).
      const { serverContext } = await world();
      const errors: Error[] = [];
      const server = await start({
        ...loopback,
        tls: serverContext,
        handshakeTimeout: 100,
        onHandshakeError: (error) => errors.push(error),
      });
      await within(1_500, rawClient(portOf(server)), 'the idle client being cut off');
      expect(errors).toEqual([expect.objectContaining({ code: 'ERR_TIMEOUT', timeout: 100 })]);
      await server.close();
    },
    async maxConnections() {
      const server = await start({ ...loopback, maxConnections: 1 });
      const holder = net.connect(portOf(server), '127.0.0.1');
      await new Promise((resolve) => holder.once('connect', resolve));
      await expect.poll(() => server.connections).toBe(1);
      await rawClient(portOf(server)); // closed at once
      expect(server.stats.limited.maxConnections).toBe(1);
      holder.destroy();
      await server.close({ timeout: 100 });
    },
    async maxConnectionsPerAddress() {
      const server = await start({ ...loopback, maxConnectionsPerAddress: 1 });
      const holder = net.connect(portOf(server), '127.0.0.1');
      await new Promise((resolve) => holder.once('connect', resolve));
      await expect.poll(() => server.connections).toBe(1);
      await rawClient(portOf(server));
      expect(server.stats.limited.maxConnectionsPerAddress).toBe(1);
      holder.destroy();
      await server.close({ timeout: 100 });
    },
    async maxPendingHandshakes() {
      const { serverContext } = await world();
      const server = await start({ ...loopback, tls: serverContext, maxPendingHandshakes: 1 });
      const silent = net.connect(portOf(server), '127.0.0.1');
      silent.on('error', () => {});
      await new Promise((resolve) => silent.once('connect', resolve));
      await expect.poll(() => server.connections).toBe(1);
      await rawClient(portOf(server));
      expect(server.stats.limited.maxPendingHandshakes).toBe(1);
      silent.destroy();
      await server.close({ timeout: 100 });
    },
    async idleTimeout() {
      // The starter's connections close at once anyway; an idle raw client of a plain server
      // that holds them is what idleTimeout cuts, so hold one open here.
      const server = await createServer<Endpoint>(() => ({}), { ...loopback, idleTimeout: 100 });
      await within(1_500, rawClient(portOf(server)), 'the idle connection being closed');
      expect(server.stats.limited.idleTimeout).toBe(1);
      await server.close();
    },
    async shutdownTimeout() {
      const server = await createServer<Endpoint>(() => ({ serverClosing() {} }), {
        ...loopback,
        shutdownTimeout: 100,
      });
      const client = net.connect(portOf(server), '127.0.0.1');
      client.on('error', () => {});
      await expect.poll(() => server.connections).toBe(1);
      expect(await within(1_500, server.close(), 'the shutdown deadline')).toEqual({
        drained: 0,
        aborted: 1,
        dropped: 0,
      });
      client.destroy();
    },
    async proxyProtocol() {
      const { report, accepted } = firstAccepted();
      const server = await start({ ...loopback, proxyProtocol: { trusted: ['127.0.0.1'] } }, report);
      const source = { host: '203.0.113.5', port: 5555 };
      const client = await connect({
        ...loopback,
        port: portOf(server),
        proxyHeader: { version: 1, source, destination: { host: '192.0.2.1', port: 443 } },
      });
      expect((await accepted).info.peer).toEqual(source);
      await client.close();
      await server.close();
    },
    async signal() {
      const controller = new AbortController();
      const server = await start({ ...loopback, signal: controller.signal });
      controller.abort();
      // Closed: the listener no longer accepts.
      await expect
        .poll(() =>
          connect({ ...loopback, port: portOf(server) }).then(
            (c) => c.abort(),
            (e: Error) => e,
          ),
        )
        .toMatchObject({
          code: 'ECONNREFUSED',
        });
      await server.close();
    },
  };
}

/** serveHttp leaves idle connections to node:http's keepAliveTimeout (see its option names). */
function withoutIdleTimeout({ idleTimeout: _idle, ...rest }: EffectTable): EffectTable {
  return rest;
}

export const effects = {
  createServer: listenEffects(viaCreateServer, 'createServer'),
  serveHttp: {
    ...withoutIdleTimeout(listenEffects(viaServeHttp, 'serveHttp')),
    async closeTimeout() {
      // A closing server ends an idle HTTP connection; a client that never finishes its side
      // holds it until closeTimeout, not the default 5 s.
      const { serverContext, clientContext } = await world();
      const server = await serveHttp<Endpoint>(
        { ...loopback, tls: serverContext, closeTimeout: 100 },
        (_request, response) => response.end('ok'),
      );
      let answered!: () => void;
      const answer = new Promise<void>((resolve) => {
        answered = resolve;
      });
      await createConnection(
        () => ({
          connectionMade: (transport) => transport.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
          dataReceived: () => answered(),
          eofReceived: () => true, // and never end our side
        }),
        { ...loopback, port: portOf(server), tls: clientContext, serverName: 'localhost' },
      );
      await answer;
      expect(
        await within(1_500, server.close(), 'the idle connection released at closeTimeout'),
      ).toMatchObject({
        drained: 1,
        aborted: 0,
      });
    },
    async http2() {
      // The ALPN protocol the server picks for a client offering both.
      const { server: leaf, ca } = await world();
      const offered = clientContext({ trust: ca.trust, alpn: ['h2', 'http/1.1'] });
      for (const [http2, expected] of [
        [undefined, 'h2'],
        [false, 'http/1.1'],
      ] as const) {
        const server = await serveHttp<Endpoint>({ ...loopback, tls: leaf.serverContext(), http2 }, () => {});
        const client = await connect({
          ...loopback,
          port: portOf(server),
          tls: offered,
          serverName: 'localhost',
        });
        expect(client.info.tls?.alpnProtocol).toBe(expected);
        client.abort();
        await server.close({ timeout: 100 });
      }
    },
  },
  serve: {
    ...listenEffects(viaServe, 'serve'),
    async onError() {
      const failures: unknown[] = [];
      let reported!: () => void;
      const done = new Promise<void>((resolve) => {
        reported = resolve;
      });
      const bug = new Error('handler bug');
      const server = await serve(
        {
          ...loopback,
          onError: (error) => {
            failures.push(error);
            reported();
          },
        },
        () => {
          throw bug;
        },
      );
      const client = await connect({ ...loopback, port: portOf(server) }).catch(() => null);
      await done;
      expect(failures).toEqual([bug]);
      client?.abort();
      await server.close();
    },
  } satisfies EffectTable,
};
