// @ts-check
/**
 * Testing an HTTP app without a port: the app runs over TLS on an in-memory pair that delivers
 * bytes in random pieces (seeded, so a failure replays), and node:http's own client talks to it
 * through toDuplex. Run: node examples/http-testing/main.mjs
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { clientContext, httpProtocol, serverContext, startTls, toDuplex } from 'tlskit';
import { memoryPair } from 'tlskit/testing';
import { devCertificates } from '../dev-certs.mjs';

/** The app under test. @type {import('tlskit').HttpHandler} */
const app = (request, response) => {
  let size = 0;
  request.on('data', (/** @type {Buffer} */ chunk) => {
    size += chunk.length;
  });
  request.on('end', () => response.end(`${request.method} ${request.url}: ${size} bytes`));
};

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem } = await devCertificates();
  const [clientEnd, serverEnd] = memoryPair({ seed: 42, maxChunkSize: 100 });
  const [client] = await Promise.all([
    startTls(clientEnd, {
      context: clientContext({ trust: ca.trust, alpn: ['http/1.1'] }),
      serverName: 'localhost',
    }),
    // httpProtocol(app) is what serveHttp binds to each connection; any transport takes it.
    startTls(serverEnd, {
      context: serverContext({ cert: certPem, key: keyPem, alpn: ['http/1.1'] }),
      protocol: httpProtocol(app)(),
    }),
  ]);

  const answer = await new Promise((resolve, reject) => {
    const request = http.request(
      { method: 'POST', path: '/upload', host: 'localhost', createConnection: () => toDuplex(client) },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (/** @type {string} */ chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
      },
    );
    request.on('error', reject);
    request.end(Buffer.alloc(50_000, 1));
  });
  log(`over a memory pair in pieces of at most 100 bytes: ${answer}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
