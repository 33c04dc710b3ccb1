/**
 * How TLS connections end, with real peers: a close_notify is a clean end of stream
 * (`eofReceived`, then `connectionLost(null)`); a peer process that dies (SIGKILL: no close_notify,
 * the kernel just closes its socket) is a truncation (`ERR_TLS_TRUNCATED`). And the other way:
 * tlskit's `end()`/`close()` send a close_notify that OpenSSL recognises, while `abort()` does not.
 *
 * What the OpenSSL tools print, found by running them (`-msg` traces every record):
 * - s_server sends a close_notify of its own only in answer to the client's, or after a `-www`
 *   response; its stdin commands (`q`, `Q`, end of input) close the socket first (see below).
 * - s_server, on the client's close_notify: `<<< TLS 1.x, Alert [length 0002], warning close_notify`
 *   then `DONE`, and it answers with its own close_notify (`>>> … warning close_notify`); on an
 *   end without one (or a reset) it prints `ERROR` instead of `DONE`.
 * - s_client, on the server's close_notify: the same `<<<` trace line, then `closed`, and it exits
 *   with status 0; on an end without one it prints OpenSSL's `unexpected eof while reading` and
 *   exits with status 1; on a reset it prints `read:errno=104` (ECONNRESET).
 * - tlskit's `abort()` over TLS is such an end without close_notify, not a reset: Node crashes
 *   when the socket under a live TLS engine is reset (see `TlsTransport`).
 */
import {
  clientContext,
  createConnection,
  createServer,
  serverContext,
  type TlsVersion,
  type Transport,
} from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  gnutlsClient,
  gnutlsServer,
  opensslClient,
  opensslServer,
  PEER_TIMEOUT,
  type Peer,
  serversClosedAfterEach,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();

const versions = [
  { version: 'TLSv1.3' as TlsVersion, flag: '-tls1_3', trace: 'TLS 1\\.3' },
  { version: 'TLSv1.2' as TlsVersion, flag: '-tls1_2', trace: 'TLS 1\\.2' },
];

/** tlskit connected as a client to `port`, recording what its protocol sees. */
async function tlskitClient(port: number) {
  const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT });
  const transport = await createConnection(() => recording, {
    host: '127.0.0.1',
    port,
    tls: clientContext({ trust: certs.caPem }),
    serverName: 'localhost',
  });
  return { transport, recording };
}

/** A tlskit server for one connection, recording what its protocol sees. */
async function tlskitServer() {
  const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT });
  const server = await createServer(() => recording, {
    host: '127.0.0.1',
    port: 0,
    tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
  });
  servers.push(server);
  const connected = async () => {
    await recording.waitFor('the connection', () => recording.transport !== null);
    return recording.transport!;
  };
  return { port: server.address.port, recording, connected };
}

/**
 * Writes a marker and waits for the peer to print it. A process that dies with received bytes
 * still unread makes the kernel send a reset instead of a FIN (ECONNRESET, not a truncation); a
 * TLS 1.3 server's session tickets are such bytes until the client reads them, so the kill tests
 * first make sure everything sent was consumed.
 */
async function consumedBy(peer: Peer, transport: Transport): Promise<void> {
  transport.write('ack\n');
  await peer.waitFor(/ack\n/);
}

describe('a peer that sends close_notify ends the stream cleanly', () => {
  for (const { version, flag, trace } of versions) {
    it(`tlskit client over ${version}: s_server -www's response, then its close_notify, arrive as data, eofReceived, connectionLost(null)`, async () => {
      const server = await opensslServer([flag, '-www', '-msg']);
      const { transport, recording } = await tlskitClient(server.port);
      transport.write('GET / HTTP/1.0\r\n\r\n');
      expect(await recording.waitForLost()).toBeNull();
      await server.waitFor(new RegExp(`>>> ${trace}, Alert \\[length 0002\\], warning close_notify\\n`));
      expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
      expect(recording.text()).toMatch(/^HTTP\/1\.0 200 ok\r\n/);
      expect(recording.text()).toContain('</HTML>');
      expect(recording.violations).toEqual([]);
    });

    // s_server's own way to end a connection ("q" on stdin, also "Q" or end of input) closes the
    // socket before its close_notify is written: with -msg it traces the alert record being built
    // but never the "Alert … close_notify" line it prints once one was sent. tlskit must see that
    // as the truncation it is, even though the data before it arrived intact.
    it(`tlskit client over ${version}: s_server ending with "q" (socket closed before close_notify) is ERR_TLS_TRUNCATED`, async () => {
      const server = await opensslServer([flag]);
      const { recording } = await tlskitClient(server.port);
      server.send('last words\n');
      await recording.waitForBytes('last words\n'.length);
      server.send('q\n');
      expect(await recording.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
      expect(recording.events).toEqual(['made', 'data', 'lost:ERR_TLS_TRUNCATED']);
      expect(recording.text()).toBe('last words\n');
    });

    it(`tlskit server over ${version}: s_client's data, then its close_notify on end of input, arrive as data, eofReceived, connectionLost(null)`, async () => {
      const { port, recording } = await tlskitServer();
      const client = opensslClient(port, [flag]);
      client.send('last words\n');
      await recording.waitForBytes('last words\n'.length);
      client.endInput(); // s_client sends close_notify and exits
      expect(await recording.waitForLost()).toBeNull();
      expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
      expect(recording.text()).toBe('last words\n');
      expect(await client.waitForExit()).toEqual({ code: 0, signal: null });
    });
  }

  it('tlskit server: gnutls-cli closing on end of input is a clean end', async () => {
    const { port, recording } = await tlskitServer();
    const client = gnutlsClient(port);
    client.send('from gnutls\n');
    await recording.waitForBytes('from gnutls\n'.length);
    client.endInput();
    expect(await recording.waitForLost()).toBeNull();
    expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
  });
});

describe('a peer killed without close_notify is a truncation', () => {
  for (const { version, flag } of versions) {
    it(`tlskit client over ${version}: s_server killed with SIGKILL gives ERR_TLS_TRUNCATED, with no eofReceived`, async () => {
      const server = await opensslServer([flag]);
      const { recording } = await tlskitClient(server.port);
      server.send('partial\n');
      await recording.waitForBytes('partial\n'.length);
      await server.kill('SIGKILL');
      expect(await recording.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
      expect(recording.events).toEqual(['made', 'data', 'lost:ERR_TLS_TRUNCATED']);
    });

    it(`tlskit server over ${version}: s_client killed with SIGKILL gives ERR_TLS_TRUNCATED, with no eofReceived`, async () => {
      const { port, recording, connected } = await tlskitServer();
      const client = opensslClient(port, [flag]);
      client.send('partial\n');
      await recording.waitForBytes('partial\n'.length);
      await consumedBy(client, await connected());
      await client.kill('SIGKILL');
      expect(await recording.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
      expect(recording.events).toEqual(['made', 'data', 'lost:ERR_TLS_TRUNCATED']);
    });
  }

  it('tlskit client: gnutls-serv killed with SIGKILL gives ERR_TLS_TRUNCATED', async () => {
    const server = await gnutlsServer();
    const { transport, recording } = await tlskitClient(server.port);
    transport.write('echo\n');
    await recording.waitForBytes('echo\n'.length);
    await server.kill('SIGKILL');
    expect(await recording.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(recording.events).not.toContain('eof');
  });

  it('tlskit server: gnutls-cli killed with SIGKILL gives ERR_TLS_TRUNCATED', async () => {
    const { port, recording, connected } = await tlskitServer();
    const client = gnutlsClient(port);
    client.send('partial\n');
    await recording.waitForBytes('partial\n'.length);
    await consumedBy(client, await connected());
    await client.kill('SIGKILL');
    expect(await recording.waitForLost()).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(recording.events).toEqual(['made', 'data', 'lost:ERR_TLS_TRUNCATED']);
  });
});

describe("tlskit's own close is a clean TLS shutdown for OpenSSL", () => {
  for (const { version, flag, trace } of versions) {
    const closeNotify = (direction: '<<<' | '>>>') =>
      new RegExp(`${direction} ${trace}, Alert \\[length 0002\\], warning close_notify\\n`);

    for (const how of ['end', 'close'] as const) {
      it(`tlskit client ${how}() over ${version}: s_server receives close_notify and prints DONE; its answer closes tlskit cleanly`, async () => {
        const server = await opensslServer([flag, '-msg']);
        const { transport, recording } = await tlskitClient(server.port);
        transport.write('bye\n');
        await server.waitFor(/bye\n/);
        const mark = server.mark();
        transport[how]();
        await server.waitFor(closeNotify('<<<'), { since: mark });
        await server.waitFor(/^DONE$/m, { since: mark });
        await server.waitFor(closeNotify('>>>'), { since: mark });
        expect(await recording.waitForLost()).toBeNull();
        // end() half-closes and still reads, so the answer is an end of stream; close() stops
        // delivering and only waits for it.
        expect(recording.events).toEqual(how === 'end' ? ['made', 'eof', 'lost'] : ['made', 'lost']);
        expect(server.output.slice(mark)).not.toMatch(/^ERROR$/m);
      });

      it(`tlskit server ${how}() over ${version}: s_client receives close_notify, prints "closed" and exits 0`, async () => {
        const { port, connected, recording } = await tlskitServer();
        const client = opensslClient(port, [flag, '-msg']);
        const transport = await connected();
        transport.write('bye\n');
        await client.waitFor(/bye\n/);
        const mark = client.mark();
        transport[how]();
        await client.waitFor(closeNotify('<<<'), { since: mark });
        await client.waitFor(/^closed$/m, { since: mark });
        expect(await client.waitForExit()).toEqual({ code: 0, signal: null });
        expect(await recording.waitForLost()).toBeNull();
      });
    }

    it(`control: tlskit client abort() over ${version} sends no close_notify, and s_server prints ERROR`, async () => {
      const server = await opensslServer([flag, '-msg']);
      const { transport, recording } = await tlskitClient(server.port);
      transport.write('bye\n');
      await server.waitFor(/bye\n/);
      const mark = server.mark();
      transport.abort();
      await server.waitFor(/^ERROR$/m, { since: mark });
      expect(server.output.slice(mark)).not.toMatch(closeNotify('<<<'));
      expect(server.output.slice(mark)).not.toMatch(/^DONE$/m);
      expect(recording.events).toEqual(['made', 'lost']);
    });

    it(`control: tlskit server abort() over ${version} sends no close_notify, and s_client reports the truncation`, async () => {
      const { port, connected } = await tlskitServer();
      const client = opensslClient(port, [flag, '-msg']);
      const transport = await connected();
      transport.write('bye\n');
      await client.waitFor(/bye\n/);
      const mark = client.mark();
      transport.abort();
      await client.waitFor(/unexpected eof while reading/, { since: mark });
      expect(client.output.slice(mark)).not.toMatch(closeNotify('<<<'));
      expect((await client.waitForExit()).code).toBe(1);
    });
  }
});
