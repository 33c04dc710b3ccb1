// @ts-check
/**
 * Mutual TLS: the server requires a client certificate from its CA and greets the client by name;
 * a client without one is refused. Run: node examples/mtls/main.mjs
 */
import { pathToFileURL } from 'node:url';
import { clientContext, connect, serve, serverContext } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem } = await devCertificates();
  const alice = await ca.issue({ subject: 'alice', usage: 'client' });

  const tls = serverContext({ cert: certPem, key: keyPem, clientAuth: 'required', trust: ca.trust });
  const server = await serve({ host: '127.0.0.1', port: 0, tls }, async (connection) => {
    const client = connection.info.tls?.peerCertificates[0]?.subject;
    await connection.write(`hello ${client}\n`);
  });
  const address = { host: '127.0.0.1', port: server.address.port, serverName: 'localhost' };

  const withCertificate = await connect({ ...address, tls: alice.clientContext({ trust: ca.trust }) });
  log(`with a certificate: ${await withCertificate.readLine()}`);
  await withCertificate.close();

  const anonymous = await connect({ ...address, tls: clientContext({ trust: ca.trust }) });
  // TLS 1.3 lets the client finish its handshake before the server judges it: the refusal
  // arrives as the certificate_required alert on the first read.
  const refusal = await anonymous.readLine().then(
    (line) => `read ${line}`,
    (/** @type {import('tlskit').TlsError} */ error) => `${error.code} (${error.alert})`,
  );
  log(`without one: ${refusal}`);
  await anonymous.close();

  await server.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
