// @ts-check
/**
 * Handshake loop for instruction counts: server and client in this one process, `count`
 * handshakes, four at a time, each with the server's one-byte greeting and close_notify both ways
 * (as bench/handshake.mjs does across two processes). Run under callgrind by bench/instructions.mjs;
 * nothing here measures time.
 *
 * node bench/handshake-loop.mjs <raw|tlskit> <pki.json> <TLSv1.3|TLSv1.2> <full|resumed> <count>
 */
import tls from 'node:tls';
import { clientContext, createConnection, createServer, serverContext } from 'tlskit';
import { loadPki, rawHandshake } from './common.mjs';

const [impl, pkiFile, version, kind, countArg] = process.argv.slice(2);
const credentials = loadPki(/** @type {string} */ (pkiFile)).ecdsa;
const maxVersion = /** @type {'TLSv1.3' | 'TLSv1.2'} */ (version);
const resumed = kind === 'resumed';

/** @returns {Promise<{ port: number, close: () => unknown }>} */
async function listen() {
  if (impl === 'raw') {
    const listener = tls.createServer(
      { cert: credentials.certPem, key: credentials.keyPem, maxVersion },
      (socket) => {
        socket.on('error', () => {});
        socket.write('x', () => setImmediate(() => socket.end()));
      },
    );
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    const { port } = /** @type {import('node:net').AddressInfo} */ (listener.address());
    return { port, close: () => listener.close() };
  }
  const context = serverContext({ cert: credentials.certPem, key: credentials.keyPem, maxVersion });
  const server = await createServer(
    () => ({
      /** @param {import('tlskit').Transport} transport */
      connectionMade: (transport) => {
        transport.write('x');
        transport.close();
      },
    }),
    { host: '127.0.0.1', port: 0, tls: context },
  );
  return { port: server.address.port, close: () => server.close() };
}

const { port, close } = await listen();
const rawContext = tls.createSecureContext({ ca: credentials.caPem, maxVersion });
const context = clientContext({ trust: credentials.caPem, maxVersion, sessionCache: resumed });

const tlskitOnce = () =>
  new Promise((resolve, reject) => {
    createConnection(() => ({ connectionLost: () => resolve(undefined) }), {
      host: '127.0.0.1',
      port,
      tls: context,
      serverName: 'localhost',
    }).catch(reject);
  });

let left = Number(countArg);
await Promise.all(
  Array.from({ length: 4 }, async () => {
    /** @type {{ session?: Buffer }} */
    const state = {};
    while (left-- > 0)
      await (impl === 'raw' ? rawHandshake(port, rawContext, resumed ? state : null) : tlskitOnce());
  }),
);
await close();
