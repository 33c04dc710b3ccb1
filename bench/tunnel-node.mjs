// @ts-check
/**
 * The least a Node TLS terminator can do, for bench/tunnel.mjs: tls.createServer piping each
 * connection to a plain socket with stream.pipe, nothing else. It shows what Node itself costs
 * next to stunnel4, so tlskit tunnel's own cost can be told from Node's.
 *
 * node bench/tunnel-node.mjs <port> <sinkPort> <cert.pem> <key.pem>
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [port, sinkPort, cert, key] = process.argv.slice(2);
const server = tls.createServer(
  { cert: readFileSync(/** @type {string} */ (cert)), key: readFileSync(/** @type {string} */ (key)) },
  (socket) => {
    const backend = net.connect(Number(sinkPort), '127.0.0.1');
    socket.pipe(backend).pipe(socket);
    socket.on('error', () => backend.destroy());
    backend.on('error', () => socket.destroy());
  },
);
server.on('tlsClientError', () => {});
server.listen(Number(port), '127.0.0.1');
