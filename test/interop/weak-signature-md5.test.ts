/**
 * WEAK_SIGNATURE for MD5. tlskit/pki's defects cover SHA-1; MD5 certificates it cannot mint
 * (WebCrypto has no MD5), so the openssl CLI makes them (`md5SignedCerts()`), and OpenSSL tools at
 * security level 0 present them. A tlskit client must refuse a server whose certificate is signed
 * with MD5, and a tlskit server a client whose certificate is; a leaf that differs only in being
 * signed with SHA-256 is the control. `openssl verify` at level 2 (Node's) agrees.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { clientContext, createConnection, createServer, serverContext, type TlsVersion } from 'tlskit';
import { describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  md5SignedCerts,
  opensslClient,
  opensslServer,
  PEER_TIMEOUT,
  serversClosedAfterEach,
  withTimeout,
} from '../helpers/peers.js';

const md5 = md5SignedCerts();
const certs = opensslCerts();
const servers = serversClosedAfterEach();

/** Without it, the OpenSSL tools refuse to load an MD5-signed certificate ("ca md too weak"). */
const LEVEL_0 = ['-cipher', 'DEFAULT@SECLEVEL=0'];
const versions: Array<{ version: TlsVersion; flag: string }> = [
  { version: 'TLSv1.3', flag: '-tls1_3' },
  { version: 'TLSv1.2', flag: '-tls1_2' },
];

function connectTo(port: number) {
  return createConnection(() => ({}), {
    host: '127.0.0.1',
    port,
    tls: clientContext({ trust: md5.caPem }),
    serverName: 'localhost',
  });
}

it('openssl verify at security level 2 rejects the MD5 leaf (error 68) and accepts the SHA-256 one', async () => {
  const verify = (cert: string) =>
    promisify(execFile)('openssl', ['verify', '-auth_level', '2', '-CAfile', md5.ca, cert]).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
  expect(await verify(md5.md5Cert)).toMatch(
    /error 68 at 0 depth lookup: CA signature digest algorithm too weak/,
  );
  expect(await verify(md5.sha256Cert)).toMatch(/: OK\n/);
});

describe('a tlskit client and an openssl s_server presenting an MD5-signed certificate', () => {
  for (const { version, flag } of versions) {
    it(`control: accepts the same leaf signed with SHA-256 over ${version}`, async () => {
      const server = await opensslServer([flag, ...LEVEL_0], { cert: md5.sha256Cert, key: md5.key });
      const transport = await connectTo(server.port);
      expect(transport.info.tls?.protocol).toBe(version);
      expect(transport.info.tls?.peerCertificates[0]?.subject).toBe('CN=localhost');
      transport.abort();
    });

    it(`refuses the MD5-signed leaf over ${version} with WEAK_SIGNATURE at depth 0`, async () => {
      const server = await opensslServer([flag, ...LEVEL_0], { cert: md5.md5Cert, key: md5.key });
      const error = await connectTo(server.port).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: 'WEAK_SIGNATURE',
        depth: 0,
        subject: 'CN=localhost',
        opensslCode: 'CA_MD_TOO_WEAK',
      });
      expect((error as Error).message).toMatch(/signed with MD5 with RSA/);
      // The handshake had finished for s_server; tlskit's close came without an alert.
      await server.waitFor(/^ERROR$/m);
    });
  }
});

describe('a tlskit server and an openssl s_client presenting an MD5-signed client certificate', () => {
  /** A tlskit server requiring client certificates from the MD5 test CA; resolves its first handshake. */
  async function tlskitServer() {
    let outcome!: (result: Error | string) => void;
    const first = new Promise<Error | string>((resolve) => {
      outcome = resolve;
    });
    const server = await createServer(
      () => ({ connectionMade: (transport) => outcome(transport.info.tls!.protocol) }),
      {
        host: '127.0.0.1',
        port: 0,
        tls: serverContext({
          cert: certs.serverCertPem,
          key: certs.serverKeyPem,
          clientAuth: 'required',
          trust: md5.caPem,
        }),
        onHandshakeError: (error) => outcome(error),
      },
    );
    servers.push(server);
    return {
      port: server.address.port,
      first: () => withTimeout(first, PEER_TIMEOUT, () => 'no handshake reached the server'),
    };
  }

  for (const { version, flag } of versions) {
    it(`control: accepts the same client certificate signed with SHA-256 over ${version}`, async () => {
      const { port, first } = await tlskitServer();
      opensslClient(port, [flag, ...LEVEL_0, '-cert', md5.sha256Cert, '-key', md5.key]);
      expect(await first()).toBe(version);
    });

    it(`refuses the MD5-signed client certificate over ${version} with WEAK_SIGNATURE`, async () => {
      const { port, first } = await tlskitServer();
      const client = opensslClient(port, [flag, ...LEVEL_0, '-cert', md5.md5Cert, '-key', md5.key]);
      expect(await first()).toMatchObject({
        code: 'WEAK_SIGNATURE',
        depth: 0,
        subject: 'CN=localhost',
        opensslCode: 'CA_MD_TOO_WEAK',
      });
      expect((await client.waitForExit()).code).not.toBe(0);
    });
  }
});
