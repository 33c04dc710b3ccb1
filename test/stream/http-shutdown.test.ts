/**
 * serveHttp's graceful shutdown, and what a request sees when its client goes away: requests in
 * flight finish (HTTP/1.1 with `Connection: close`, HTTP/2 after GOAWAY), idle keep-alive
 * connections close at once, new connections are refused, the deadline cuts what is left, and a
 * body cut short is an error for the handler.
 */
import http, { Server as NodeHttpServer } from 'node:http';
import http2 from 'node:http2';
import {
  connect,
  type HttpHandler,
  type HttpServer,
  serveHttp,
  type TcpAddress,
  tlsDispatcher,
} from 'tlskit';
import { beforeAll, describe, expect, it } from 'vitest';
import { fetchWith, h2Request } from '../helpers/http.js';
import { type Pki, pki } from '../helpers/pki-fixtures.js';

/** node:http2's server class, which the module does not export by name. */
const Http2ServerClass = http2.createServer().constructor as { prototype: http2.Http2Server };

let fixture: Pki;
beforeAll(async () => {
  fixture = await pki();
});

/**
 * A handler that answers `/now` at once and holds every other request until `open()`, and says
 * when `expected` of those have arrived.
 */
function gatedApp(expected: number) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let arrivedAll!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrivedAll = resolve;
  });
  let count = 0;
  const handler: HttpHandler = (request, response) => {
    if (request.url === '/now') {
      response.end('now\n');
      return;
    }
    if (++count === expected) arrivedAll();
    void gate.then(() => response.end(`done ${request.url}\n`));
  };
  return { handler, open, arrived };
}

async function start(handler: HttpHandler): Promise<HttpServer<TcpAddress>> {
  return (await serveHttp(
    { host: '127.0.0.1', port: 0, tls: fixture.serverContext },
    handler,
  )) as HttpServer<TcpAddress>;
}

describe('serveHttp: graceful shutdown', () => {
  it('finishes 50 slow requests in flight, closes idle keep-alive connections, refuses new ones', async () => {
    const h1 = 45;
    const h2 = 5;
    const { handler, open, arrived } = gatedApp(h1 + h2);
    const server = await start(handler);
    const base = `https://localhost:${server.address.port}`;

    // One connection left idle after its request, as keep-alive clients leave them.
    const idleClient = tlsDispatcher(fixture.clientContext, { agent: { connections: 1 } });
    expect(await (await fetchWith(`${base}/now`, idleClient)).text()).toBe('now\n');

    const busyClient = tlsDispatcher(fixture.clientContext, { agent: { connections: h1 } });
    const busy = Array.from({ length: h1 }, (_, i) => fetchWith(`${base}/h1/${i}`, busyClient));
    const session = http2.connect(base, { ca: fixture.ca.certPem });
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const streams = Array.from({ length: h2 }, (_, i) => h2Request(session, `/h2/${i}`));
    await arrived;
    const closing = server.close({ timeout: 10_000 });

    // Closing stops accepting at once.
    await expect(connect({ host: '127.0.0.1', port: server.address.port })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    // GOAWAY goes out as closing begins, before the streams it lets finish are answered.
    await goaway;
    open();
    const responses = await Promise.all(busy);
    for (const [i, response] of responses.entries()) {
      expect(response.status).toBe(200);
      expect(response.headers.get('connection')).toBe('close');
      expect(await response.text()).toBe(`done /h1/${i}\n`);
    }
    expect(await Promise.all(streams)).toEqual(Array.from({ length: h2 }, (_, i) => `done /h2/${i}\n`));
    const result = await closing;
    expect(result.aborted).toBe(0);
    expect(result.dropped).toBe(0);
    expect(result.drained).toBe(h1 + 2);
    expect(result.requests).toEqual({ completed: h1 + h2, cut: 0 });
    session.close();
    await Promise.all([idleClient.destroy(), busyClient.destroy()]);
  });
});

describe('serveHttp: shutdown edge cases', () => {
  it('closes a connection whose response had started with keep-alive once that response ends', async () => {
    let finish!: () => void;
    const started = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await start((_request, reply) => {
      const response = reply as http.ServerResponse; // HTTP/1.1 here (fetch speaks nothing else)
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('part one\n');
      finish();
      void held.then(() => response.end('part two\n'));
    });
    const dispatcher = tlsDispatcher(fixture.clientContext, { agent: { connections: 1 } });
    const reply = await fetchWith(`https://localhost:${server.address.port}/`, dispatcher);
    await started;
    expect(reply.headers.get('connection')).toBe('keep-alive');
    const closing = server.close({ timeout: 10_000 });
    release();
    expect(await reply.text()).toBe('part one\npart two\n');
    expect(await closing).toMatchObject({ drained: 1, aborted: 0, requests: { completed: 1, cut: 0 } });
    await dispatcher.destroy();
  });

  it('cuts requests still unanswered at the deadline, and counts them', async () => {
    const { handler, arrived } = gatedApp(3);
    const server = await start(handler);
    const dispatcher = tlsDispatcher(fixture.clientContext, { agent: { connections: 3 } });
    const base = `https://localhost:${server.address.port}`;
    const requests = Array.from({ length: 3 }, (_, i) =>
      fetchWith(`${base}/${i}`, dispatcher).then(
        () => 'answered',
        () => 'failed',
      ),
    );
    await arrived;
    const result = await server.close({ timeout: 200 });
    expect(result).toEqual({ drained: 0, aborted: 3, dropped: 0, requests: { completed: 0, cut: 3 } });
    expect(await Promise.all(requests)).toEqual(['failed', 'failed', 'failed']);
    await dispatcher.destroy();
  });
});

describe('serveHttp: closed by its signal', () => {
  it('releases the node:http and node:http2 servers it made, as close() does', async () => {
    // Resolves once both kinds of server were closed, without anybody calling server.close().
    let closed = 0;
    let allClosed!: () => void;
    const released = new Promise<void>((resolve) => {
      allClosed = resolve;
    });
    type Closable = { close(...args: unknown[]): unknown };
    const restores = [NodeHttpServer.prototype, Http2ServerClass.prototype].map((prototype) => {
      const target = prototype as unknown as Closable;
      const original = target.close;
      target.close = function (this: unknown, ...args: unknown[]) {
        if (++closed === 2) allClosed();
        return original.apply(this, args);
      };
      return () => {
        target.close = original;
      };
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const controller = new AbortController();
      await serveHttp(
        { host: '127.0.0.1', port: 0, tls: fixture.serverContext, signal: controller.signal },
        (_request, reply) => reply.end('hi'),
      );
      controller.abort();
      const deadline = new Promise<string>((resolve) => {
        timer = setTimeout(resolve, 5_000, 'not released within 5 s');
      });
      expect(await Promise.race([released.then(() => 'released'), deadline])).toBe('released');
    } finally {
      clearTimeout(timer);
      for (const restore of restores) restore();
    }
  });
});

describe('serveHttp: a close() refused for its options', () => {
  it('leaves the signal in charge: its abort still closes and releases the server', async () => {
    const app = http.createServer((_request, reply) => reply.end('hi'));
    const controller = new AbortController();
    const server = await serveHttp(
      { host: '127.0.0.1', port: 0, tls: fixture.serverContext, signal: controller.signal },
      app,
    );
    expect(() => server.close({ timeout: -1 })).toThrow(/`timeout` must be a positive number/);
    expect(app.listeners('request')).toHaveLength(2); // the app's handler and serveHttp's tracker
    // Nobody calls close() again: the abort alone must release, taking serveHttp's listener off.
    const released = new Promise<string>((resolve) => {
      app.on('removeListener', (event) => event === 'request' && resolve('released'));
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => {
      timer = setTimeout(resolve, 5_000, 'not released within 5 s');
    });
    controller.abort();
    expect(await Promise.race([released, deadline])).toBe('released');
    clearTimeout(timer);
    expect(app.listeners('request')).toHaveLength(1);
  });
});

describe('serveHttp: a client that goes away mid-request', () => {
  it('reports a body cut short (no close_notify) to the handler as an error', async () => {
    let reported!: (error: Error) => void;
    const failure = new Promise<Error>((resolve) => {
      reported = resolve;
    });
    let received = 0;
    let headersIn!: () => void;
    const headers = new Promise<void>((resolve) => {
      headersIn = resolve;
    });
    const server = await start((request) => {
      headersIn();
      request.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      request.on('error', reported);
    });
    const connection = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      serverName: 'localhost',
      tls: fixture.clientContext,
    });
    await connection.write(
      `POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(100)}`,
    );
    await headers;
    connection.abort(); // the TCP connection ends without close_notify
    const error = await failure;
    expect(error).toMatchObject({ code: 'ECONNRESET', message: 'aborted' });
    expect(received).toBeLessThanOrEqual(100);
    await server.close({ timeout: 1000 });
  });
});
