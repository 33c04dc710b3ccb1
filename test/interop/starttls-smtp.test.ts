/**
 * STARTTLS with independent clients: `openssl s_client -starttls smtp` and `gnutls-cli
 * --starttls-proto smtp` each speak enough SMTP to upgrade (read the 220 greeting, send EHLO, look
 * for STARTTLS among the 250 capabilities, send STARTTLS, read the 220), then hand the connection to
 * TLS. The server is written here with tlskit's `Connection` API: plaintext lines, then
 * `connection.startTls()` mid-stream on the same TCP connection (the native engine path), then
 * lines over TLS.
 *
 * What the tools do, found by running them: s_client says `EHLO mail.example.com` unless `-name`
 * gives another name, gnutls-cli `EHLO <the host it connects to>`; neither repeats EHLO after the
 * handshake on its own (RFC 3207 expects the client to, so the test types it); both then pass stdin
 * through, s_client only with `-nocommands` (otherwise a line starting with Q, R or k is a command
 * to it, and QUIT would end the connection from the client's side).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connection, type ServerContext, serve, serverContext, type TlsInfo } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  gnutlsClient,
  gnutlsOnly,
  opensslClient,
  PEER_TIMEOUT,
  type Peer,
  serversClosedAfterEach,
  withTimeout,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();

/** What the server saw of its one SMTP session. */
interface Session {
  /** Client lines, in order, each marked with whether TLS protected it. */
  lines: string[];
  tls: TlsInfo | null;
  /** How the handler ended: the error it threw (a failed upgrade), or `null`. */
  outcome: Error | null;
}

/** A minimal SMTP-like server: EHLO, STARTTLS, NOOP and QUIT, one session recorded. */
async function smtpServer(tls: ServerContext) {
  const session: Session = { lines: [], tls: null, outcome: null };
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const handle = async (connection: Connection) => {
    const reply = (text: string) => connection.write(`${text}\r\n`);
    await reply('220 smtp.test ESMTP tlskit');
    for (let line = await connection.readLine(); line !== null; line = await connection.readLine()) {
      const secure = connection.info.kind === 'tls';
      session.lines.push(`${secure ? 'tls' : 'plain'}: ${line}`);
      const command = line.toUpperCase();
      if (command.startsWith('EHLO ')) {
        // Over TLS, STARTTLS is no longer offered (RFC 3207, 4.2).
        await reply(secure ? '250-smtp.test over TLS\r\n250 SIZE 10240' : '250-smtp.test\r\n250 STARTTLS');
      } else if (command === 'STARTTLS' && !secure) {
        await reply('220 2.0.0 Ready to start TLS');
        await connection.startTls({ context: tls });
        session.tls = connection.info.tls ?? null;
      } else if (command === 'NOOP') {
        await reply(`250 2.0.0 OK, ${connection.info.tls?.protocol ?? 'plaintext'}`);
      } else if (command === 'QUIT') {
        await reply('221 2.0.0 Bye');
        return; // serve() then closes the connection: close_notify over TLS
      } else {
        await reply('502 5.5.2 Command not recognised');
      }
    }
  };
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      onError: (error) => {
        session.outcome = error instanceof Error ? error : new Error(String(error));
        finished();
      },
    },
    (connection) => Promise.resolve(handle(connection)).then(finished),
  );
  servers.push(server);
  return {
    port: server.address.port,
    session,
    finished: () => withTimeout(done, PEER_TIMEOUT, () => 'the SMTP session did not finish'),
  };
}

/** s_client's STARTTLS dialogue with a known EHLO name, CRLF line ends, and stdin passed through. */
const starttlsSmtp = ['-starttls', 'smtp', '-name', 'client.test', '-crlf', '-nocommands'];
const smtpTls = () => serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem });

/** After the upgrade: EHLO again, a NOOP that reports the TLS version, then QUIT. */
async function speakOverTls(client: Peer, version: string): Promise<void> {
  client.send('EHLO client.test\n');
  await client.waitFor(/250-smtp\.test over TLS\r?\n250 SIZE 10240\r?\n/);
  client.send('NOOP\n');
  await client.waitFor(new RegExp(`250 2\\.0\\.0 OK, ${version.replace('.', '\\.')}\\r?\\n`));
  client.send('QUIT\n');
  await client.waitFor(/221 2\.0\.0 Bye\r?\n/);
}

describe('STARTTLS (SMTP) with openssl s_client -starttls smtp', () => {
  for (const [version, flag] of [
    ['TLSv1.3', '-tls1_3'],
    ['TLSv1.2', '-tls1_2'],
  ] as const) {
    it(`upgrades mid-stream to ${version}: s_client verifies the server, a command and its reply round-trip over TLS, and QUIT ends cleanly`, async () => {
      const { port, session, finished } = await smtpServer(smtpTls());
      const client = opensslClient(port, [...starttlsSmtp, flag]);
      await client.waitFor(/^\s*Verify return code: 0 \(ok\)$/m);
      await client.waitFor(new RegExp(`^New, ${version.replace('.', '\\.')}, Cipher is `, 'm'));

      await speakOverTls(client, version);
      await finished();

      expect(session.outcome).toBeNull();
      expect(session.tls?.protocol).toBe(version);
      expect(session.lines).toEqual([
        'plain: EHLO client.test',
        'plain: STARTTLS',
        'tls: EHLO client.test',
        'tls: NOOP',
        'tls: QUIT',
      ]);
      // The server's close_notify after QUIT: s_client reports a clean end and exits 0.
      await client.waitFor(/^closed$/m);
      expect(await client.waitForExit()).toEqual({ code: 0, signal: null });
    });
  }
});

describe('STARTTLS (SMTP) with gnutls-cli --starttls-proto smtp', () => {
  for (const [version, priority] of [
    ['TLSv1.3', gnutlsOnly('1.3')],
    ['TLSv1.2', gnutlsOnly('1.2')],
  ] as const) {
    it(`upgrades mid-stream to ${version}: gnutls-cli trusts the server, a command and its reply round-trip over TLS, and QUIT ends cleanly`, async () => {
      const { port, session, finished } = await smtpServer(smtpTls());
      const client = gnutlsClient(port, ['--starttls-proto', 'smtp', '--crlf', priority]);
      await client.waitFor(/^- Status: The certificate is trusted\./m);
      await client.waitFor(/^- Simple Client Mode:/m);

      await speakOverTls(client, version);
      await finished();

      expect(session.outcome).toBeNull();
      expect(session.tls?.protocol).toBe(version);
      expect(session.lines[0]).toMatch(/^plain: EHLO \S+$/); // the host name it was given
      expect(session.lines.slice(1)).toEqual([
        'plain: STARTTLS',
        'tls: EHLO client.test',
        'tls: NOOP',
        'tls: QUIT',
      ]);
      expect((await client.waitForExit()).code).toBe(0);
    });
  }
});

/**
 * Node #13368: a TLSSocket made server-side over an existing socket did no certificate checking,
 * which is exactly what a STARTTLS upgrade is. tlskit verifies the client's chain itself.
 */
describe('a STARTTLS upgrade verifies client certificates (Node #13368)', () => {
  async function strangerCertificate() {
    const stranger = await (await createCA({ subject: 'stranger CA' })).issue({
      subject: 'stranger',
      usage: 'client',
    });
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-starttls-'));
    writeFileSync(join(dir, 'cert.pem'), stranger.certPem);
    writeFileSync(join(dir, 'key.pem'), stranger.keyPem);
    return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  }
  const mtls = () =>
    serverContext({
      cert: certs.serverCertPem,
      key: certs.serverKeyPem,
      clientAuth: 'required',
      trust: certs.caPem,
    });

  it('accepts s_client -starttls smtp with a client certificate from the trusted CA', async () => {
    const { port, session } = await smtpServer(mtls());
    const client = opensslClient(port, [
      ...starttlsSmtp,
      '-cert',
      certs.paths.clientCert,
      '-key',
      certs.paths.clientKey,
    ]);
    await client.waitFor(/^\s*Verify return code: 0 \(ok\)$/m);
    client.send('NOOP\n');
    await client.waitFor(/250 2\.0\.0 OK, TLSv1\.3\r?\n/);
    expect(session.tls?.peerCertificates[0]?.subject).toBe('CN=test client');
  });

  for (const [version, flag] of [
    ['TLSv1.3', '-tls1_3'],
    ['TLSv1.2', '-tls1_2'],
  ] as const) {
    // s_client finishes its side of the handshake ("Verify return code: 0 (ok)") before tlskit
    // judges its certificate; then the connection closes without an alert (see the README), and
    // s_client exits with status 1 (over TLS 1.3 after "unexpected eof while reading").
    it(`rejects s_client -starttls smtp over ${version} presenting a certificate from an untrusted CA (UNKNOWN_ISSUER); nothing it sends is heard`, async () => {
      const stranger = await strangerCertificate();
      const { port, session, finished } = await smtpServer(mtls());
      const client = opensslClient(port, [
        ...starttlsSmtp,
        flag,
        '-cert',
        stranger.cert,
        '-key',
        stranger.key,
      ]);
      await finished();
      expect(session.outcome).toMatchObject({ code: 'UNKNOWN_ISSUER', depth: 0, subject: 'CN=stranger' });
      expect(session.tls).toBeNull();
      client.send('NOOP\n');
      expect((await client.waitForExit()).code).not.toBe(0);
      expect(client.output).not.toMatch(/250 2\.0\.0 OK/);
      expect(session.lines).toEqual(['plain: EHLO client.test', 'plain: STARTTLS']);
    });
  }
});
