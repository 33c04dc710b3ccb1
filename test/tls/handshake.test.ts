import net from 'node:net';
import tls from 'node:tls';
import { connect, createConnection, createServer, startTls } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair, RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { tcpPair } from '../helpers/pairs.js';
import { pki } from '../helpers/pki-fixtures.js';

describe('handshake deadlines and cancellation', () => {
  it('a peer that never answers fails the handshake with ERR_TIMEOUT and tells the lower protocol', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const lower = new RecordingProtocol();
    const transport = await createConnection(() => lower, {
      host: '127.0.0.1',
      port: (silent.address() as net.AddressInfo).port,
    });
    const { clientContext: client } = await pki();
    const error = await startTls(transport, {
      context: client,
      serverName: 'localhost',
      handshakeTimeout: 100,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', timeout: 100 });
    expect(await lower.waitForLost()).toBe(error);
    expect(transport.closing).toBe(true);
    silent.close();
  });

  it('an AbortSignal cancels the handshake with ABORT_ERR', async () => {
    const [a] = memoryPair();
    const { clientContext: client } = await pki();
    const controller = new AbortController();
    const attempt = startTls(a, { context: client, serverName: 'localhost', signal: controller.signal });
    controller.abort(new Error('user gave up'));
    await expect(attempt).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });

  it('while the handshake runs, the lower transport belongs to it: writes throw ERR_TRANSPORT_UPGRADED', async () => {
    const [a, b] = memoryPair();
    const { clientContext: client, serverContext: server } = await pki();
    const pending = startTls(a, { context: client, serverName: 'localhost' });
    expect(() => a.write('plaintext sneaking in')).toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_UPGRADED' }),
    );
    const st = await startTls(b, { context: server });
    const ct = await pending;
    expect(() => a.write('still not')).toThrow(expect.objectContaining({ code: 'ERR_TRANSPORT_UPGRADED' }));
    ct.close();
    st.close();
  });

  // Over a bridged transport the teardown after a failure waits a turn or two (Node's engine must
  // not lose its stream mid-callback); the lower transport must not look usable meanwhile.
  it.each(['memory pair (bridged)', 'TCP (native)'])(
    'a handshake ended by close() leaves the lower transport closing at once, refusing writes: %s',
    async (kind) => {
      const [a, b] = kind === 'TCP (native)' ? await tcpPair() : memoryPair();
      const peer = new RecordingProtocol();
      b.setProtocol(peer); // never answers the ClientHello
      a.setProtocol(new RecordingProtocol());
      const { clientContext: client } = await pki();
      const attempt = startTls(a, { context: client, serverName: 'localhost' }).catch((e: unknown) => e);
      await turns(2);
      a.close();
      expect(a.closing).toBe(true);
      expect(() => a.write('PLAINTEXT AFTER CLOSE')).toThrow(
        expect.objectContaining({ code: 'ERR_TRANSPORT_CLOSED' }),
      );
      a.end(); // as after any close: nothing to do, no error
      await attempt;
      await peer.waitForLost();
      expect(peer.text()).not.toContain('PLAINTEXT');
    },
  );

  it('a failed verification leaves the lower transport closed for its protocol and for the caller', async () => {
    const { clientContext: client } = await pki();
    const stranger = await (await createCA()).issue({ hosts: ['localhost'] });
    const [a, b] = memoryPair();
    const seen: Array<[string, boolean, unknown]> = [];
    const look = (where: string) => {
      let code: unknown = null;
      try {
        a.write('PLAINTEXT');
      } catch (error) {
        code = (error as { code?: unknown }).code;
      }
      seen.push([where, a.closing, code]);
    };
    a.setProtocol({ connectionLost: () => look('connectionLost') });
    b.setProtocol({});
    const server = new RecordingProtocol();
    const serverSide = startTls(b, { context: stranger.serverContext(), protocol: server }).catch(
      (e: unknown) => e,
    );
    const error = await startTls(a, { context: client, serverName: 'localhost' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNKNOWN_ISSUER' });
    look('catch');
    expect(seen).toEqual([
      ['connectionLost', true, 'ERR_TRANSPORT_CLOSED'],
      ['catch', true, 'ERR_TRANSPORT_CLOSED'],
    ]);
    // The server's handshake completed (TLS 1.3), then the connection ended without close_notify,
    // so the refusal does not pass for a clean close; no plaintext came where a record belongs.
    await serverSide;
    expect(await server.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(server.text()).toBe('');
  });

  it('a peer that ends the connection before the handshake finishes fails it at once, on either side', async () => {
    const { clientContext: client, serverContext: server } = await pki();
    // The deadline is far away: only the peer's end of stream can settle these in time.
    const patient = { handshakeTimeout: 60_000 };
    for (const side of ['server', 'client'] as const) {
      const [a, b] = memoryPair();
      const attempt =
        side === 'server'
          ? startTls(b, { context: server, ...patient })
          : startTls(a, { context: client, serverName: 'localhost', ...patient });
      (side === 'server' ? a : b).end();
      await expect(attempt).rejects.toMatchObject({ code: 'ECONNRESET' });
    }
  });

  it('over TCP, a client that connects and leaves without a ClientHello does not hold the server', async () => {
    const { serverContext: server } = await pki();
    const failures: Error[] = [];
    let failed!: () => void;
    const failure = new Promise<void>((resolve) => {
      failed = resolve;
    });
    const srv = await createServer(() => ({}), {
      host: '127.0.0.1',
      port: 0,
      tls: server,
      onHandshakeError: (error) => {
        failures.push(error);
        failed();
      },
    });
    const socket = net.connect(srv.address.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end();
    await failure;
    expect(failures[0]).toMatchObject({ code: 'ECONNRESET' });
    expect(srv.connections).toBe(0);
    socket.destroy();
    await srv.close();
  });

  it('a client that refuses the server still sends its last handshake message first, over TCP', async () => {
    // The refusal comes as the handshake completes on our side; OpenSSL has just produced our
    // Finished (TLS 1.3). Tearing down in the same turn would drop it, and the server would wait
    // for it instead of seeing its handshake complete and then the connection end.
    const { server: leaf, clientContext: client } = await pki();
    const completed = new Promise<void>((resolve) => {
      const raw = tls.createServer({ cert: leaf.chainPem, key: leaf.keyPem }, (socket) => {
        socket.on('error', () => {});
        socket.on('close', () => {
          raw.close();
          resolve();
        });
      });
      raw.listen(0, '127.0.0.1', () => {
        const port = (raw.address() as net.AddressInfo).port;
        void connect({ host: '127.0.0.1', port, tls: client, serverName: 'elsewhere.test' }).catch(
          (error: unknown) => expect(error).toMatchObject({ code: 'HOSTNAME_MISMATCH' }),
        );
      });
    });
    await completed;
  });
});
