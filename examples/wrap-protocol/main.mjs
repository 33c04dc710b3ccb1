// @ts-check
/**
 * Story: wrap an existing protocol in TLS. The echo protocol from examples/echo runs unchanged:
 * over plain TCP first, then with `tls:` on both sides. Run: node examples/wrap-protocol/main.mjs
 */
import { pathToFileURL } from 'node:url';
import { clientContext, createConnection, createServer, serverContext } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';
import { echoProtocol } from '../echo/main.mjs';

/**
 * A client protocol that sends one line and reports what comes back.
 * @param {string} line
 * @returns {{ protocol: import('tlskit').Protocol, answer: Promise<string> }}
 */
function oneLine(line) {
  /** @type {(text: string) => void} */
  let resolve = () => {};
  const answer = new Promise((done) => {
    resolve = done;
  });
  let received = '';
  return {
    answer,
    protocol: {
      connectionMade: (transport) => transport.write(line),
      dataReceived(data) {
        received += Buffer.from(data).toString();
        if (received.endsWith('\n')) resolve(received.trim());
      },
    },
  };
}

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem } = await devCertificates();
  for (const secure of [false, true]) {
    // #region readme
    const server = await createServer(echoProtocol, {
      host: '127.0.0.1',
      port: 0,
      tls: secure ? serverContext({ cert: certPem, key: keyPem }) : undefined,
    });
    const client = oneLine('same protocol, same code\n');
    const transport = await createConnection(() => client.protocol, {
      host: '127.0.0.1',
      port: server.address.port,
      tls: secure ? clientContext({ trust: ca.trust }) : undefined,
      serverName: 'localhost',
    });
    log(`${transport.info.kind}: ${await client.answer}`);
    transport.close();
    await server.close();
    // #endregion readme
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
