import type net from 'node:net';
import tls from 'node:tls';
import {
  type ClientContext,
  clientContext,
  connect,
  createConnection,
  createServer,
  type Protocol,
  serverContext,
  startTls,
  type Transport,
} from 'tlskit';
import { memoryPair, RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

/** Handshakes over a memory pair and binds recording protocols to both TLS ends. */
async function tlsMemory(options: Parameters<typeof memoryPair>[0] = {}) {
  const { serverContext: server, clientContext: client } = await pki();
  const [a, b] = memoryPair(options);
  const [ct, st] = await Promise.all([
    startTls(a, { context: client, serverName: 'localhost' }),
    startTls(b, { context: server }),
  ]);
  const clientSide = new RecordingProtocol({ keepOpenOnEof: true });
  const serverSide = new RecordingProtocol({ keepOpenOnEof: true });
  ct.setProtocol(clientSide);
  st.setProtocol(serverSide);
  return { a, b, ct, st, clientSide, serverSide };
}

/** Connects over loopback TCP with TLS to `port`, as `localhost`, with a fresh recording protocol. */
async function connectRecorded(port: number, context: ClientContext) {
  const recorder = new RecordingProtocol();
  const transport = await createConnection(() => recorder, {
    host: '127.0.0.1',
    port,
    tls: context,
    serverName: 'localhost',
  });
  return { recorder, transport };
}

describe('handshake-only reads', () => {
  it('bytes that only advance the handshake never reach dataReceived or look like an end of stream', async () => {
    const { clientSide, serverSide, ct, st } = await tlsMemory({ chunkSize: 1 });
    // TLS 1.3 servers send session tickets right after the handshake: post-handshake messages.
    await turns(200);
    expect(clientSide.events).toEqual(['made']);
    expect(serverSide.events).toEqual(['made']);
    ct.write('first data');
    await serverSide.waitForBytes(10);
    expect(serverSide.text()).toBe('first data');
    expect(clientSide.violations).toEqual([]);
    ct.close();
    st.close();
  });

  it('session tickets (post-handshake messages) are consumed silently and resume the next handshake', async () => {
    const { ca, serverContext: server } = await pki();
    const client = clientContext({ trust: ca.trust, sessionCache: true });
    const greeter = () => ({ connectionMade: (t: Transport) => t.write('hi') });
    const tcp = await createServer(greeter, { host: '127.0.0.1', port: 0, tls: server });
    const first = new RecordingProtocol({ keepOpenOnEof: true });
    const t1 = await createConnection(() => first, {
      host: '127.0.0.1',
      port: tcp.address.port,
      tls: client,
      serverName: 'localhost',
    });
    expect(t1.info.tls?.resumed).toBe(false);
    // The tickets came before the greeting; they showed up as nothing at all.
    await first.waitForBytes(2);
    expect(first.events).toEqual(['made', 'data']);
    expect(first.text()).toBe('hi');
    t1.close();
    await first.waitForLost();
    const second = new RecordingProtocol();
    const t2 = await createConnection(() => second, {
      host: '127.0.0.1',
      port: tcp.address.port,
      tls: client,
      serverName: 'localhost',
    });
    expect(t2.info.tls?.resumed).toBe(true);
    t2.close();
    await second.waitForLost();
    await tcp.close();
  });

  it('the handshake completes even when the protocol had paused reading on the lower transport', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const [a, b] = memoryPair({ chunkSize: 7 });
    const pausing: Protocol = { connectionMade: (t) => t.pauseReading() };
    a.setProtocol(pausing);
    b.setProtocol({ connectionMade: (t) => t.pauseReading() });
    const [ct, st] = await Promise.all([
      startTls(a, { context: client, serverName: 'localhost' }),
      startTls(b, { context: server }),
    ]);
    expect(ct.info.tls?.protocol).toBe('TLSv1.3');
    ct.close();
    st.close();
  });

  it('over TCP too, with the native engine path and a paused lower transport', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const ready = new Promise<Transport>((resolve) => {
      void createServer(
        () => ({
          connectionMade: (t: Transport) => {
            t.pauseReading();
            resolve(t);
          },
        }),
        {
          host: '127.0.0.1',
          port: 0,
        },
      ).then((s) => {
        serverRef = s;
        plain = createConnection(() => ({ connectionMade: (t: Transport) => t.pauseReading() }), {
          host: '127.0.0.1',
          port: s.address.port,
        });
      });
    });
    let serverRef!: Awaited<ReturnType<typeof createServer>>;
    let plain!: Promise<Transport>;
    const lowerServer = await ready;
    const lowerClient = await plain;
    const [ct, st] = await Promise.all([
      startTls(lowerClient, { context: client, serverName: 'localhost' }),
      startTls(lowerServer, { context: server }),
    ]);
    expect(st.info.tls?.role).toBe('server');
    ct.close();
    st.close();
    await serverRef.close();
  });

  it('reading paused on the TLS transport holds data back and loses nothing', async () => {
    const { ct, st, serverSide } = await tlsMemory({ seed: 3 });
    serverSide.pauseReading();
    for (let i = 0; i < 50; i++) ct.write(`line ${i}\n`);
    await turns(100);
    expect(serverSide.receivedBytes).toBe(0);
    serverSide.resumeReading();
    ct.end();
    await serverSide.waitForEof();
    expect(serverSide.text()).toBe(Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));
    st.close();
  });
});

describe('closing: close_notify versus truncation', () => {
  it("the peer's close_notify arrives as eofReceived, then connectionLost(null)", async () => {
    const { ct, clientSide, serverSide } = await tlsMemory({ chunkSize: 3 });
    ct.write('bye');
    ct.end();
    await serverSide.waitForEof();
    expect(serverSide.text()).toBe('bye');
    serverSide.transport!.end();
    expect(await clientSide.waitForLost()).toBeNull();
    expect(await serverSide.waitForLost()).toBeNull();
    expect(clientSide.events).toEqual(['made', 'eof', 'lost']);
  });

  it('an end of stream without close_notify (a forged FIN) fails with ERR_TLS_TRUNCATED, never eofReceived', async () => {
    const { a, ct, serverSide } = await tlsMemory({ chunkSize: 5 });
    ct.write('partial');
    await serverSide.waitForBytes(7);
    a.injectEof(); // the network cuts the client-to-server stream without TLS knowing
    const error = await serverSide.waitForLost();
    expect(error).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(serverSide.eofCount).toBe(0);
    expect(serverSide.text()).toBe('partial');
  });

  it('allowTruncation accepts such an end as clean, for protocols with their own framing', async () => {
    const { ca, server } = await pki();
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, { context: clientContext({ trust: ca.trust }), serverName: 'localhost' }),
      startTls(b, { context: server.serverContext({ allowTruncation: true }) }),
    ]);
    const serverSide = new RecordingProtocol();
    st.setProtocol(serverSide);
    ct.setProtocol({});
    ct.write('Content-Length: 5\r\n\r\nhello');
    await serverSide.waitForBytes(26);
    a.injectEof();
    await serverSide.waitForEof();
    expect(await serverSide.waitForLost()).toBeNull();
    ct.abort();
  });

  it('over TCP: a server that closes without close_notify is a truncation; one that sends it is clean', async () => {
    const { server, clientContext: client } = await pki();
    const greetings = { truncated: 'cut here', clean: 'complete' };
    const raw = tls.createServer({ cert: server.chainPem, key: server.keyPem }, (socket) => {
      socket.on('error', () => {});
      socket.once('data', (request: Buffer) => {
        const mode = request.toString() as keyof typeof greetings;
        socket.write(greetings[mode], () => {
          // destroy() sends no close_notify; end() does (once the write has been acknowledged).
          if (mode === 'truncated') socket.destroy();
          else setImmediate(() => socket.end());
        });
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const port = (raw.address() as net.AddressInfo).port;
    for (const mode of ['truncated', 'clean'] as const) {
      const { recorder, transport: t } = await connectRecorded(port, client);
      t.write(mode);
      const error = await recorder.waitForLost();
      expect(recorder.text()).toBe(greetings[mode]);
      if (mode === 'truncated') {
        expect(error).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
        expect(recorder.eofCount).toBe(0);
      } else {
        expect(error).toBeNull();
        expect(recorder.eofCount).toBe(1);
      }
    }
    raw.close();
  });

  it('end() right after a write still sends close_notify before the FIN (Node would lose it)', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const outcomes: Array<Error | null> = [];
    const srv = await createServer(
      () => {
        let t: Transport;
        return {
          connectionMade: (x: Transport) => {
            t = x;
            t.write('x'.repeat(1000));
            t.end();
          },
        };
      },
      { host: '127.0.0.1', port: 0, tls: server },
    );
    for (let i = 0; i < 30; i++) {
      const { recorder } = await connectRecorded(srv.address.port, client);
      outcomes.push(await recorder.waitForLost());
      expect(recorder.receivedBytes).toBe(1000);
    }
    expect(outcomes.filter((error) => error !== null)).toEqual([]);
    await srv.close();
  });

  it('abort() right after the handshake, with the peer still sending, closes the connection and never crashes', async () => {
    // Resetting the TCP socket under a live TLS engine used to crash Node (a segfault). That the
    // peer sees a truncation is shown against s_client in test/interop/close-semantics.test.ts.
    const { server, clientContext: client } = await pki();
    const raw = tls.createServer({ cert: server.chainPem, key: server.keyPem }, (socket) => {
      socket.on('error', () => {});
      socket.write('x'.repeat(100_000));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const port = (raw.address() as net.AddressInfo).port;
    for (let i = 0; i < 20; i++) {
      const { recorder, transport: t } = await connectRecorded(port, client);
      void t.info.tls?.peerCertificates; // as a user logging the peer would
      t.abort();
      expect(await recorder.waitForLost()).toBeNull();
    }
    raw.close();
  });

  it('close() waits a bounded time for a peer that never sends close_notify, then releases', async () => {
    const { ca, server } = await pki();
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, { context: clientContext({ trust: ca.trust, closeTimeout: 50 }), serverName: 'localhost' }),
      startTls(b, { context: server.serverContext() }),
    ]);
    const stubborn = new RecordingProtocol({ keepOpenOnEof: true }); // answers nothing, never ends
    st.setProtocol(stubborn);
    const closing = new RecordingProtocol();
    ct.setProtocol(closing);
    ct.close();
    await stubborn.waitForEof();
    expect(await closing.waitForLost()).toBeNull();
    expect(stubborn.lostCount).toBe(0);
    st.abort();
  });

  it('data that arrives after we sent close_notify is drained, not treated as an error', async () => {
    const { ct, st, clientSide, serverSide } = await tlsMemory();
    ct.close();
    st.write('late data the closing side no longer wants');
    await serverSide.waitForEof();
    st.end();
    expect(await clientSide.waitForLost()).toBeNull();
    expect(clientSide.receivedBytes).toBe(0);
  });
});

describe('info.tls', () => {
  it('reports version, cipher, ALPN, server name, peer chain and resumption', async () => {
    const { ca, server, client: clientLeaf } = await pki();
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, {
        context: clientLeaf.clientContext({ trust: ca.trust, alpn: ['h2', 'http/1.1'] }),
        serverName: 'localhost',
      }),
      startTls(b, {
        context: server.serverContext({ alpn: ['http/1.1'], clientAuth: 'required', trust: ca.trust }),
      }),
    ]);
    expect(ct.info.kind).toBe('tls');
    expect(ct.info.lower?.kind).toBe('memory');
    expect(ct.info.tls).toMatchObject({
      protocol: 'TLSv1.3',
      alpnProtocol: 'http/1.1',
      serverName: 'localhost',
      resumed: false,
      role: 'client',
    });
    expect(ct.info.tls?.cipher).toMatch(/^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
    expect(ct.info.tls?.peerCertificates[0]?.subject).toBe('CN=localhost');
    expect(st.info.tls).toMatchObject({ role: 'server', serverName: 'localhost', alpnProtocol: 'http/1.1' });
    expect(st.info.tls?.peerCertificates[0]?.subject).toBe('CN=test client');
    ct.close();
    st.close();
  });

  it('TLS 1.2 when the server allows no more, with an ECDHE AEAD suite', async () => {
    const { ca, server } = await pki();
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, { context: clientContext({ trust: ca.trust }), serverName: 'localhost' }),
      startTls(b, { context: server.serverContext({ maxVersion: 'TLSv1.2' }) }),
    ]);
    expect(ct.info.tls?.protocol).toBe('TLSv1.2');
    expect(ct.info.tls?.cipher).toMatch(
      /^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/,
    );
    ct.close();
    st.close();
  });
});

describe('connect and serve with TLS', () => {
  it('serverName defaults to the host; a mismatch fails with HOSTNAME_MISMATCH', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const srv = await createServer(() => ({}), { host: '127.0.0.1', port: 0, tls: server });
    const byAddress = await connect({ host: '127.0.0.1', port: srv.address.port, tls: client });
    expect(byAddress.info.tls?.serverName).toBe('127.0.0.1');
    await byAddress.close();
    await expect(
      connect({ host: '127.0.0.1', port: srv.address.port, tls: client, serverName: 'example.com' }),
    ).rejects.toMatchObject({ code: 'HOSTNAME_MISMATCH' });
    await srv.close();
  });

  it('handshake failures on the server go to onHandshakeError and do not stop the server', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const failures: Error[] = [];
    const peers: unknown[] = [];
    const srv = await createServer(() => ({}), {
      host: '127.0.0.1',
      port: 0,
      tls: server,
      onHandshakeError: (error, peer) => {
        failures.push(error);
        peers.push(peer);
      },
    });
    const plain = await connect({ host: '127.0.0.1', port: srv.address.port });
    const local = plain.info.local;
    await plain.write('GET / HTTP/1.0\r\n\r\n');
    for await (const _ of plain) {
      // whatever the server answers before it hangs up
    }
    await plain.close();
    expect(failures[0]).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
    // The peer's address survives the socket the failure closed.
    expect(peers[0]).toEqual(local);
    const good = await connect({
      host: '127.0.0.1',
      port: srv.address.port,
      tls: client,
      serverName: 'localhost',
    });
    await good.close();
    await srv.close();
  });
});

describe('safe defaults', () => {
  it('a client refuses a server that offers only TLS 1.1', async () => {
    const { server, clientContext: client } = await pki();
    const old = tls.createServer({
      cert: server.chainPem,
      key: server.keyPem,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    old.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    const error = await connect({
      host: '127.0.0.1',
      port: (old.address() as net.AddressInfo).port,
      tls: client,
      serverName: 'localhost',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
    old.close();
  });

  it('a server refuses a TLS 1.2 client that offers only CBC suites', async () => {
    const { ca, serverContext: server } = await pki();
    const srv = await createServer(() => ({}), { host: '127.0.0.1', port: 0, tls: server });
    const error = await new Promise<Error>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: srv.address.port,
        servername: 'localhost',
        ca: ca.trust,
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA',
      });
      socket.once('error', resolve);
      socket.once('secureConnect', () => resolve(new Error(`connected with ${socket.getCipher().name}`)));
    });
    expect((error as { code?: string }).code).toMatch(/^ERR_SSL_/);
    await srv.close();
  });

  it('contexts can be built without TLS 1.0/1.1 only, and only from the safe suites', () => {
    expect(() => serverContext({ cert: 'x', key: 'y', minVersion: 'TLSv1.1' as never })).toThrow(
      /`minVersion` 'TLSv1.1' is not allowed; tlskit speaks TLS 1.2 and 1.3 only/,
    );
  });
});
