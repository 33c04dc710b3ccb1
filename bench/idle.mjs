// @ts-check
/**
 * Memory per idle TLS connection. The server measures its RSS and heap with no connections, then
 * again once `count` clients completed their handshakes and went quiet. Clients are raw node:tls
 * in their own processes, each bound to its own 127.0.0.x address, so only the server differs.
 *
 * node --expose-gc bench/idle.mjs server <raw|tlskit> <pki.json> <count>
 * node bench/idle.mjs client <pki.json> <count> <port> <local address>
 */
import net from 'node:net';
import tls from 'node:tls';
import { createServer, serverContext } from 'tlskit';
import { cpuNow, fromParent, loadPki, report } from './common.mjs';

const role = process.argv[2];

function usage() {
  const gc = /** @type {() => void} */ (globalThis.gc);
  for (let i = 0; i < 3; i++) gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function server() {
  const [, , , impl, pkiFile, countArg] = process.argv;
  const { ecdsa } = loadPki(/** @type {string} */ (pkiFile));
  const count = Number(countArg);
  let established = 0;
  let port;
  if (impl === 'raw') {
    const listener = tls.createServer({ cert: ecdsa.certPem, key: ecdsa.keyPem }, (socket) => {
      established++;
      socket.on('error', () => {});
    });
    listener.on('tlsClientError', () => {});
    await new Promise((resolve) =>
      listener.listen({ port: 0, host: '0.0.0.0', backlog: 4096 }, () => resolve(undefined)),
    );
    port = /** @type {import('node:net').AddressInfo} */ (listener.address()).port;
  } else {
    const listener = await createServer(
      () => ({
        connectionMade: () => {
          established++;
        },
      }),
      {
        host: '0.0.0.0',
        port: 0,
        backlog: 4096,
        tls: serverContext({ cert: ecdsa.certPem, key: ecdsa.keyPem }),
      },
    );
    port = listener.address.port;
  }
  // The baseline is the listening server; what the connections add is what they cost.
  const before = usage();
  const cpuBefore = cpuNow();
  report({ port });
  await fromParent();
  const deadline = Date.now() + 120_000;
  while (established < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  // Before usage(): its forced collections are the benchmark's, not the connections' cost.
  const cpuPerConnection = (cpuNow() - cpuBefore) / established;
  const after = usage();
  report({
    established,
    rssPerConnection: (after.rss - before.rss) / established,
    heapPerConnection: (after.heapUsed - before.heapUsed) / established,
    cpuPerConnection,
  });
}

async function client() {
  const [, , , pkiFile, countArg, portArg, localAddress] = process.argv;
  const { ecdsa } = loadPki(/** @type {string} */ (pkiFile));
  const count = Number(countArg);
  const port = Number(portArg);
  const sockets = [];
  let next = 0;
  const open = () =>
    new Promise((resolve, reject) => {
      const tcp = net.connect({ host: '127.0.0.1', port, localAddress });
      const socket = tls.connect({ socket: tcp, ca: ecdsa.caPem, servername: 'localhost' });
      socket.once('secureConnect', () => resolve(undefined));
      socket.once('error', reject);
      sockets.push(socket);
    });
  const worker = async () => {
    while (next < count) {
      next++;
      await open();
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  report({ opened: sockets.length });
  await fromParent();
}

if (role === 'server') await server();
else await client();
