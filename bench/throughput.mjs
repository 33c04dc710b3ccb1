// @ts-check
/**
 * Bulk throughput worker: one side sends `bytes` in 64 KiB writes, the other counts them and
 * reports MB/s from the first byte to the last. Roles run in separate processes, except for the
 * one-process scenario.
 *
 * node bench/throughput.mjs <server|client|both> <scenario> <raw|tlskit> <pki.json> <bytes> [port]
 * scenarios: tcp, tls-in-tls, pure-js (tlskit; its raw baseline is tcp), shim (raw node:tls over the
 * same pure-JS relay: Node's own stream shim, for reference), one-process
 *
 * Besides MB/s, each side reports its CPU time per MiB (user + system), which a busy machine
 * disturbs far less than wall-clock rates.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { clientContext, createConnection, createServer, fromDuplex, serverContext, startTls } from 'tlskit';
import { memoryPair } from 'tlskit/testing';
import { answerCpu, CHUNK, cpuNow, loadPki, report } from './common.mjs';

const [role, scenario, impl, pkiFile, bytesArg, portArg] = process.argv.slice(2);
const total = Number(bytesArg);
const { ecdsa } = loadPki(/** @type {string} */ (pkiFile));
const raw = {
  server: { cert: ecdsa.certPem, key: ecdsa.keyPem },
  client: { ca: ecdsa.caPem, servername: 'localhost' },
};
const MiB = 1024 * 1024;

const contexts = () => ({
  server: serverContext({ cert: ecdsa.certPem, key: ecdsa.keyPem }),
  client: clientContext({ trust: ecdsa.caPem }),
});

/** Counts bytes until `total`, then reports the rate. */
function counter() {
  let received = 0;
  let start = 0;
  let cpuStart = 0;
  /** @type {(value: { mbps: number, cpu: number }) => void} */
  let done = () => {};
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  return {
    finished,
    /** @param {{ length: number }} chunk */
    add(chunk) {
      if (received === 0) {
        start = performance.now();
        cpuStart = cpuNow();
      }
      received += chunk.length;
      if (received >= total)
        done({
          mbps: ((total / (performance.now() - start)) * 1e3) / 1e6,
          cpu: (cpuNow() - cpuStart) / (total / MiB),
        });
    },
  };
}

/** A plain JavaScript Duplex relaying a TCP socket: no native stream visible to whoever uses it. */
function relay(/** @type {net.Socket} */ socket) {
  const duplex = new Duplex({
    readableHighWaterMark: 64 * 1024,
    writableHighWaterMark: 64 * 1024,
    read: () => socket.resume(),
    write: (chunk, _encoding, callback) => socket.write(chunk, callback),
    final: (callback) => socket.end(callback),
    destroy: (error, callback) => {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  return duplex;
}

/** Sends `total` bytes over a raw TLS socket, honouring 'drain'. @param {tls.TLSSocket} socket */
function rawSend(socket) {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += CHUNK.length;
      if (!socket.write(CHUNK)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/** A tlskit protocol that sends `total` bytes, honouring pauseWriting. @returns {import('tlskit').Protocol} */
function sender() {
  /** @type {import('tlskit').Transport} */
  let transport;
  let sent = 0;
  let paused = false;
  const pump = () => {
    while (sent < total && !paused) {
      transport.write(CHUNK);
      sent += CHUNK.length;
    }
  };
  return {
    connectionMade(t) {
      transport = t;
      pump();
    },
    pauseWriting: () => {
      paused = true;
    },
    resumeWriting() {
      paused = false;
      pump();
    },
  };
}

/** A tlskit protocol that counts. @param {ReturnType<typeof counter>} count @returns {import('tlskit').Protocol} */
const receiver = (count) => ({ dataReceived: (data) => count.add(data) });

async function server() {
  const count = counter();
  let port;
  if (impl === 'raw' && scenario === 'shim') {
    const secureContext = tls.createSecureContext(raw.server);
    const listener = net.createServer((socket) => {
      const secured = new tls.TLSSocket(relay(socket), { isServer: true, secureContext });
      secured.on('data', (chunk) => count.add(chunk));
    });
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    port = /** @type {net.AddressInfo} */ (listener.address()).port;
  } else if (impl === 'raw') {
    const listener =
      scenario === 'tls-in-tls'
        ? tls.createServer(raw.server, (outer) => {
            const inner = new tls.TLSSocket(outer, {
              isServer: true,
              secureContext: tls.createSecureContext(raw.server),
            });
            inner.on('data', (chunk) => count.add(chunk));
          })
        : tls.createServer(raw.server, (socket) => socket.on('data', (chunk) => count.add(chunk)));
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    port = /** @type {net.AddressInfo} */ (listener.address()).port;
  } else if (scenario === 'pure-js') {
    const { server: context } = contexts();
    const listener = net.createServer(async (socket) => {
      const secured = await startTls(fromDuplex(relay(socket)), { context });
      secured.setProtocol(receiver(count));
    });
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    port = /** @type {net.AddressInfo} */ (listener.address()).port;
  } else {
    const { server: context } = contexts();
    const factory =
      scenario === 'tls-in-tls'
        ? () => ({
            /** @param {import('tlskit').Transport} outer */
            connectionMade: (outer) => {
              if (outer.info.lower?.kind !== 'tls')
                void startTls(outer, { context, protocol: receiver(count) });
            },
          })
        : () => receiver(count);
    port = (await createServer(factory, { host: '127.0.0.1', port: 0, tls: context })).address.port;
  }
  report({ port });
  report(await count.finished);
}

/** Connects and starts sending, in the way `scenario` and `impl` say. */
async function startSending(/** @type {number} */ port) {
  if (impl === 'raw' && scenario === 'shim') {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
    const secured = tls.connect({ socket: relay(socket), ...raw.client });
    await new Promise((resolve) => secured.once('secureConnect', () => resolve(undefined)));
    return rawSend(secured);
  }
  if (impl === 'raw') {
    const outer = tls.connect({ host: '127.0.0.1', port, ...raw.client });
    await new Promise((resolve) => outer.once('secureConnect', () => resolve(undefined)));
    if (scenario !== 'tls-in-tls') return rawSend(outer);
    const inner = tls.connect({ socket: outer, ...raw.client });
    await new Promise((resolve) => inner.once('secureConnect', () => resolve(undefined)));
    return rawSend(inner);
  }
  const { client: context } = contexts();
  if (scenario === 'pure-js') {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
    const secured = await startTls(fromDuplex(relay(socket)), { context, serverName: 'localhost' });
    secured.setProtocol(sender());
    return;
  }
  if (scenario === 'tls-in-tls') {
    const outer = await createConnection(() => ({}), {
      host: '127.0.0.1',
      port,
      tls: context,
      serverName: 'localhost',
    });
    await startTls(outer, { context, serverName: 'localhost', protocol: sender() });
    return;
  }
  await createConnection(sender, { host: '127.0.0.1', port, tls: context, serverName: 'localhost' });
}

/** The sender's CPU time is counted from the handshake's end until the parent asks for it. */
async function client(/** @type {number} */ port) {
  await startSending(port);
  const cpuStart = cpuNow();
  answerCpu(
    () => cpuStart,
    () => total / MiB,
  );
}

/** Both ends in this process: raw over loopback TCP, tlskit over a memory pair. */
async function both() {
  const count = counter();
  if (impl === 'raw') {
    const listener = tls.createServer(raw.server, (socket) => socket.on('data', (chunk) => count.add(chunk)));
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    const socket = tls.connect({
      host: '127.0.0.1',
      port: /** @type {net.AddressInfo} */ (listener.address()).port,
      ...raw.client,
    });
    await new Promise((resolve) => socket.once('secureConnect', () => resolve(undefined)));
    rawSend(socket);
  } else {
    const { server: serverSide, client: clientSide } = contexts();
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, { context: clientSide, serverName: 'localhost' }),
      startTls(b, { context: serverSide }),
    ]);
    st.setProtocol(receiver(count));
    ct.setProtocol(sender());
  }
  // One process: the receiver's count covers both ends.
  report(await count.finished);
}

if (role === 'server') await server();
else if (role === 'client') await client(Number(portArg));
else await both();
