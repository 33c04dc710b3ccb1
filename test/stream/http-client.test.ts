/**
 * The HTTPS clients: fetch (Node's global one and undici's) through `tlsDispatcher`, and
 * `https.request`/`http.request` through `tlsAgent`, against a node:https server on 127.0.0.1.
 * Every tlskit/pki defect is refused with its CertificateError code, including the RSA-1024 leaf
 * that Node's own TLS client accepts; every control is accepted.
 */
import http from 'node:http';
import https from 'node:https';
import {
  CertificateError,
  type ClientContext,
  clientContext,
  type HttpServer,
  InvalidArgumentError,
  serveHttp,
  spkiPin,
  type TcpAddress,
  tlsAgent,
  tlsConnector,
  tlsDispatcher,
} from 'tlskit';
import { type ChainFixture, controls, createCA, defects } from 'tlskit/pki';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsServer, type TestHttpsServer } from '../helpers/https-server.js';
import { pki } from '../helpers/pki-fixtures.js';

/**
 * Node's global fetch. It takes undici 7's Agent at run time on Node 20, 22 and 24, but its types
 * (undici-types, through @types/node) are not undici 7's, so TypeScript needs the cast.
 */
function fetch(
  url: string,
  init: Omit<RequestInit, 'dispatcher'> & { dispatcher: Agent },
): Promise<Response> {
  return globalThis.fetch(url, init as unknown as RequestInit);
}

/** The reason a fetch failed: fetch wraps the connector's error as `cause`. */
async function fetchFailure(attempt: Promise<unknown>): Promise<unknown> {
  const error = await attempt.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error, 'the fetch was expected to fail').toBeInstanceOf(TypeError);
  expect((error as TypeError).message).toBe('fetch failed');
  return (error as TypeError).cause;
}

interface Reply {
  status: number;
  body: { method: string; url: string; body: string };
}

/** One request through `https.request` (or `http.request`) and the agent; resolves with the reply. */
function requestWith(
  send: typeof https.request,
  url: string,
  agent: https.Agent,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = send(url, { agent, method: body === undefined ? 'GET' : 'POST' }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** A server of the shared localhost leaf for one describe block; `url` is its origin by address. */
function sharedServer(): { readonly server: TestHttpsServer; readonly url: string } {
  let server: TestHttpsServer | undefined;
  beforeAll(async () => {
    server = await httpsServer((await pki()).server);
  });
  afterAll(() => server?.close());
  return {
    get server() {
      return server!;
    },
    get url() {
      return `https://127.0.0.1:${server!.port}`;
    },
  };
}

describe('fetch through tlsDispatcher', () => {
  const shared = sharedServer();

  it('GETs, POSTs a body, and reuses one connection for both (keep-alive)', async () => {
    const { clientContext: context } = await pki();
    // One connection per origin: undici 7 otherwise opens a second one for a request that follows
    // at once, while it checks the idle one (its node:tls connector does the same).
    const dispatcher = tlsDispatcher(context, { agent: { connections: 1 } });
    const before = shared.server.connections;
    const got = await fetch(`${shared.url}/hello`, { dispatcher });
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ method: 'GET', url: '/hello', body: '' });
    const posted = await fetch(`${shared.url}/echo`, { dispatcher, method: 'POST', body: 'payload' });
    expect(await posted.json()).toEqual({ method: 'POST', url: '/echo', body: 'payload' });
    expect(shared.server.connections - before).toBe(1);
    await dispatcher.close();
  });

  it("works with undici's own fetch too", async () => {
    const { clientContext: context } = await pki();
    const dispatcher = tlsDispatcher(context);
    const reply = await undiciFetch(`${shared.url}/undici`, { dispatcher });
    expect(await reply.json()).toMatchObject({ url: '/undici' });
    await dispatcher.close();
  });

  it('connects by host name, checked against the certificate', async () => {
    const { clientContext: context } = await pki();
    const dispatcher = tlsDispatcher(context);
    const reply = await fetch(`https://localhost:${shared.server.port}/by-name`, { dispatcher });
    expect(reply.status).toBe(200);
    await reply.arrayBuffer();
    await dispatcher.close();
  });

  it('refuses a server outside the trust with a CertificateError as the cause', async () => {
    const stranger = clientContext({ trust: (await createCA()).trust });
    const dispatcher = tlsDispatcher(stranger);
    const cause = await fetchFailure(fetch(`${shared.url}/`, { dispatcher }));
    expect(cause).toBeInstanceOf(CertificateError);
    expect(cause).toMatchObject({ code: 'UNKNOWN_ISSUER', depth: 0, subject: 'CN=localhost' });
    await dispatcher.close();
  });

  it('refuses a pin the chain does not carry', async () => {
    const { ca, server: leaf } = await pki();
    const other = await (await createCA()).issue({ hosts: ['localhost'] });
    const pinned = clientContext({ trust: ca.trust, pins: [spkiPin(other.certificate)] });
    const dispatcher = tlsDispatcher(pinned);
    expect(await fetchFailure(fetch(`${shared.url}/`, { dispatcher }))).toMatchObject({
      code: 'PIN_MISMATCH',
    });
    await dispatcher.close();
    const matching = clientContext({ trust: ca.trust, pins: [spkiPin(leaf.certificate)] });
    const good = tlsDispatcher(matching);
    expect((await fetch(`${shared.url}/`, { dispatcher: good })).status).toBe(200);
    await good.close();
  });

  it('refuses to send an http: URL in plaintext', async () => {
    const { clientContext: context } = await pki();
    const dispatcher = tlsDispatcher(context);
    const cause = await fetchFailure(fetch(`http://127.0.0.1:${shared.server.port}/`, { dispatcher }));
    expect(cause).toBeInstanceOf(InvalidArgumentError);
    expect((cause as Error).message).toMatch(/is not HTTPS/);
    await dispatcher.close();
  });
});

/**
 * Serves `fixture` over HTTPS and fetches `/` through `dispatcher`, or through tlskit's when
 * `dispatcher` is a client context. A name other than localhost does not resolve here, so such a
 * fixture is fetched through an Agent of our own on `tlsConnector` that dials 127.0.0.1 and checks
 * the URL's name.
 */
async function fetchFixture(fixture: ChainFixture, through: Agent | ClientContext) {
  const server = await httpsServer(fixture);
  const dispatcher = through instanceof Agent ? through : tlskitAgent(fixture, through);
  try {
    return await fetch(`https://${fixture.serverName}:${server.port}/`, { dispatcher }).then(
      async (reply) => ({ status: reply.status, body: await reply.text(), error: null }),
      (error: TypeError) => ({ status: 0, body: '', error }),
    );
  } finally {
    await dispatcher.close();
    await server.close();
  }
}

function tlskitAgent(fixture: ChainFixture, context: ClientContext): Agent {
  if (fixture.serverName === 'localhost') return tlsDispatcher(context);
  const connector = tlsConnector(context);
  return new Agent({
    connect: (target, callback) =>
      connector({ ...target, hostname: '127.0.0.1', servername: target.hostname }, callback),
  });
}

const contextFor = (fixture: ChainFixture) => clientContext({ trust: fixture.trustPem, crl: fixture.crlPem });

describe('fetch through tlsDispatcher refuses every tlskit/pki defect with its code', () => {
  for (const defect of defects) {
    it(`${defect.name} -> ${defect.expect}`, async () => {
      const fixture = await defect.build();
      const { error } = await fetchFixture(fixture, contextFor(fixture));
      expect(error).toBeInstanceOf(TypeError);
      expect(error!.cause).toBeInstanceOf(CertificateError);
      expect(error!.cause).toMatchObject({ code: defect.expect });
    });
  }

  for (const control of controls) {
    it(`accepts the control ${control.name}`, async () => {
      const fixture = await control.build();
      const reply = await fetchFixture(fixture, contextFor(fixture));
      expect(reply.error).toBeNull();
      expect(reply.status).toBe(200);
    });
  }

  it("the RSA-1024 leaf Node 20 and 22's own TLS client accepts is refused as WEAK_KEY", async () => {
    const fixture = await defects.find((defect) => defect.name === 'rsa-1024')!.build();
    // undici's default connector is node:tls, trusting the same CA. Node 20 and 22 run OpenSSL at
    // security level 1, where the weak leaf passes; Node 24 runs it at level 2 and refuses it, with
    // an error that names neither the certificate nor its depth (see test/badtls/graded-clients).
    const plain = await fetchFixture(fixture, new Agent({ connect: { ca: fixture.trustPem } }));
    if (Number(process.versions.node.split('.')[0]) < 24) {
      expect(plain.error).toBeNull();
      expect(plain.status).toBe(200);
    } else {
      expect(plain.error?.cause).toMatchObject({ message: 'EE certificate key too weak' });
    }
    const { error } = await fetchFixture(fixture, contextFor(fixture));
    expect(error?.cause).toBeInstanceOf(CertificateError);
    expect(error?.cause).toMatchObject({ code: 'WEAK_KEY', depth: 0, subject: 'CN=localhost' });
  });
});

describe('https.request and http.request through tlsAgent', () => {
  const shared = sharedServer();

  it('GETs and POSTs over one kept-alive connection', async () => {
    const { clientContext: context } = await pki();
    const agent = tlsAgent(context, { agent: { keepAlive: true } });
    const before = shared.server.connections;
    expect(await requestWith(https.request, `${shared.url}/a`, agent)).toEqual({
      status: 200,
      body: { method: 'GET', url: '/a', body: '' },
    });
    expect((await requestWith(https.request, `${shared.url}/b`, agent, 'posted')).body).toEqual({
      method: 'POST',
      url: '/b',
      body: 'posted',
    });
    expect(shared.server.connections - before).toBe(1);
    agent.destroy();
  });

  it('http.request takes it for an https: URL', async () => {
    const { clientContext: context } = await pki();
    const agent = tlsAgent(context);
    const reply = await requestWith(http.request as typeof https.request, `${shared.url}/plain-api`, agent);
    expect(reply.body.url).toBe('/plain-api');
    agent.destroy();
  });

  it("emits the CertificateError as the request's error", async () => {
    const agent = tlsAgent(clientContext({ trust: (await createCA()).trust }));
    const error = await requestWith(https.request, `${shared.url}/`, agent).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CertificateError);
    expect(error).toMatchObject({ code: 'UNKNOWN_ISSUER' });
    agent.destroy();
  });

  it("applies the Agent's socket `timeout`, as Node's own https.Agent does", async () => {
    const { clientContext: context, serverContext } = await pki();
    const silent = (await serveHttp(
      { host: '127.0.0.1', port: 0, tls: serverContext },
      () => {},
    )) as HttpServer<TcpAddress>;
    const agent = tlsAgent(context, { agent: { timeout: 200 } });
    try {
      const timedOut = await new Promise<boolean>((resolve) => {
        const request = https.get(`https://localhost:${silent.address.port}/`, { agent }, () =>
          resolve(false),
        );
        request.on('timeout', () => {
          request.destroy();
          resolve(true);
        });
        request.on('error', () => {});
      });
      expect(timedOut).toBe(true);
    } finally {
      agent.destroy();
      await silent.close({ timeout: 200 });
    }
  });

  it('refuses every defect with its code', async () => {
    for (const defect of defects) {
      const fixture = await defect.build();
      const fixtureServer = await httpsServer(fixture);
      const agent = tlsAgent(contextFor(fixture));
      const error = await requestWith(https.request, `https://localhost:${fixtureServer.port}/`, agent).then(
        () => null,
        (caught: unknown) => caught,
      );
      agent.destroy();
      await fixtureServer.close();
      expect(error, defect.name).toMatchObject({ code: defect.expect });
    }
  });
});

describe('the clients refuse what they cannot honour', () => {
  it('a context whose ALPN leaves out http/1.1', async () => {
    const { ca } = await pki();
    const h2only = clientContext({ trust: ca.trust, alpn: ['h2'] });
    expect(() => tlsDispatcher(h2only)).toThrow(/speaks HTTP\/1\.1 only/);
    expect(() => tlsAgent(h2only)).toThrow(/speaks HTTP\/1\.1 only/);
  });

  it('something other than a client context', () => {
    expect(() => tlsDispatcher({} as never)).toThrow(/`context` must be a clientContext\(\)/);
  });

  it('agent options the tlskit connection would ignore', async () => {
    const { clientContext: context } = await pki();
    expect(() => tlsDispatcher(context, { agent: { connect: {} } as never })).toThrow(/agent\.connect/);
    expect(() => tlsAgent(context, { agent: { ca: 'x' } })).toThrow(/`agent\.ca` would be ignored/);
    expect(() => tlsAgent(context, { agent: { rejectUnauthorized: false } })).toThrow(
      /agent\.rejectUnauthorized/,
    );
    // undici reads these only in its own connector, which tlskit's replaces.
    expect(() => tlsDispatcher(context, { agent: { connectTimeout: 200 } })).toThrow(
      /`agent\.connectTimeout` would be ignored .*; pass tlsDispatcher's own `connectTimeout`/,
    );
    expect(() => tlsDispatcher(context, { agent: { allowH2: true } })).toThrow(
      /`agent\.allowH2` would be ignored/,
    );
    expect(() => tlsDispatcher(context, { allowH2: true } as never)).toThrow(/offers HTTP\/1\.1 to undici/);
    // Node's Agent passes these to the connection it makes, which tlskit makes instead.
    expect(() => tlsAgent(context, { agent: { localAddress: '127.0.0.2' } })).toThrow(
      /`agent\.localAddress` would be ignored: tlskit dials the connections itself/,
    );
  });
});
