// @ts-check
/**
 * HTTPS worker: `serveHttp` against `https.createServer`, same certificate (ECDSA P-256), same
 * handler (a 2-byte body). The client is the same for both servers and runs in its own process:
 *
 * - keepalive: 32 concurrent loops of small GETs over kept-alive HTTP/1.1 connections (an
 *   https.Agent with keepAlive); the rate is requests per second.
 * - handshakes: 16 concurrent loops, each a new TLS connection with one GET and
 *   `Connection: close`; the rate is connections per second.
 *
 * The server reports its CPU time per request or connection: on a shared machine that moves
 * much less than the rates do.
 *
 * node bench/http.mjs <server|client> <raw|tlskit> <pki.json> <keepalive|handshakes> <seconds> [port]
 */
import https from 'node:https';
import { serveHttp, serverContext } from 'tlskit';
import { answerCpu, cpuNow, loadPki, report } from './common.mjs';

const [role, impl, pkiFile, mode, secondsArg, portArg] = process.argv.slice(2);
const credentials = loadPki(/** @type {string} */ (pkiFile)).ecdsa;

let requests = 0;
let cpuStart = 0;
/** @type {import('node:http').RequestListener} */
const handler = (_request, response) => {
  if (requests++ === 0) cpuStart = cpuNow();
  response.end('ok');
};

async function server() {
  // CPU per request for keepalive; per connection (one request each) for handshakes.
  answerCpu(
    () => cpuStart,
    () => requests,
  );
  if (impl === 'raw') {
    const listener = https.createServer({ cert: credentials.certPem, key: credentials.keyPem }, handler);
    listener.on('tlsClientError', () => {});
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    report({ port: /** @type {import('node:net').AddressInfo} */ (listener.address()).port });
    return;
  }
  const context = serverContext({ cert: credentials.certPem, key: credentials.keyPem });
  const listener = await serveHttp({ host: '127.0.0.1', port: 0, tls: context }, handler);
  report({ port: listener.address.port });
}

/** One GET; resolves once the response body has been read. */
function get(/** @type {number} */ port, /** @type {https.Agent} */ agent, /** @type {boolean} */ close) {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        path: '/',
        agent,
        ca: credentials.caPem,
        headers: close ? { connection: 'close' } : {},
      },
      (response) => {
        response.on('data', () => {});
        response.on('end', () => resolve(undefined));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

async function client(/** @type {number} */ port) {
  const seconds = Number(secondsArg);
  const keepAlive = mode === 'keepalive';
  const concurrency = keepAlive ? 32 : 16;
  const agent = new https.Agent({ keepAlive, maxSockets: concurrency, maxCachedSessions: 0 });
  let counting = false;
  let stop = false;
  let count = 0;
  const loop = async () => {
    while (!stop) {
      await get(port, agent, !keepAlive);
      if (counting) count++;
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((resolve) => setTimeout(resolve, Math.min(1000, seconds * 300))); // warm-up
  counting = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = performance.now() - start;
  counting = false;
  const measured = count;
  stop = true;
  await Promise.allSettled(loops);
  agent.destroy();
  report({ rate: (measured / elapsed) * 1000, cpu: 0 });
}

if (role === 'server') await server();
else await client(Number(portArg));
