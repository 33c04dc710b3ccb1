// @ts-check
/**
 * Story: upgrade with STARTTLS. An SMTP-like line protocol that starts in plaintext and switches
 * to TLS on command. The server is a callback protocol; the client uses the async Connection.
 * Run: node examples/starttls/main.mjs
 */
import { pathToFileURL } from 'node:url';
import { clientContext, connect, createServer, serverContext, startTls } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';

/**
 * The server side: one protocol object for the whole connection, plaintext and then TLS.
 * @param {import('tlskit').ServerContext} tls
 * @returns {import('tlskit').Protocol}
 */
function smtpLikeServer(tls) {
  /** @type {import('tlskit').Transport} */
  let transport;
  let buffer = '';
  const reply = (/** @type {string} */ line) => transport.write(`${line}\r\n`);
  return {
    connectionMade(t) {
      const upgraded = transport !== undefined;
      transport = t; // called again with the TLS transport after the upgrade
      if (!upgraded) reply('220 smtp.example ESMTP tlskit');
    },
    dataReceived(data) {
      buffer += Buffer.from(data).toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const command = buffer.slice(0, end).toUpperCase();
        buffer = buffer.slice(end + 2);
        const secure = transport.info.kind === 'tls';
        if (command.startsWith('EHLO'))
          reply(secure ? '250 hello, over TLS' : '250-smtp.example\r\n250 STARTTLS');
        else if (command === 'QUIT') {
          reply('221 bye');
          transport.close();
        } else if (command === 'STARTTLS' && !secure) {
          reply('220 ready to start TLS');
          // #region readme-server
          // Bytes the client sent behind STARTTLS must not be read as if TLS had protected them:
          // startTls refuses them (ERR_STARTTLS_PENDING_PLAINTEXT) and the connection is closed.
          const unconsumed = Buffer.from(buffer, 'latin1');
          buffer = '';
          startTls(transport, { context: tls, unconsumed }).catch(() => transport.abort());
          // #endregion readme-server
          return;
        } else reply('502 command not recognised');
      }
    },
  };
}

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem } = await devCertificates();
  const server = await createServer(() => smtpLikeServer(serverContext({ cert: certPem, key: keyPem })), {
    host: '127.0.0.1',
    port: 0,
  });

  // #region readme-client
  const conn = await connect({ host: '127.0.0.1', port: server.address.port });
  log(`S: ${await conn.readLine()}`);
  await conn.write('STARTTLS\r\n');
  log(`S: ${await conn.readLine()}`);
  await conn.startTls({ context: clientContext({ trust: ca.trust }), serverName: 'localhost' });
  await conn.write('EHLO client.example\r\n');
  log(`S: ${await conn.readLine()} (${conn.info.tls?.protocol})`);
  await conn.write('QUIT\r\n');
  log(`S: ${await conn.readLine()}`);
  await conn.close();
  // #endregion readme-client

  await server.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
