/**
 * TLS over the bridged engine path, with real peers. Where a transport has no native socket
 * underneath, node:tls cannot read a descriptor: it drives a JavaScript stream through tlskit's
 * bridge, and the end-of-stream verdict (close_notify or truncation) is taken differently (see
 * src/tls/eof.ts). The other interop files only ever hand node:tls a TCP socket; here the same
 * peers meet tlskit over two bridges to a real TCP connection:
 *
 * - `fromDuplex` of a plain JavaScript Duplex relaying the socket (`SocketRelay`; its byte counters
 *   show the records went through JavaScript);
 * - a memory pair relayed to the socket, delivering a byte at a time, so node:tls meets the real
 *   peer's records cut into the smallest pieces.
 *
 * Each is checked as a client of openssl s_server and gnutls-serv and as a server for s_client and
 * gnutls-cli, over TLS 1.2 and 1.3: data both ways, and a clean close (close_notify arrives as
 * `eofReceived`, then `connectionLost(null)`); and a peer that closes without close_notify is a
 * truncation over the bridge too.
 */
import net from 'node:net';
import { clientContext, fromDuplex, serverContext, startTls, type TlsVersion, type Transport } from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  connectSocket,
  gnutlsClient,
  gnutlsHttpServer,
  gnutlsOnly,
  gnutlsServer,
  killPeers,
  memoryRelay,
  opensslClient,
  opensslServer,
  PEER_TIMEOUT,
  SocketRelay,
  withTimeout,
} from '../helpers/peers.js';

const certs = opensslCerts();
const listeners: net.Server[] = [];

afterEach(async () => {
  await killPeers();
  for (const listener of listeners.splice(0)) listener.close();
});

interface Bridge {
  name: string;
  /** The transport TLS runs over, and how many bytes went through JavaScript (where countable). */
  over(socket: net.Socket): { transport: Transport; carried: (() => number) | null };
}

const bridges: Bridge[] = [
  {
    name: 'fromDuplex(a JavaScript Duplex relaying a TCP socket)',
    over: (socket) => {
      const relay = new SocketRelay(socket);
      return { transport: fromDuplex(relay), carried: () => relay.bytesRead + relay.bytesWritten };
    },
  },
  {
    name: 'a memory pair relayed to a TCP socket, a byte at a time',
    over: (socket) => ({ transport: memoryRelay(socket, { chunkSize: 1 }), carried: null }),
  },
];

const versions = [
  { version: 'TLSv1.3' as TlsVersion, flag: '-tls1_3', trace: 'TLS 1\\.3', priority: gnutlsOnly('1.3') },
  { version: 'TLSv1.2' as TlsVersion, flag: '-tls1_2', trace: 'TLS 1\\.2', priority: gnutlsOnly('1.2') },
];

/** tlskit as a client over `bridge` to 127.0.0.1:`port`, recording what its protocol sees. */
async function bridgedClient(bridge: Bridge, port: number) {
  const lower = bridge.over(await connectSocket(port));
  const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT });
  const transport = await startTls(lower.transport, {
    context: clientContext({ trust: certs.caPem }),
    serverName: 'localhost',
    protocol: recording,
  });
  return { transport, recording, carried: lower.carried };
}

/**
 * A listener whose one connection tlskit serves over `bridge`. The server's protocol answers each
 * chunk upper-cased, so the peer's output shows the round trip.
 */
async function bridgedServer(bridge: Bridge) {
  const recording = new RecordingProtocol({
    timeout: PEER_TIMEOUT,
    onData: (data, transport) => transport.write(Buffer.from(data).toString('latin1').toUpperCase()),
  });
  const listener = net.createServer({ allowHalfOpen: true });
  listeners.push(listener);
  const secured = new Promise<{ transport: Transport; carried: (() => number) | null }>((resolve, reject) => {
    listener.once('connection', (socket) => {
      const lower = bridge.over(socket);
      startTls(lower.transport, {
        context: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
        protocol: recording,
      }).then((transport) => resolve({ transport, carried: lower.carried }), reject);
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    port: (listener.address() as net.AddressInfo).port,
    recording,
    secured: () => withTimeout(secured, PEER_TIMEOUT, () => 'the bridged server handshake did not finish'),
  };
}

/** The handshake and the data went through JavaScript, not a descriptor node:tls read itself. */
function expectBridged(carried: (() => number) | null): void {
  if (carried) expect(carried()).toBeGreaterThan(1_000);
}

for (const bridge of bridges) {
  describe(`tlskit client over ${bridge.name}`, () => {
    for (const { version, flag, trace, priority } of versions) {
      const closeNotify = (direction: '<<<' | '>>>') =>
        new RegExp(`${direction} ${trace}, Alert \\[length 0002\\], warning close_notify\\n`);

      it(`${version} with openssl s_server: data both ways; end() sends close_notify, s_server answers, and the stream ends cleanly`, async () => {
        const server = await opensslServer([flag, '-msg']);
        const { transport, recording, carried } = await bridgedClient(bridge, server.port);
        expect(transport.info.tls?.protocol).toBe(version);
        expect(transport.info.tls?.peerCertificates[0]?.subject).toBe('CN=localhost');

        transport.write('ping over the bridge\n');
        await server.waitFor(/ping over the bridge\n/);
        server.send('pong over the bridge\n');
        await recording.waitFor('the reply', () => recording.text() === 'pong over the bridge\n');

        const mark = server.mark();
        transport.end();
        await server.waitFor(closeNotify('<<<'), { since: mark });
        await server.waitFor(/^DONE$/m, { since: mark });
        await server.waitFor(closeNotify('>>>'), { since: mark });
        expect(await recording.waitForLost()).toBeNull();
        expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(recording.violations).toEqual([]);
        expectBridged(carried);
      });

      it(`${version} with openssl s_server -www: the response, then s_server's own close_notify, arrive as data, eofReceived, connectionLost(null)`, async () => {
        const server = await opensslServer([flag, '-www', '-msg']);
        const { transport, recording, carried } = await bridgedClient(bridge, server.port);
        transport.write('GET / HTTP/1.0\r\n\r\n');
        expect(await recording.waitForLost()).toBeNull();
        await server.waitFor(closeNotify('>>>'));
        expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(recording.text()).toMatch(/^HTTP\/1\.0 200 ok\r\n/);
        expect(recording.text()).toContain('</HTML>');
        expect(recording.violations).toEqual([]);
        expectBridged(carried);
      });

      // "q" makes s_server close its socket before a close_notify is written (close-semantics.test.ts).
      it(`${version} with openssl s_server: an end without close_notify ("q") is ERR_TLS_TRUNCATED over the bridge too`, async () => {
        const server = await opensslServer([flag]);
        const { recording } = await bridgedClient(bridge, server.port);
        server.send('last words\n');
        await recording.waitForBytes('last words\n'.length);
        server.send('q\n');
        expect(await recording.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
        expect(recording.events).toEqual(['made', 'data', 'lost:ERR_TLS_TRUNCATED']);
        expect(recording.text()).toBe('last words\n');
      });

      it(`${version} with gnutls-serv --echo: its echo comes back; end() sends close_notify and gnutls-serv answers with its own`, async () => {
        const server = await gnutlsServer([priority, '-d', '5']);
        const { transport, recording, carried } = await bridgedClient(bridge, server.port);
        expect(transport.info.tls?.protocol).toBe(version);
        transport.write('echo over the bridge\n');
        await recording.waitFor('the echo', () => recording.text() === 'echo over the bridge\n');

        const mark = server.mark();
        transport.end();
        expect(await recording.waitForLost()).toBeNull();
        await server.waitFor(/Alert\[1\|0\] - Close notify - was received/, { since: mark });
        await server.waitFor(/REC: Sending Alert\[1\|0\] - Close notify/, { since: mark });
        expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(recording.violations).toEqual([]);
        expectBridged(carried);
      });

      it(`${version} with gnutls-serv --http: the response, then gnutls-serv's own close_notify, arrive as data, eofReceived, connectionLost(null)`, async () => {
        const server = await gnutlsHttpServer([priority, '-d', '5']);
        const { transport, recording } = await bridgedClient(bridge, server.port);
        transport.write('GET / HTTP/1.0\r\n\r\n');
        expect(await recording.waitForLost()).toBeNull();
        await server.waitFor(/REC: Sending Alert\[1\|0\] - Close notify/);
        expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(recording.text()).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
        expect(recording.violations).toEqual([]);
      });
    }
  });

  describe(`tlskit server over ${bridge.name}`, () => {
    for (const { version, flag, priority } of versions) {
      it(`${version} with openssl s_client: s_client verifies the chain, data goes both ways, and its close_notify ends the stream cleanly`, async () => {
        const { port, recording, secured } = await bridgedServer(bridge);
        const client = opensslClient(port, [flag]);
        await client.waitFor(/^\s*Verify return code: 0 \(ok\)$/m);
        const { transport, carried } = await secured();
        expect(transport.info.tls?.protocol).toBe(version);

        client.send('hello over the bridge\n');
        await client.waitFor(/HELLO OVER THE BRIDGE\n/);
        client.endInput(); // s_client sends close_notify and exits
        expect(await recording.waitForLost()).toBeNull();
        expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(recording.text()).toBe('hello over the bridge\n');
        expect(recording.violations).toEqual([]);
        expect(await client.waitForExit()).toEqual({ code: 0, signal: null });
        expectBridged(carried);
      });

      it(`${version} with gnutls-cli: gnutls-cli trusts the chain, data goes both ways, and its close_notify ends the stream cleanly`, async () => {
        const { port, recording, secured } = await bridgedServer(bridge);
        const client = gnutlsClient(port, [priority]);
        await client.waitFor(/^- Status: The certificate is trusted\./m);
        await client.waitFor(/^- Simple Client Mode:/m);
        const { transport, carried } = await secured();
        expect(transport.info.tls?.protocol).toBe(version);

        client.send('hello from gnutls\n');
        await client.waitFor(/HELLO FROM GNUTLS\n/);
        client.endInput(); // gnutls-cli sends close_notify
        expect(await recording.waitForLost()).toBeNull();
        expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(recording.violations).toEqual([]);
        expect((await client.waitForExit()).code).toBe(0);
        expectBridged(carried);
      });
    }
  });
}
