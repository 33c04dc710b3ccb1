/**
 * The same HTTP app over in-memory connections, as an application's own tests would run it:
 * TLS over a memory pair with seeded random splits (HTTP/1.1 and HTTP/2, bodies both ways), a plain
 * memory pair, and a connection that upgrades with STARTTLS before it speaks HTTP.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import {
  Connection,
  clientContext,
  type HttpHandler,
  httpProtocol,
  type Protocol,
  startTls,
  type Transport,
  toDuplex,
} from 'tlskit';
import { memoryPair } from 'tlskit/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { h2Request, textOf } from '../helpers/http.js';
import { type Pki, pki } from '../helpers/pki-fixtures.js';

let fixture: Pki;
beforeAll(async () => {
  fixture = await pki();
});

/** Answers with the request's method, path, version, and the SHA-256 of its body. */
const digestApp: HttpHandler = (request, response) => {
  const hash = createHash('sha256');
  request.on('data', (chunk: Buffer) => hash.update(chunk));
  request.on('end', () => {
    response.end(`${request.method} ${request.url} ${request.httpVersion} ${hash.digest('hex')}`);
  });
};

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Pseudo-random bytes of `size`, the same for a given seed. */
function body(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = state >> 16;
  }
  return bytes;
}

/** A TLS connection over a memory pair: the server end bound to `protocol`, the client end returned. */
async function tlsOverMemory(seed: number, protocol: Protocol, alpn: string[]): Promise<Transport> {
  const [clientEnd, serverEnd] = memoryPair({ seed, maxChunkSize: 1500 });
  const serverSide = fixture.server.serverContext({ alpn: ['h2', 'http/1.1'] });
  const [client] = await Promise.all([
    startTls(clientEnd, {
      context: clientContext({ trust: fixture.ca.trust, alpn }),
      serverName: 'localhost',
    }),
    startTls(serverEnd, { context: serverSide, protocol }),
  ]);
  return client;
}

/** One HTTP/1.1 request over `transport`; resolves with the response body. */
function h1Request(transport: Transport, method: string, path: string, payload?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { method, path, host: 'localhost', createConnection: () => toDuplex(transport) },
      (response) => resolve(textOf(response)),
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** One HTTP/2 session over `transport`, with requests on it; resolves with their bodies. */
async function h2Requests(transport: Transport, requests: Array<[string, Buffer]>): Promise<string[]> {
  const session = http2.connect('https://localhost', { createConnection: () => toDuplex(transport) });
  try {
    return await Promise.all(requests.map(([path, payload]) => h2Request(session, path, payload)));
  } finally {
    session.close();
  }
}

describe('httpProtocol over a memory pair with random splits', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`HTTP/1.1 over TLS, seed ${seed}: bodies arrive whole`, async () => {
      const app = httpProtocol(digestApp);
      const client = await tlsOverMemory(seed, app(), ['http/1.1']);
      const payload = body(40_000 + seed * 1000, seed);
      expect(await h1Request(client, 'POST', '/upload', payload)).toBe(`POST /upload 1.1 ${sha256(payload)}`);
    });

    it(`HTTP/2 over TLS, seed ${seed}: concurrent streams keep their bodies apart`, async () => {
      const app = httpProtocol(digestApp);
      const client = await tlsOverMemory(seed, app(), ['h2']);
      const payloads = [1, 2, 3].map((n) => body(20_000 * n, seed + n));
      const replies = await h2Requests(
        client,
        payloads.map((payload, n): [string, Buffer] => [`/s${n}`, payload]),
      );
      expect(replies).toEqual(payloads.map((payload, n) => `POST /s${n} 2.0 ${sha256(payload)}`));
    });
  }

  it('serves plain HTTP/1.1 over a memory pair without TLS', async () => {
    const [clientEnd, serverEnd] = memoryPair({ seed: 9, maxChunkSize: 7 });
    serverEnd.setProtocol(httpProtocol(digestApp)());
    expect(await h1Request(clientEnd, 'GET', '/plain')).toBe(`GET /plain 1.1 ${sha256(new Uint8Array(0))}`);
  });
});

describe('httpProtocol after STARTTLS', () => {
  it('serves HTTP on the TLS transport a plaintext protocol upgraded to', async () => {
    const [clientEnd, serverEnd] = memoryPair({ seed: 5 });
    const app = httpProtocol(digestApp);
    const context = fixture.server.serverContext({ alpn: ['http/1.1'] });
    // The server speaks a line protocol until the client asks for TLS, then HTTP.
    const upgraded = new Promise<void>((resolve, reject) => {
      serverEnd.setProtocol({
        dataReceived(data) {
          expect(Buffer.from(data).toString()).toBe('STARTTLS\r\n');
          serverEnd.write('READY\r\n');
          startTls(serverEnd, { context, protocol: app() }).then(() => resolve(), reject);
        },
      });
    });
    const connection = new Connection(clientEnd);
    await connection.write('STARTTLS\r\n');
    expect(await connection.readLine()).toBe('READY');
    await connection.startTls({
      context: clientContext({ trust: fixture.ca.trust, alpn: ['http/1.1'] }),
      serverName: 'localhost',
    });
    await upgraded;
    expect(await h1Request(connection.transport, 'GET', '/after-starttls')).toBe(
      `GET /after-starttls 1.1 ${sha256(new Uint8Array(0))}`,
    );
  });
});
