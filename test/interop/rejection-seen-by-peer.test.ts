/**
 * What the other side sees when tlskit rejects its certificate. node:tls finishes the handshake
 * before JavaScript may judge the peer's chain, so tlskit cannot send the alert that names the
 * problem (bad_certificate, unknown_ca, ...); it can only close the connection (see the README).
 * These tests pin down the facts that must hold whatever the details: the rejection reaches tlskit
 * with its code, the peer's connection ends, it ends without a close_notify (a rejected peer must
 * never see what looks like a clean end), and nothing the peer sends reaches a protocol.
 *
 * The details, observed with `-msg` traces (OpenSSL 3.0, Node 20), are recorded here rather than
 * asserted. In each case the side that speaks last in the handshake is the one whose last flight
 * matters: TLS 1.3's client Finished, TLS 1.2's server NewSessionTicket + ChangeCipherSpec +
 * Finished.
 *
 * tlskit client rejecting s_server's certificate (HOSTNAME_MISMATCH):
 * - TLS 1.2, either path: s_server receives the client's Finished, sends its own, prints
 *   "CIPHER is …" (its handshake is complete), then meets the end of stream: it sends a fatal
 *   decode_error alert (OpenSSL 3.0's answer to an unexpected EOF), prints "ERROR" and "unexpected
 *   eof while reading".
 * - TLS 1.3, native TCP: the client's Finished never arrives (no "<<< … Finished" trace, no
 *   "CIPHER is"): the rejection closed the socket in the same turn in which OpenSSL produced that
 *   flight, before it was written. s_server's handshake never completes; then the same decode_error,
 *   "ERROR", "unexpected eof while reading".
 * - TLS 1.3 over the bridge: the Finished does arrive (the bridge lets queued output flush before
 *   tearing down), s_server prints "CIPHER is …", then the same end.
 *
 * tlskit server rejecting s_client's certificate (UNKNOWN_ISSUER):
 * - TLS 1.3, native TCP: s_client's handshake is complete ("New, TLSv1.3, Cipher is …", "Verify
 *   return code: 0 (ok)"); no session ticket arrives; at the end of stream it sends the same fatal
 *   decode_error alert and prints "unexpected eof while reading"; exit status 1.
 * - TLS 1.3 over the bridge: the same, except that the server's two session tickets arrive first.
 * - TLS 1.2, native TCP: the server's last flight never arrives, so s_client's handshake never
 *   completes: it sends decode_error, prints "unexpected eof while reading" and then (as it does
 *   when it gives up mid-handshake) a session summary with an empty Session-ID, including "Verify
 *   return code: 0 (ok)", which only says that it verified the server; exit status 1.
 * - TLS 1.2 over the bridge: the server's last flight arrives (NewSessionTicket, Finished),
 *   s_client's handshake completes, then the same end of stream; exit status 1.
 * In no case did the peer receive any alert from tlskit, close_notify included.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clientContext,
  createConnection,
  createServer,
  fromDuplex,
  type Protocol,
  serverContext,
  startTls,
  type TlsVersion,
} from 'tlskit';
import { createCA } from 'tlskit/pki';
import { afterEach, describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  connectSocket,
  opensslClient,
  opensslServer,
  PEER_TIMEOUT,
  SocketRelay,
  serversClosedAfterEach,
  withTimeout,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();
const listeners: net.Server[] = [];

afterEach(() => {
  for (const listener of listeners.splice(0)) listener.close();
});

const versions = [
  { version: 'TLSv1.3' as TlsVersion, flag: '-tls1_3', trace: 'TLS 1\\.3' },
  { version: 'TLSv1.2' as TlsVersion, flag: '-tls1_2', trace: 'TLS 1\\.2' },
];
const paths = ['native TCP', 'the bridge'] as const;
type Path = (typeof paths)[number];

/** A protocol that counts how often anything reached it: a rejected peer must reach nothing. */
function untouchable() {
  const reached: string[] = [];
  const protocol: Protocol = {
    connectionMade: () => void reached.push('connectionMade'),
    dataReceived: () => void reached.push('dataReceived'),
  };
  return { protocol, reached };
}

/** A client certificate from a CA the server does not trust, as files for s_client. */
async function strangerFiles() {
  const stranger = await (await createCA({ subject: 'stranger CA' })).issue({
    subject: 'stranger',
    usage: 'client',
  });
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-rejection-'));
  writeFileSync(join(dir, 'cert.pem'), stranger.certPem);
  writeFileSync(join(dir, 'key.pem'), stranger.keyPem);
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

describe('a tlskit client rejecting openssl s_server’s certificate (HOSTNAME_MISMATCH), seen by s_server', () => {
  async function rejectOver(path: Path, port: number) {
    const { protocol, reached } = untouchable();
    const context = clientContext({ trust: certs.caPem });
    const attempt =
      path === 'native TCP'
        ? createConnection(() => protocol, {
            host: '127.0.0.1',
            port,
            tls: context,
            serverName: 'example.com',
          })
        : connectSocket(port).then((socket) =>
            startTls(fromDuplex(new SocketRelay(socket)), { context, serverName: 'example.com', protocol }),
          );
    const error = await attempt.then(
      () => null,
      (e: unknown) => e,
    );
    return { error, reached };
  }

  for (const path of paths) {
    for (const { version, flag, trace } of versions) {
      it(`over ${path}, ${version}: s_server's connection ends in an error, without close_notify, and nothing reaches tlskit's protocol`, async () => {
        const server = await opensslServer([flag, '-msg']);
        const mark = server.mark();
        const { error, reached } = await rejectOver(path, server.port);
        expect(error).toMatchObject({ code: 'HOSTNAME_MISMATCH', depth: 0 });

        // s_server reports the connection's failure.
        await server.waitFor(/^ERROR$/m, { since: mark });
        const seen = server.output.slice(mark);
        expect(seen).not.toMatch(new RegExp(`<<< ${trace}, Alert \\[length 0002\\], warning close_notify`));
        expect(seen).not.toMatch(/^DONE$/m);
        expect(reached).toEqual([]);
      });
    }
  }
});

describe('a tlskit server rejecting openssl s_client’s certificate (UNKNOWN_ISSUER), seen by s_client', () => {
  const context = () =>
    serverContext({
      cert: certs.serverCertPem,
      key: certs.serverKeyPem,
      clientAuth: 'required',
      trust: certs.caPem,
    });

  /** A server on `path` whose one handshake error is reported; its protocol must never be reached. */
  async function serverOver(path: Path) {
    const { protocol, reached } = untouchable();
    let report!: (error: Error) => void;
    const failed = new Promise<Error>((resolve) => {
      report = resolve;
    });
    let port: number;
    if (path === 'native TCP') {
      const server = await createServer(() => protocol, {
        host: '127.0.0.1',
        port: 0,
        tls: context(),
        onHandshakeError: (error) => report(error),
      });
      servers.push(server);
      port = server.address.port;
    } else {
      const listener = net.createServer({ allowHalfOpen: true }, (socket) => {
        startTls(fromDuplex(new SocketRelay(socket)), { context: context(), protocol }).catch(report);
      });
      listeners.push(listener);
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as net.AddressInfo).port;
    }
    return {
      port,
      reached,
      failed: () => withTimeout(failed, PEER_TIMEOUT, () => 'the handshake error did not arrive'),
    };
  }

  for (const path of paths) {
    for (const { version, flag, trace } of versions) {
      it(`over ${path}, ${version}: s_client's connection ends without close_notify, it exits unsuccessfully, and what it sends reaches no protocol`, async () => {
        const stranger = await strangerFiles();
        const { port, reached, failed } = await serverOver(path);
        const client = opensslClient(port, [flag, '-msg', '-cert', stranger.cert, '-key', stranger.key]);
        expect(await failed()).toMatchObject({ code: 'UNKNOWN_ISSUER', depth: 0, subject: 'CN=stranger' });
        client.send('data after the rejection\n');
        expect((await client.waitForExit()).code).not.toBe(0);
        expect(client.output).not.toMatch(
          new RegExp(`<<< ${trace}, Alert \\[length 0002\\], warning close_notify`),
        );
        expect(client.output).not.toMatch(/^closed$/m); // what s_client prints after a close_notify
        expect(reached).toEqual([]);
      });
    }
  }
});
