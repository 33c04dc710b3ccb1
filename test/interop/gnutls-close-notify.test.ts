/**
 * A GnuTLS peer that ends the connection properly, with close_notify, must look like a clean end of
 * stream to a tlskit client (`eofReceived`, then `connectionLost(null)`), never like a truncation.
 * close-semantics.test.ts only shows gnutls-serv dying (a truncation); here it closes cleanly, in
 * both of the ways it can:
 *
 * - `gnutls-serv --http` answers a request and then ends the connection itself with a close_notify;
 * - `gnutls-serv --echo` answers tlskit's close_notify (`end()` or `close()`) with its own.
 *
 * `-d 5` makes gnutls-serv log every alert it sends and receives (`REC: Sending Alert[1|0] - Close
 * notify`, `Alert[1|0] - Close notify - was received`), an account of the wire that is independent
 * of tlskit's verdict. Native TCP here; bridged-engine.test.ts repeats this over the bridge.
 */
import { clientContext, createConnection, type TlsVersion } from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  connectRecorded,
  gnutlsHttpServer,
  gnutlsOnly,
  gnutlsServer,
  killPeers,
  PEER_TIMEOUT,
} from '../helpers/peers.js';

afterEach(killPeers);

const certs = opensslCerts();

const connectTo = (port: number) => connectRecorded(port, clientContext({ trust: certs.caPem }));

const versions: Array<{ version: TlsVersion; priority: string }> = [
  { version: 'TLSv1.3', priority: gnutlsOnly('1.3') },
  { version: 'TLSv1.2', priority: gnutlsOnly('1.2') },
];
const sentCloseNotify = /REC: Sending Alert\[1\|0\] - Close notify/;
const receivedCloseNotify = /Alert\[1\|0\] - Close notify - was received/;

describe('tlskit client with gnutls-serv closing cleanly', () => {
  for (const { version, priority } of versions) {
    it(`${version}: gnutls-serv --http ends the connection after its response with a close_notify: data, eofReceived, connectionLost(null)`, async () => {
      const server = await gnutlsHttpServer([priority, '-d', '5']);
      const { transport, recording } = await connectTo(server.port);
      expect(transport.info.tls?.protocol).toBe(version);
      transport.write('GET / HTTP/1.0\r\n\r\n');

      expect(await recording.waitForLost()).toBeNull();
      await server.waitFor(sentCloseNotify);
      expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
      expect(recording.text()).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
      expect(recording.text()).toContain('</HTML>');
      expect(recording.violations).toEqual([]);
    });

    it(`${version}: a protocol that keeps writing after gnutls-serv's close_notify still gets connectionLost(null) once it ends`, async () => {
      const server = await gnutlsHttpServer([priority, '-d', '5']);
      const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT, keepOpenOnEof: true });
      const transport = await createConnection(() => recording, {
        host: '127.0.0.1',
        port: server.port,
        tls: clientContext({ trust: certs.caPem }),
        serverName: 'localhost',
      });
      transport.write('GET / HTTP/1.0\r\n\r\n');
      await recording.waitForEof();
      expect(recording.lostCount).toBe(0); // half-closed: our side is still open
      transport.end();
      expect(await recording.waitForLost()).toBeNull();
      expect(recording.events).toEqual(['made', 'data', 'eof', 'lost']);
      await server.waitFor(sentCloseNotify);
    });

    for (const how of ['end', 'close'] as const) {
      it(`${version}: gnutls-serv --echo answers tlskit's ${how}() with its own close_notify, and tlskit sees a clean end`, async () => {
        const server = await gnutlsServer([priority, '-d', '5']);
        const { transport, recording } = await connectTo(server.port);
        transport.write('echo me\n');
        await recording.waitFor('the echo', () => recording.text() === 'echo me\n');

        const mark = server.mark();
        transport[how]();
        expect(await recording.waitForLost()).toBeNull();
        await server.waitFor(receivedCloseNotify, { since: mark });
        await server.waitFor(sentCloseNotify, { since: mark });
        // end() half-closes and keeps reading, so gnutls-serv's answer is an end of stream; close()
        // stops delivering and only waits for it.
        expect(recording.events).toEqual(
          how === 'end' ? ['made', 'data', 'eof', 'lost'] : ['made', 'data', 'lost'],
        );
        expect(recording.violations).toEqual([]);
      });
    }
  }
});
