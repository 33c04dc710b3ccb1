/**
 * serveHttp over TCP and TLS, spoken to by independent HTTP clients: curl (HTTP/1.1 and HTTP/2),
 * Node's fetch through tlskit's dispatcher, Node's http2 client, and nghttp/h2load where
 * installed. The app forms (a handler, Node servers), ALPN routing, what a request learns about
 * its connection, and node:http's own slow-client timeouts.
 */
import { execFile } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import {
  clientContext,
  connect,
  connectionInfo,
  type HttpApp,
  type HttpHandler,
  type HttpServer,
  InvalidArgumentError,
  type ServeHttpOptions,
  serveHttp,
  type TcpAddress,
  tlsDispatcher,
} from 'tlskit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCommand } from '../helpers/commands.js';
import { fetchWith, h2Request } from '../helpers/http.js';
import { type Pki, pki } from '../helpers/pki-fixtures.js';

const run = promisify(execFile);
let fixture: Pki;
let caFile: string;

beforeAll(async () => {
  fixture = await pki();
  caFile = join(mkdtempSync(join(tmpdir(), 'tlskit-http-')), 'ca.pem');
  writeFileSync(caFile, fixture.ca.certPem);
});

const servers: HttpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close({ timeout: 1000 })));
});

/** Every response says which HTTP version and TLS version carried it. */
const hello: HttpHandler = (request, response) => {
  const info = connectionInfo(request);
  response.setHeader('content-type', 'text/plain');
  response.end(
    `${request.method} ${request.url} HTTP/${request.httpVersion} ${info?.tls?.protocol ?? 'plain'}\n`,
  );
};

async function start(
  app: HttpApp = hello,
  options: Partial<ServeHttpOptions> = {},
): Promise<HttpServer<TcpAddress>> {
  const server = await serveHttp({ host: '127.0.0.1', port: 0, tls: fixture.serverContext, ...options }, app);
  servers.push(server);
  return server as HttpServer<TcpAddress>;
}

const urlOf = (server: HttpServer<TcpAddress>, path = '/') =>
  `https://localhost:${server.address.port}${path}`;

function curl(...args: string[]): Promise<string> {
  return run('curl', ['-sS', '--max-time', '10', '--cacert', caFile, ...args]).then(
    (result) => result.stdout,
  );
}

/** Requests on one HTTP/2 session from Node's own client; resolves with each body. */
async function http2Get(url: string, paths: string[], ca: string): Promise<string[]> {
  const session = http2.connect(url, { ca });
  try {
    return await Promise.all(paths.map((path) => h2Request(session, path)));
  } finally {
    session.close();
  }
}

describe('serveHttp: real clients over TCP and TLS', () => {
  it('serves curl over HTTP/1.1, two requests on one kept-alive connection', async () => {
    const server = await start();
    const url = urlOf(server);
    const out = await curl('--http1.1', '-w', '%{num_connects}\\n', url, `${url}again`);
    expect(out).toBe('GET / HTTP/1.1 TLSv1.3\n1\nGET /again HTTP/1.1 TLSv1.3\n0\n');
  });

  it('serves curl over HTTP/2 when it negotiates h2', async () => {
    const server = await start();
    const out = await curl('--http2', '-w', '%{http_version}\\n', urlOf(server, '/h2'));
    expect(out).toBe('GET /h2 HTTP/2.0 TLSv1.3\n2\n');
  });

  it('serves HTTP/1.1 over TLS 1.2 too, and plain HTTP without `tls`', async () => {
    const tls12 = await start(hello, { tls: fixture.server.serverContext({ maxVersion: 'TLSv1.2' }) });
    expect(await curl('--http1.1', urlOf(tls12))).toBe('GET / HTTP/1.1 TLSv1.2\n');
    const plain = await start(hello, { tls: undefined });
    expect(await curl(`http://127.0.0.1:${plain.address.port}/p`)).toBe('GET /p HTTP/1.1 plain\n');
  });

  it("serves Node's fetch through tlsDispatcher, reusing the connection", async () => {
    const server = await start();
    const dispatcher = tlsDispatcher(fixture.clientContext, { agent: { connections: 1 } });
    try {
      const first = await fetchWith(urlOf(server, '/a'), dispatcher);
      expect(await first.text()).toBe('GET /a HTTP/1.1 TLSv1.3\n');
      const second = await fetchWith(urlOf(server, '/b'), dispatcher);
      expect(await second.text()).toBe('GET /b HTTP/1.1 TLSv1.3\n');
      expect(server.stats.accepted).toBe(1);
    } finally {
      await dispatcher.close();
    }
  });

  it("serves Node's http2 client, several streams on one session", async () => {
    const server = await start();
    const bodies = await http2Get(urlOf(server), ['/1', '/2', '/3'], fixture.ca.certPem);
    expect(bodies).toEqual([
      'GET /1 HTTP/2.0 TLSv1.3\n',
      'GET /2 HTTP/2.0 TLSv1.3\n',
      'GET /3 HTTP/2.0 TLSv1.3\n',
    ]);
    expect(server.stats.accepted).toBe(1);
  });

  it.skipIf(!hasCommand('nghttp'))('serves nghttp (nghttp2-client) over h2', async () => {
    const server = await start();
    const { stdout } = await run('nghttp', ['--no-dep', `https://localhost:${server.address.port}/ng`], {
      timeout: 10_000,
    });
    // nghttp does not verify the certificate; this checks the HTTP/2 framing, not trust.
    expect(stdout).toBe('GET /ng HTTP/2.0 TLSv1.3\n');
  });

  it.skipIf(!hasCommand('h2load'))('survives h2load: every request answered with 200', async () => {
    const server = await start();
    const { stdout } = await run(
      'h2load',
      ['-n', '200', '-c', '4', '-m', '10', `https://localhost:${server.address.port}/load`],
      { timeout: 20_000 },
    );
    expect(stdout).toMatch(/requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored/);
    expect(stdout).toMatch(/status codes: 200 2xx/);
  });
});

describe('serveHttp: what serves the requests', () => {
  it('takes an http.Server, which then serves HTTP/1.1 only', async () => {
    const app = http.createServer(hello as http.RequestListener);
    const server = await start(app);
    expect(await curl('--http2', '-w', '%{http_version}\\n', urlOf(server))).toBe(
      'GET / HTTP/1.1 TLSv1.3\n1.1\n',
    );
  });

  it('takes an http2.Http2Server, which then serves HTTP/2 only', async () => {
    const app = http2.createServer(
      hello as (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void,
    );
    const server = await start(app);
    expect(await curl('--http2', urlOf(server))).toBe('GET / HTTP/2.0 TLSv1.3\n');
    // A client that offers only http/1.1 finds no protocol in common: the handshake fails.
    await expect(curl('--http1.1', urlOf(server))).rejects.toThrow(/alert|handshake|SSL/i);
  });

  it('takes { http1, http2 }, and `http2: false` keeps a handler on HTTP/1.1', async () => {
    const both = await start({
      http1: http.createServer((_request, response) => response.end('one\n')),
      http2: http2.createServer((_request, response) => response.end('two\n')),
    });
    expect(await curl('--http1.1', urlOf(both))).toBe('one\n');
    expect(await curl('--http2', urlOf(both))).toBe('two\n');
    const h1only = await start(hello, { http2: false });
    expect(await curl('--http2', urlOf(h1only))).toBe('GET / HTTP/1.1 TLSv1.3\n');
  });

  it("keeps a server context's own ALPN list", async () => {
    const server = await start(hello, { tls: fixture.server.serverContext({ alpn: ['http/1.1'] }) });
    expect(await curl('--http2', urlOf(server))).toBe('GET / HTTP/1.1 TLSv1.3\n');
  });

  it('refuses a context whose own ALPN offers what the app does not serve (it would reset those clients)', async () => {
    const h2Context = fixture.server.serverContext({ alpn: ['h2'] });
    await expect(serveHttp({ port: 0, tls: h2Context }, http.createServer())).rejects.toThrow(
      /serveHttp: the server context offers 'h2' by ALPN, which this app does not serve \(it serves 'http\/1\.1'\); give the context `alpn: \['http\/1\.1'\]`/,
    );
    await expect(
      serveHttp(
        { port: 0, http2: false, tls: fixture.server.serverContext({ alpn: ['h2', 'http/1.1'] }) },
        hello,
      ),
    ).rejects.toThrow(/offers 'h2' by ALPN/);
    await expect(
      serveHttp({ port: 0, tls: fixture.server.serverContext({ alpn: ['foo'] }) }, hello),
    ).rejects.toThrow(/offers 'foo' by ALPN, which this app does not serve \(it serves 'h2', 'http\/1\.1'\)/);
  });

  it('refuses a TLS server as the app, and anything that is not an app, saying what to pass', async () => {
    const secure = https.createServer();
    await expect(
      serveHttp({ port: 0, tls: fixture.serverContext }, secure as unknown as HttpApp),
    ).rejects.toThrow(
      /`app` is a TLS server .*pass http\.createServer\(\) or http2\.createServer\(\) instead/,
    );
    await expect(serveHttp({ port: 0 }, {} as HttpApp)).rejects.toThrow(InvalidArgumentError);
    await expect(serveHttp({ port: 0 }, 'app' as unknown as HttpApp)).rejects.toThrow(
      /`app` must be a request handler .* got string/,
    );
    await expect(serveHttp({ port: 0, http2: false }, { http1: http.createServer() })).rejects.toThrow(
      /`http2: false` applies to a handler/,
    );
    // Each slot of { http1, http2 } names what it takes, a TLS server included.
    await expect(serveHttp({ port: 0 }, { http1: secure as unknown as http.Server })).rejects.toThrow(
      /`app\.http1` is a TLS server .*tlskit does the TLS/,
    );
    await expect(
      serveHttp({ port: 0 }, { http2: http2.createSecureServer() as unknown as http2.Http2Server }),
    ).rejects.toThrow(/`app\.http2` is a TLS server/);
    await expect(serveHttp({ port: 0 }, { http1: hello as unknown as http.Server })).rejects.toThrow(
      /`app\.http1` must be an http\.Server from http\.createServer\(\); got a function; a handler goes in place of the whole `app`/,
    );
    await expect(serveHttp({ port: 0, keepAliveTimeout: 5 } as { port: number }, hello)).rejects.toThrow(
      /`keepAliveTimeout` is a node:http server option: pass http\.createServer\(\{ keepAliveTimeout \}, handler\)/,
    );
  });
});

describe('serveHttp: what a request knows about its connection', () => {
  it("gives the client's address from a trusted PROXY header and the TLS facts", async () => {
    const app: HttpHandler = (request, response) => {
      const info = connectionInfo(request)!;
      response.end(JSON.stringify({ peer: info.peer, alpn: info.tls?.alpnProtocol, via: info.proxy?.via }));
    };
    const server = await start(app, { proxyProtocol: { trusted: ['127.0.0.1'] } });
    const connection = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      serverName: 'localhost',
      tls: fixture.clientContext,
      proxyHeader: {
        version: 2,
        source: { host: '203.0.113.7', port: 4444 },
        destination: { host: '198.51.100.1', port: 443 },
      },
    });
    await connection.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const reply = Buffer.from(await readAll(connection)).toString();
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    expect(body.peer).toEqual({ host: '203.0.113.7', port: 4444 });
    expect(body.alpn).toBeNull();
    expect(body.via.host).toBe('127.0.0.1');
  });

  it('is null for a request that did not come through tlskit', () => {
    expect(connectionInfo({ socket: {} } as http.IncomingMessage)).toBeNull();
  });
});

describe("serveHttp: node:http's defences against slow clients stay on", () => {
  it('answers a request head that takes longer than headersTimeout with 408', async () => {
    const app = http.createServer(
      { headersTimeout: 200, requestTimeout: 300, connectionsCheckingInterval: 50 },
      hello as http.RequestListener,
    );
    const server = await start(app);
    // node:http ends a timed-out connection without close_notify (so does https.createServer).
    const lenient = clientContext({ trust: fixture.ca.trust, allowTruncation: true });
    const connection = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      serverName: 'localhost',
      tls: lenient,
    });
    await connection.write('GET / HTTP/1.1\r\nHost: localhost\r\n'); // and never the blank line
    const reply = Buffer.from(await readAll(connection)).toString();
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
  });
});

describe('serveHttp: clients that leave', () => {
  it('sees keep-alive clients leave without close_notify as a normal end: no error anywhere', async () => {
    const clientErrors: Error[] = [];
    const app = http.createServer(hello as http.RequestListener);
    app.on('clientError', (error: Error, socket) => {
      clientErrors.push(error);
      socket.destroy();
    });
    const server = await start(app);
    const ends = connectionEnds(2);
    const dispatcher = tlsDispatcher(fixture.clientContext);
    for (let i = 0; i < 3; i++) await (await fetchWith(urlOf(server, `/${i}`), dispatcher)).text();
    await dispatcher.destroy(); // undici closes its sockets without close_notify
    await curl('--http1.1', urlOf(server));
    expect(await ends).toEqual([null, null]);
    expect(clientErrors).toEqual([]);
    expect(server.connections).toBe(0);
  });

  it('tells an HTTP/2 request whose client vanished with a bare FIN, and forgets the connection', async () => {
    let requestArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      requestArrived = resolve;
    });
    let requestAborted: () => void = () => {};
    const aborted = new Promise<void>((resolve) => {
      requestAborted = resolve;
    });
    const server = await start((request) => {
      request.on('aborted', () => requestAborted());
      request.resume();
      requestArrived();
    });
    const ends = connectionEnds(1);
    let raw: net.Socket | undefined;
    const session = http2.connect(urlOf(server), {
      createConnection: () => {
        raw = net.connect(server.address.port, '127.0.0.1');
        return tls.connect({
          socket: raw,
          servername: 'localhost',
          ca: fixture.ca.certPem,
          ALPNProtocols: ['h2'],
        });
      },
    });
    session.on('error', () => {});
    const upload = session.request({ ':method': 'POST', ':path': '/', 'content-length': '1000' });
    upload.on('error', () => {});
    upload.write(Buffer.alloc(100));
    await arrived;
    raw!.destroy(); // the TCP connection ends: no GOAWAY, no close_notify
    await aborted;
    await ends;
    expect(server.connections).toBe(0);
    session.destroy();
  });
});

/** Reads a connection to its end. */
async function readAll(connection: { read(): Promise<Uint8Array | null> }): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await connection.read(); chunk !== null; chunk = await connection.read())
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The errors the next `count` connections a tlskit server closes end with (tlskit:connection:close),
 * resolved once that many have closed.
 */
function connectionEnds(count: number): Promise<Array<Error | null>> {
  const ends: Array<Error | null> = [];
  return new Promise((resolve) => {
    const onClose = (message: unknown) => {
      ends.push((message as { error: Error | null }).error);
      if (ends.length < count) return;
      diagnostics.unsubscribe('tlskit:connection:close', onClose);
      resolve(ends);
    };
    diagnostics.subscribe('tlskit:connection:close', onClose);
  });
}
