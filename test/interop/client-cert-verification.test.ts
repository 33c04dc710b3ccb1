/**
 * A tlskit server verifies the certificates clients present, over native TCP, with real clients.
 * Node #13368: a TLSSocket made server-side over an existing socket (which is how every tlskit
 * server and every STARTTLS upgrade works) did no certificate checking at all; tlskit judges the
 * client's chain itself after the handshake (src/tls/verify.ts). Here openssl s_client and
 * gnutls-cli present client certificates minted by tlskit/pki that a correct server must refuse,
 * under `clientAuth: 'required'` and `'optional'` alike (optional means a client may send none,
 * not that a bad one passes):
 *
 * - one from a CA the server does not trust: UNKNOWN_ISSUER;
 * - one whose extended key usage allows serverAuth only: WRONG_PURPOSE;
 * - one its CA revoked, with the CA's CRL in the server context: REVOKED.
 *
 * What the clients see, found by running them (with `-msg` traces): the server's verdict comes
 * after node:tls finished the handshake, and the connection then closes without an alert (see the
 * README). Over TLS 1.3 the client's side of the handshake was already complete: s_client prints
 * "New, TLSv1.3" and "Verify return code: 0 (ok)", gnutls-cli reaches "Simple Client Mode", and
 * then the end of stream comes (s_client: "unexpected eof while reading"; gnutls-cli: "*** Fatal
 * error: The TLS connection was non-properly terminated."). Over TLS 1.2 the server speaks last
 * (NewSessionTicket, ChangeCipherSpec, Finished), and that flight never reaches the client: over
 * native TCP the rejection closes the socket in the same turn in which OpenSSL produced it, before
 * it was written. So the client's handshake never completes: gnutls-cli fails it with the same
 * "non-properly terminated" error, and s_client prints "unexpected eof while reading" and then its
 * session summary with an empty Session-ID (it prints one when it gives up mid-handshake too, so
 * its "Verify return code: 0 (ok)" there only says it verified the server). Both exit with status
 * 1 in every case. Only robust facts are asserted: the handshake error's code, that the client
 * exits unsuccessfully, and that nothing it sends is answered.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CertificateErrorCode, serve, serverContext, type TlsInfo, type TlsVersion } from 'tlskit';
import { type CA, createCA, type IssuedCertificate } from 'tlskit/pki';
import { beforeAll, describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  gnutlsClient,
  opensslClient,
  PEER_TIMEOUT,
  type Peer,
  serversClosedAfterEach,
  withTimeout,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();

type Files = { cert: string; key: string };
type Kind = 'good' | 'stranger' | 'serverOnly' | 'revoked';

let ca: CA;
let crlPem: string;
const files = {} as Record<Kind, Files>;
const issued = {} as Record<Kind, IssuedCertificate>;

beforeAll(async () => {
  ca = await createCA({ subject: 'client CA' });
  const stranger = await createCA({ subject: 'stranger CA' });
  issued.good = await ca.issue({ subject: 'good client', usage: 'client' });
  issued.stranger = await stranger.issue({ subject: 'stranger', usage: 'client' });
  issued.serverOnly = await ca.issue({
    subject: 'server-only',
    hosts: ['server-only.test'],
    usage: 'server',
  });
  issued.revoked = await ca.issue({ subject: 'revoked client', usage: 'client' });
  ca.revoke(issued.revoked, { reason: 'keyCompromise' });
  crlPem = await ca.crlPem();
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-client-certs-'));
  for (const [kind, certificate] of Object.entries(issued) as Array<[Kind, IssuedCertificate]>) {
    files[kind] = { cert: join(dir, `${kind}.pem`), key: join(dir, `${kind}.key`) };
    writeFileSync(files[kind].cert, certificate.certPem);
    writeFileSync(files[kind].key, certificate.keyPem);
  }
});

/** A tlskit server answering lines with `heard: …`; reports its first handshake, good or bad. */
async function tlskitServer(clientAuth: 'required' | 'optional') {
  let outcome!: (result: Error | TlsInfo) => void;
  const first = new Promise<Error | TlsInfo>((resolve) => {
    outcome = resolve;
  });
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      tls: serverContext({
        cert: certs.serverCertPem,
        key: certs.serverKeyPem,
        clientAuth,
        trust: ca.trust,
        crl: crlPem,
      }),
      onHandshakeError: (error) => outcome(error),
      onError: () => {},
    },
    async (connection) => {
      outcome(connection.info.tls!);
      for (let line = await connection.readLine(); line !== null; line = await connection.readLine()) {
        await connection.write(`heard: ${line}\n`);
      }
    },
  );
  servers.push(server);
  return {
    port: server.address.port,
    first: () => withTimeout(first, PEER_TIMEOUT, () => 'no handshake reached the server'),
  };
}

interface Client {
  name: string;
  start(port: number, version: TlsVersion, credentials: Files | null): Peer;
  /** Printed once the client's side of the handshake is complete. */
  connected: RegExp;
}

const gnutlsOnly = (version: TlsVersion) =>
  `--priority=NORMAL:-VERS-ALL:+VERS-TLS${version === 'TLSv1.3' ? '1.3' : '1.2'}`;
const clients: Client[] = [
  {
    name: 'openssl s_client',
    start: (port, version, credentials) =>
      opensslClient(port, [
        version === 'TLSv1.3' ? '-tls1_3' : '-tls1_2',
        ...(credentials ? ['-cert', credentials.cert, '-key', credentials.key] : []),
      ]),
    connected: /^\s*Verify return code: 0 \(ok\)$/m,
  },
  {
    name: 'gnutls-cli',
    start: (port, version, credentials) =>
      gnutlsClient(port, [
        gnutlsOnly(version),
        ...(credentials ? ['--x509certfile', credentials.cert, '--x509keyfile', credentials.key] : []),
      ]),
    connected: /^- Simple Client Mode:/m,
  },
];

const refused: Array<{ kind: Kind; what: string; code: CertificateErrorCode; subject: string }> = [
  { kind: 'stranger', what: 'from a CA it does not trust', code: 'UNKNOWN_ISSUER', subject: 'CN=stranger' },
  {
    kind: 'serverOnly',
    what: 'whose extended key usage is serverAuth only',
    code: 'WRONG_PURPOSE',
    subject: 'CN=server-only',
  },
  { kind: 'revoked', what: 'that its CA revoked (CRL given)', code: 'REVOKED', subject: 'CN=revoked client' },
];

for (const client of clients) {
  for (const clientAuth of ['required', 'optional'] as const) {
    describe(`a tlskit server (clientAuth: '${clientAuth}') and ${client.name}`, () => {
      for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
        it(`control: accepts a client certificate from the trusted CA over ${version}, with the CRL in place`, async () => {
          const { port, first } = await tlskitServer(clientAuth);
          const peer = client.start(port, version, files.good);
          await peer.waitFor(client.connected);
          const tls = (await first()) as TlsInfo;
          expect(tls.protocol).toBe(version);
          expect(tls.peerCertificates[0]?.subject).toBe('CN=good client');
          peer.send('hello\n');
          await peer.waitFor(/heard: hello\n/);
        });

        for (const { kind, what, code, subject } of refused) {
          it(`refuses a client certificate ${what} over ${version}: ${code}, and nothing the client sends is answered`, async () => {
            const { port, first } = await tlskitServer(clientAuth);
            const peer = client.start(port, version, files[kind]);
            expect(await first()).toMatchObject({ code, depth: 0, subject });
            peer.send('anyone there?\n');
            expect((await peer.waitForExit()).code).not.toBe(0);
            expect(peer.output).not.toMatch(/heard:/);
          });
        }
      }

      if (clientAuth === 'optional') {
        it('control: accepts a client that presents no certificate', async () => {
          const { port, first } = await tlskitServer(clientAuth);
          const peer = client.start(port, 'TLSv1.3', null);
          await peer.waitFor(client.connected);
          expect(((await first()) as TlsInfo).peerCertificates).toEqual([]);
          peer.send('anonymous\n');
          await peer.waitFor(/heard: anonymous\n/);
        });
      }
    });
  }
}
