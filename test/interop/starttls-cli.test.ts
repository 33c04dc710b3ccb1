/**
 * The tlskit command's STARTTLS servers (offerStartTls) against the independent client issue 11
 * names: `openssl s_client -starttls <protocol>`, for all six protocols. A tiny tlskit server on
 * loopback offers STARTTLS, upgrades with Connection.startTls, and echoes a line over TLS; s_client
 * must verify the chain and the name (-verify_return_error) and see the echo.
 *
 * What s_client does, per protocol: smtp reads the 220 and sends EHLO (the -name), then STARTTLS;
 * imap sends ". CAPABILITY" and ". STARTTLS"; pop3 sends STLS; ftp sends AUTH TLS; xmpp opens a
 * stream to -xmpphost and sends <starttls/>; postgres sends SSLRequest. With -nocommands it passes
 * stdin through unchanged after the handshake.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { offerStartTls, STARTTLS_PROTOCOLS, type StartTlsProtocol } from '../../src/cli/starttls.js';
import { type Connection, type Server, serve, serverContext, type TcpAddress } from '../../src/index.js';
import { opensslCerts } from '../helpers/openssl-certs.js';
import { killPeers, opensslClient, PEER_TIMEOUT, withTimeout } from '../helpers/peers.js';

const certs = opensslCerts();
const servers: Server<TcpAddress>[] = [];
afterEach(async () => {
  await killPeers();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Offers STARTTLS, upgrades, echoes one line over TLS; `outcome` settles with the handler. */
async function starttlsEchoServer(protocol: StartTlsProtocol) {
  const context = serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem });
  let settle!: (outcome: { error: unknown; protocol?: string }) => void;
  const outcome = new Promise<{ error: unknown; protocol?: string }>((resolve) => {
    settle = resolve;
  });
  const handle = async (connection: Connection) => {
    await offerStartTls(protocol, connection, { hostname: 'localhost', timeout: PEER_TIMEOUT });
    await connection.startTls({ context });
    const line = await connection.readLine({ timeout: PEER_TIMEOUT });
    await connection.write(`echo ${line}\r\n`);
    settle({ error: null, protocol: connection.info.tls?.protocol });
  };
  const server = await serve(
    { host: '127.0.0.1', port: 0, onError: (error) => settle({ error }) },
    (connection) => handle(connection),
  );
  servers.push(server);
  return { port: server.address.port, outcome: () => withTimeout(outcome, PEER_TIMEOUT, () => 'no echo') };
}

const EXTRA: Record<StartTlsProtocol, string[]> = {
  smtp: ['-name', 'client.test'],
  imap: [],
  pop3: [],
  ftp: [],
  xmpp: ['-xmpphost', 'localhost'],
  postgres: [],
};

describe('offerStartTls with openssl s_client -starttls', () => {
  for (const protocol of STARTTLS_PROTOCOLS) {
    it(`${protocol}: s_client upgrades, verifies the chain and name, and a line round-trips over TLS`, async () => {
      const { port, outcome } = await starttlsEchoServer(protocol);
      const client = opensslClient(port, ['-starttls', protocol, ...EXTRA[protocol], '-crlf', '-nocommands']);
      await client.waitFor(/^\s*Verify return code: 0 \(ok\)$/m);
      client.send('hello over tls\n');
      // Received data can land inside a line of s_client's own messages: match text and newline.
      await client.waitFor(/echo hello over tls\r?\n/);
      const result = await outcome();
      expect(result.error).toBeNull();
      expect(result.protocol).toMatch(/^TLSv1\.[23]$/);
    });
  }
});
