/**
 * Each Node pitfall listed in the TLS lessons note, as a test of what tlskit does instead.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import { fromDuplex, startTls, toDuplex } from 'tlskit';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

describe('Node pitfalls, handled', () => {
  it("#10555: a client over an already-connected socket completes its handshake ('secureConnect' fires)", async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    const socket = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    const [ct, st] = await Promise.all([
      startTls(fromDuplex(socket), { context: client, serverName: 'localhost' }),
      startTls(fromDuplex(await accepted), { context: server }),
    ]);
    expect(ct.info.tls?.protocol).toBe('TLSv1.3');
    ct.close();
    st.close();
    listener.close();
  });

  it('#13368: a server-side upgrade verifies client certificates (see contexts.test.ts for the codes)', async () => {
    const { ca, server } = await pki();
    const { createCA } = await import('tlskit/pki');
    const stranger = await (await createCA()).issue({ usage: 'client' });
    const [a, b] = memoryPair();
    const [serverSide] = await Promise.allSettled([
      startTls(b, { context: server.serverContext({ clientAuth: 'required', trust: ca.trust }) }),
      startTls(a, { context: stranger.clientContext({ trust: ca.trust }), serverName: 'localhost' }),
    ]);
    expect(serverSide.status).toBe('rejected');
  });

  it('#14605 / #10871: ending and closing TLS ends and closes the stream underneath', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const [a, b] = memoryPair();
    const under = toDuplex(a);
    const finished = new Promise((resolve) => under.once('finish', resolve));
    const closed = new Promise((resolve) => under.once('close', resolve));
    const [ct, st] = await Promise.all([
      startTls(fromDuplex(under), { context: client, serverName: 'localhost' }),
      startTls(b, { context: server }),
    ]);
    const serverSide = new RecordingProtocol({ keepOpenOnEof: false });
    st.setProtocol(serverSide);
    ct.setProtocol({});
    ct.end();
    await finished; // close_notify sent, then the stream underneath was ended
    await serverSide.waitForEof();
    await closed; // and, once both sides were done, destroyed
    expect(under.destroyed).toBe(true);
  });

  it('#29678: a wrapped stream that throws synchronously fails the handshake, catchably', async () => {
    const { clientContext: client } = await pki();
    const broken = new Duplex({
      read() {},
      write() {
        throw new Error('boom from the wrapped stream');
      },
    });
    const error = await startTls(fromDuplex(broken), { context: client, serverName: 'localhost' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const chain: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e.message);
    expect(chain.join(' <- ')).toMatch(/boom from the wrapped stream/);
  });
});
