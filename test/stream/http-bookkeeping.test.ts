/**
 * What serveHttp counts when it closes, however a request reached the app: pipelined behind
 * others, through node:http's 'checkContinue', or on a Node server that serves, or served, other
 * tlskit servers too. And httpProtocol's options, checked as serveHttp's are.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  type Connection,
  connect,
  type HttpApp,
  type HttpServer,
  httpProtocol,
  serveHttp,
  type TcpAddress,
  tlsDispatcher,
} from 'tlskit';
import { beforeAll, describe, expect, it } from 'vitest';
import { fetchWith, h2Request } from '../helpers/http.js';
import { type Pki, pki } from '../helpers/pki-fixtures.js';

let fixture: Pki;
beforeAll(async () => {
  fixture = await pki();
});

const options = () => ({ host: '127.0.0.1', port: 0, tls: fixture.serverContext });

async function start(app: HttpApp): Promise<HttpServer<TcpAddress>> {
  return (await serveHttp(options(), app)) as HttpServer<TcpAddress>;
}

/** A gate the app's responses wait on, and a promise for the moment `count` requests arrived. */
function gate(count = 1) {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let seen = 0;
  let allArrived: () => void = () => {};
  const arrived = new Promise<void>((resolve) => {
    allArrived = resolve;
  });
  const arrive = () => {
    if (++seen === count) allArrived();
  };
  return { open, opened, arrived, arrive };
}

async function tlsClient(server: HttpServer<TcpAddress>): Promise<Connection> {
  return connect({
    host: '127.0.0.1',
    port: server.address.port,
    serverName: 'localhost',
    tls: fixture.clientContext,
  });
}

async function readText(connection: Connection): Promise<string> {
  let text = '';
  for (let chunk = await connection.read(); chunk !== null; chunk = await connection.read())
    text += Buffer.from(chunk).toString();
  return text;
}

describe('serveHttp counts every request in flight when it closes', () => {
  it('each of three pipelined HTTP/1.1 requests, answered in full before the connection closes', async () => {
    const held = gate(3);
    const server = await start((request, response) => {
      held.arrive();
      void held.opened.then(() => response.end(`done ${request.url}\n`));
    });
    const connection = await tlsClient(server);
    const head = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    await connection.write(head('/a') + head('/b') + head('/c'));
    await held.arrived;
    const closing = server.close({ timeout: 5000 });
    held.open();
    const text = await readText(connection);
    expect(text.match(/done \/[abc]/g)).toEqual(['done /a', 'done /b', 'done /c']);
    expect((await closing).requests).toEqual({ completed: 3, cut: 0 });
    await connection.close();
  });

  it("a request the app answers through http.Server's 'checkContinue'", async () => {
    const held = gate();
    const app = http.createServer((_request, response) => response.end('plain\n'));
    app.on('checkContinue', (request, response) => {
      response.writeContinue();
      request.resume();
      request.on('end', () => {
        held.arrive();
        void held.opened.then(() => response.end('continued\n'));
      });
    });
    const server = await start(app);
    const connection = await tlsClient(server);
    await connection.write(
      'POST /up HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello',
    );
    await held.arrived;
    const closing = server.close({ timeout: 5000 });
    held.open();
    expect(await readText(connection)).toContain('continued');
    expect((await closing).requests).toEqual({ completed: 1, cut: 0 });
    await connection.close();
  });

  it('once, on an http.Server served again after an earlier serveHttp closed, which left no listener', async () => {
    const held = gate();
    const app = http.createServer((_request, response) => {
      held.arrive();
      void held.opened.then(() => response.end('done'));
    });
    await (await start(app)).close({ timeout: 1000 });
    expect(app.listeners('request')).toHaveLength(1); // the app's own handler alone
    const second = await start(app);
    const dispatcher = tlsDispatcher(fixture.clientContext);
    const reply = fetchWith(`https://localhost:${second.address.port}/held`, dispatcher);
    await held.arrived;
    const closing = second.close({ timeout: 5000 });
    held.open();
    expect(await (await reply).text()).toBe('done');
    expect((await closing).requests).toEqual({ completed: 1, cut: 0 });
    await dispatcher.destroy();
  });

  it('once, with one Http2Server behind two live serveHttp servers', async () => {
    const held = gate();
    const app = http2.createServer((_request, response) => {
      held.arrive();
      void held.opened.then(() => response.end('done'));
    });
    const a = await start(app);
    const b = await start(app);
    const session = http2.connect(`https://localhost:${a.address.port}`, { ca: fixture.ca.certPem });
    const reply = h2Request(session, '/held');
    await held.arrived;
    const closing = a.close({ timeout: 5000 });
    held.open();
    expect(await reply).toBe('done');
    expect((await closing).requests).toEqual({ completed: 1, cut: 0 });
    session.close();
    expect((await b.close({ timeout: 1000 })).requests).toEqual({ completed: 0, cut: 0 });
  });
});

describe('serveHttp leaves a connection the app took over to the app', () => {
  it("an 'upgrade' (a WebSocket): close() does not cut it; the app says goodbye and ends it", async () => {
    let upgraded: (socket: Duplex) => void = () => {};
    const taken = new Promise<Duplex>((resolve) => {
      upgraded = resolve;
    });
    const app = http.createServer((_request, response) => response.end('plain\n'));
    app.on('upgrade', (_request, socket: Duplex) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
      upgraded(socket);
    });
    const server = await start(app);
    const connection = await tlsClient(server);
    await connection.write(
      'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n',
    );
    const socket = await taken;
    expect(await connection.readUntil('\r\n\r\n')).toBeTruthy();
    const closing = server.close({ timeout: 5000 });
    // What an app does when it shuts down: a last message to its peer, then the end.
    socket.end('goodbye\n');
    expect(await readText(connection)).toBe('goodbye\n');
    await connection.close();
    expect(await closing).toMatchObject({ drained: 1, aborted: 0 });
  });
});

describe('httpProtocol checks its options as serveHttp does', () => {
  const handler = (_request: unknown, response: { end(text: string): void }) => response.end('hi');

  it('refuses a misspelt name, a non-boolean http2, and an http2 that cannot act on servers', async () => {
    expect(() => httpProtocol(handler, { htpp2: false } as never)).toThrow(/htpp2/);
    expect(() => httpProtocol(handler, { http2: 'no' } as never)).toThrow(
      /httpProtocol: `http2` must be true or/,
    );
    expect(() => httpProtocol(http.createServer(), { http2: false })).toThrow(
      /`http2: false` applies to a handler; with servers, pass only `http1`/,
    );
    await expect(serveHttp({ ...options(), http2: true }, http.createServer())).rejects.toThrow(
      /^serveHttp: `http2: true` applies to a handler; with servers, pass \{ http1, http2 \} to serve both/,
    );
  });
});
