import { Connection, type Protocol, StartTlsError, startTls, type Transport } from 'tlskit';
import { memoryPair, RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { type BaseTransport, kPendingBytes } from '../../src/transport/base.js';
import { tcpPair } from '../helpers/pairs.js';
import { pki } from '../helpers/pki-fixtures.js';

describe('STARTTLS safety: plaintext that arrived before the upgrade', () => {
  it('is refused by default with its own code, and nothing changes or is lost', async () => {
    const { clientContext: client } = await pki();
    const [a, b] = await tcpPair();
    const recorder = new RecordingProtocol();
    a.setProtocol(recorder);
    recorder.pauseReading();
    b.setProtocol({});
    b.write('220 ready\r\n'); // arrives while the client is not reading: the socket buffers it
    for (let turn = 0; (a as BaseTransport)[kPendingBytes]() < 11; turn++) {
      expect(turn).toBeLessThan(10_000);
      await turns(1);
    }
    const error = await startTls(a, { context: client, serverName: 'localhost' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartTlsError);
    expect(error).toMatchObject({ code: 'ERR_STARTTLS_PENDING_PLAINTEXT', pendingBytes: 11 });
    expect((error as Error).message).toMatch(
      /11 bytes of plaintext arrived before the upgrade.*pendingPlaintext: 'handshake'/,
    );
    // Untouched: still plaintext, still ours, still writable.
    expect(a.protocol).toBe(recorder);
    recorder.resumeReading();
    await recorder.waitForBytes(11);
    expect(recorder.text()).toBe('220 ready\r\n');
    a.write('QUIT\r\n');
    a.close();
    b.close();
  });

  it('bytes the plaintext protocol holds (unconsumed) are refused the same way', async () => {
    const { clientContext: client } = await pki();
    const [a, b] = memoryPair();
    a.setProtocol({});
    b.setProtocol({});
    const error = await startTls(a, {
      context: client,
      serverName: 'localhost',
      unconsumed: new TextEncoder().encode('250 injected\r\n'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_STARTTLS_PENDING_PLAINTEXT', pendingBytes: 14 });
    a.write('still plaintext');
    a.close();
  });

  it("pendingPlaintext: 'handshake' hands a pipelined ClientHello to TLS, never losing it", async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const [c, d] = memoryPair({ seed: 6, maxChunkSize: 200 });
    const serverSeen: Uint8Array[] = [];
    let pipelined = 0;
    let upgraded!: (transport: Transport) => void;
    const serverTls = new Promise<Transport>((resolve) => {
      upgraded = resolve;
    });
    d.setProtocol({
      dataReceived(data) {
        serverSeen.push(data);
        const text = Buffer.concat(serverSeen);
        const end = text.indexOf('\r\n');
        if (end === -1 || d.protocol !== this) return;
        expect(text.subarray(0, end).toString()).toBe('STARTTLS');
        const rest = text.subarray(end + 2);
        pipelined = rest.length;
        void startTls(d, { context: server, unconsumed: rest, pendingPlaintext: 'handshake' }).then(upgraded);
      },
    } satisfies Protocol);
    c.setProtocol({});
    c.write('STARTTLS\r\n');
    const [ct, st] = await Promise.all([
      startTls(c, { context: client, serverName: 'localhost' }),
      serverTls,
    ]);
    expect(pipelined).toBeGreaterThan(0); // part of the ClientHello came with the command
    const recorder = new RecordingProtocol();
    st.setProtocol(recorder);
    ct.write('protected');
    await recorder.waitForBytes(9);
    expect(recorder.text()).toBe('protected');
    ct.close();
    st.close();
  });

  it('Connection.startTls refuses when its own buffer holds unread plaintext, and keeps it readable', async () => {
    const { clientContext: client } = await pki();
    const [a, b] = memoryPair();
    const conn = new Connection(a);
    b.setProtocol({});
    // A man in the middle answers STARTTLS and appends a forged line, hoping it will be read as
    // if it had come over TLS (the NO STARTTLS injection).
    b.write('220 go ahead\r\n250 forged\r\n');
    await conn.write('STARTTLS\r\n');
    expect(await conn.readLine()).toBe('220 go ahead');
    await expect(conn.startTls({ context: client, serverName: 'localhost' })).rejects.toMatchObject({
      code: 'ERR_STARTTLS_PENDING_PLAINTEXT',
    });
    expect(await conn.readLine()).toBe('250 forged');
    await conn.close();
  });

  it('Connection.startTls upgrades an SMTP-like dialogue in place', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const [a, b] = memoryPair({ chunkSize: 3 });
    const clientConn = new Connection(a);
    const serverConn = new Connection(b);
    const serverDone = (async () => {
      await serverConn.write('220 smtp.test ready\r\n');
      expect(await serverConn.readLine()).toBe('STARTTLS');
      await serverConn.write('220 go ahead\r\n');
      await serverConn.startTls({ context: server });
      expect(serverConn.info.kind).toBe('tls');
      expect(await serverConn.readLine()).toBe('EHLO client.test');
      await serverConn.write('250 hello over TLS\r\n');
    })();
    expect(await clientConn.readLine()).toBe('220 smtp.test ready');
    await clientConn.write('STARTTLS\r\n');
    expect(await clientConn.readLine()).toBe('220 go ahead');
    await clientConn.startTls({ context: client, serverName: 'localhost' });
    expect(clientConn.info.tls?.protocol).toBe('TLSv1.3');
    await clientConn.write('EHLO client.test\r\n');
    expect(await clientConn.readLine()).toBe('250 hello over TLS');
    await serverDone;
    await Promise.all([clientConn.close(), serverConn.close()]);
  });

  it('Connection.startTls called again while the first handshake runs says so, and the first completes', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const [a, b] = memoryPair();
    const clientConn = new Connection(a);
    const serverConn = new Connection(b);
    const serverDone = serverConn.startTls({ context: server });
    const first = clientConn.startTls({ context: client, serverName: 'localhost' });
    await expect(clientConn.startTls({ context: client, serverName: 'localhost' })).rejects.toMatchObject({
      code: 'ERR_TRANSPORT_UPGRADED',
      message: expect.stringMatching(/already under way; await the first startTls\(\)/),
    });
    await Promise.all([first, serverDone]);
    expect(clientConn.info.kind).toBe('tls');
    await Promise.all([clientConn.close(), serverConn.close()]);
  });

  it('the protocol carries over to the TLS transport and hears connectionMade again', async () => {
    const { serverContext: server, clientContext: client } = await pki();
    const [a, b] = memoryPair();
    const made: Transport[] = [];
    const protocol: Protocol = { connectionMade: (t) => made.push(t) };
    a.setProtocol(protocol);
    b.setProtocol({});
    const [ct, st] = await Promise.all([
      startTls(a, { context: client, serverName: 'localhost' }),
      startTls(b, { context: server }),
    ]);
    expect(made).toEqual([a, ct]);
    expect(ct.protocol).toBe(protocol);
    expect(a.protocol).not.toBe(protocol);
    ct.close();
    st.close();
    await turns(5);
  });

  it('a failed upgrade tells the protocol bound to the lower transport, once', async () => {
    const { ca } = await pki();
    const { clientContext } = await import('tlskit');
    const [a, b] = memoryPair();
    const lower = new RecordingProtocol();
    a.setProtocol(lower);
    b.setProtocol({});
    const other = await (await import('tlskit/pki')).createCA();
    const wrongServer = (await other.issue({ hosts: ['localhost'] })).serverContext();
    const [clientSide] = await Promise.allSettled([
      startTls(a, { context: clientContext({ trust: ca.trust }), serverName: 'localhost' }),
      startTls(b, { context: wrongServer }),
    ]);
    expect((clientSide as PromiseRejectedResult).reason).toMatchObject({ code: 'UNKNOWN_ISSUER' });
    expect(await lower.waitForLost()).toBe((clientSide as PromiseRejectedResult).reason);
    await turns(5);
    expect(lower.lostCount).toBe(1);
  });
});
