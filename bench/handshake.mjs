// @ts-check
/**
 * Handshake-rate worker. The server greets each client with one byte and closes (with close_notify,
 * on both sides); 16 client loops
 * connect, read until the server's close (so TLS 1.3 session tickets, which come before it, have
 * arrived), close, and start over. The client counts completed handshakes for `seconds` after a
 * short warm-up. Both sides also report their CPU time per handshake.
 *
 * node bench/handshake.mjs <server|client> <raw|tlskit> <pki.json> <ecdsa|rsa> <TLSv1.3|TLSv1.2> <full|resumed> <seconds> [port]
 */
import tls from 'node:tls';
import { clientContext, createConnection, createServer, serverContext } from 'tlskit';
import { answerCpu, cpuNow, loadPki, rawHandshake, report } from './common.mjs';

const [role, impl, pkiFile, key, version, kind, secondsArg, portArg] = process.argv.slice(2);
const credentials = loadPki(/** @type {string} */ (pkiFile))[/** @type {'ecdsa' | 'rsa'} */ (key)];
const maxVersion = /** @type {'TLSv1.3' | 'TLSv1.2'} */ (version);
const resumed = kind === 'resumed';
const CONCURRENCY = 16;

/** The server's CPU per connection, counted from its first connection. */
let connections = 0;
let cpuStart = 0;
const accepted = () => {
  if (connections++ === 0) cpuStart = cpuNow();
};

async function server() {
  answerCpu(
    () => cpuStart,
    () => connections,
  );
  if (impl === 'raw') {
    const listener = tls.createServer(
      { cert: credentials.certPem, key: credentials.keyPem, maxVersion },
      (socket) => {
        accepted();
        socket.on('error', () => {});
        // Not end('x'): Node then sends the FIN before the close_notify, which is lost, and the
        // client sees a truncated stream. Waiting for the write and a turn is what tlskit does.
        socket.write('x', () => setImmediate(() => socket.end()));
      },
    );
    listener.on('tlsClientError', () => {});
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    report({ port: /** @type {import('node:net').AddressInfo} */ (listener.address()).port });
    return;
  }
  const context = serverContext({ cert: credentials.certPem, key: credentials.keyPem, maxVersion });
  const listener = await createServer(
    () => ({
      /** @param {import('tlskit').Transport} transport */
      connectionMade: (transport) => {
        accepted();
        transport.write('x');
        transport.close();
      },
    }),
    { host: '127.0.0.1', port: 0, tls: context },
  );
  report({ port: listener.address.port });
}

/** The raw client builds its context once, as tlskit does: context creation is not the point. */
const rawClientContext = tls.createSecureContext({ ca: credentials.caPem, maxVersion });

async function client(/** @type {number} */ port) {
  const seconds = Number(secondsArg);
  const context = clientContext({ trust: credentials.caPem, maxVersion, sessionCache: resumed });
  /** One handshake with tlskit; resolves once the greeting arrived. */
  const tlskitOnce = () =>
    new Promise((resolve, reject) => {
      /** @type {boolean | undefined} */
      let reused;
      createConnection(
        () => ({
          /** @param {import('tlskit').Transport} transport */
          connectionMade: (transport) => {
            reused = transport.info.tls?.resumed;
          },
          // eofReceived is left out: the server's close_notify closes our side too, by default.
          connectionLost: () => resolve(reused),
        }),
        { host: '127.0.0.1', port, tls: context, serverName: 'localhost' },
      ).catch(reject);
    });
  let counting = false;
  let count = 0;
  let reusedCount = 0;
  let stop = false;
  // Warm-up: a while, and until every loop finished a handshake (so it holds a session to resume).
  let warm = 0;
  /** @type {() => void} */
  let allWarm = () => {};
  const warmedUp = new Promise((resolve) => {
    allWarm = () => resolve(undefined);
  });
  const loop = async () => {
    /** @type {{ session?: Buffer }} */
    const state = {};
    let first = true;
    while (!stop) {
      const reused =
        impl === 'raw'
          ? await rawHandshake(port, rawClientContext, resumed ? state : null)
          : await tlskitOnce();
      if (counting) {
        count++;
        if (reused) reusedCount++;
      }
      if (first && ++warm === CONCURRENCY) allWarm();
      first = false;
    }
  };
  const loops = Array.from({ length: CONCURRENCY }, loop);
  await Promise.all([warmedUp, new Promise((resolve) => setTimeout(resolve, Math.min(1000, seconds * 300)))]);
  counting = true;
  const start = performance.now();
  const startCpu = cpuNow();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = performance.now() - start;
  const cpu = (cpuNow() - startCpu) / count;
  counting = false;
  stop = true;
  await Promise.all(loops);
  report({ rate: (count / elapsed) * 1000, reusedShare: count ? reusedCount / count : 0, cpu });
}

if (role === 'server') await server();
else await client(Number(portArg));
