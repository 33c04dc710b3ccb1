// @ts-check
/**
 * An HTTPS server on tlskit: HTTP/2 for clients that negotiate h2, HTTP/1.1 for the rest, the
 * same handler for both; fetch through tlskit's dispatcher and Node's http2 client as clients; a
 * graceful close that lets a slow request finish. Run: node examples/https/main.mjs
 */
import http2 from 'node:http2';
import { pathToFileURL } from 'node:url';
import { clientContext, connectionInfo, serveHttp, serverContext, tlsDispatcher } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem } = await devCertificates();
  /** @type {() => void} */
  let slowArrived = () => {};
  const arrived = new Promise((resolve) => {
    slowArrived = () => resolve(undefined);
  });
  /** @type {import('tlskit').HttpHandler} */
  const app = (request, response) => {
    const info = connectionInfo(request);
    const answer = `HTTP/${request.httpVersion} over ${info?.tls?.protocol} for ${request.url}`;
    if (request.url === '/slow') {
      slowArrived();
      setTimeout(() => response.end(answer), 200); // still running when the server closes
    } else response.end(answer);
  };
  // #region readme
  const tls = serverContext({ cert: certPem, key: keyPem }); // serveHttp adds ALPN h2, http/1.1
  const server = await serveHttp({ host: '127.0.0.1', port: 0, tls }, app);
  // #endregion readme
  const origin = `https://localhost:${server.address.port}`;

  // fetch, with tlskit's verification (trust, pins, CRLs, CertificateError codes).
  const dispatcher = tlsDispatcher(clientContext({ trust: ca.trust }));
  const fetched = await fetch(
    `${origin}/hello`,
    /** @type {RequestInit} */ (/** @type {unknown} */ ({ dispatcher })),
  );
  log(`fetch: ${await fetched.text()}`);

  // Node's http2 client negotiates h2 and gets the same handler.
  const session = http2.connect(origin, { ca: ca.certPem });
  const stream = session.request({ ':path': '/over-h2' });
  stream.setEncoding('utf8');
  let body = '';
  for await (const chunk of stream) body += chunk;
  log(`http2: ${body}`);
  session.close();

  // Closing lets the request in flight finish, with `Connection: close`.
  const slow = fetch(`${origin}/slow`, /** @type {RequestInit} */ (/** @type {unknown} */ ({ dispatcher })));
  await arrived;
  const closed = server.close({ timeout: 5000 });
  const reply = await slow;
  log(`during close: ${await reply.text()} (connection: ${reply.headers.get('connection')})`);
  const { requests } = await closed;
  log(`closed: ${requests.completed} request finished, ${requests.cut} cut`);
  await dispatcher.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
