// @ts-check
/**
 * Story: build a TLS server. A TLS echo server and a client to talk to it; this is the demo that
 * `npm run demo` runs. Run: node examples/tls-echo/main.mjs
 */
import { pathToFileURL } from 'node:url';
import { clientContext, connect, serve, serverContext } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem, source } = await devCertificates();
  log(`certificates: ${source}`);

  // #region readme
  const tls = serverContext({ cert: certPem, key: keyPem });
  const server = await serve({ host: '127.0.0.1', port: 0, tls }, async (connection) => {
    for await (const chunk of connection) await connection.write(chunk);
  });

  const trusted = clientContext({ trust: ca.trust });
  const conn = await connect({
    host: '127.0.0.1',
    port: server.address.port,
    tls: trusted,
    serverName: 'localhost',
  });
  await conn.write('hello over TLS\n');
  log(`echoed: ${await conn.readLine()}`);
  log(
    `${conn.info.tls?.protocol} ${conn.info.tls?.cipher}, server ${conn.info.tls?.peerCertificates[0]?.subject}`,
  );
  await conn.close();
  await server.close();
  // #endregion readme
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
