// @ts-check
/**
 * Round trips of 64-byte messages over one TLS connection: the client sends 64 bytes, the server
 * echoes them, the client waits for all 64 and sends the next. Counted for `seconds`. Both sides
 * also report their CPU time per round trip.
 *
 * node bench/pingpong.mjs <server|client> <raw|tlskit> <pki.json> <seconds> [port]
 */
import tls from 'node:tls';
import { clientContext, createConnection, createServer, serverContext } from 'tlskit';
import { answerCpu, cpuNow, loadPki, report } from './common.mjs';

const [role, impl, pkiFile, secondsArg, portArg] = process.argv.slice(2);
const { ecdsa } = loadPki(/** @type {string} */ (pkiFile));
const MESSAGE = Buffer.alloc(64, 0x61);

/** The server's CPU per round trip, counted from the first byte it echoes. */
let echoed = 0;
let cpuStart = 0;
const echo = (/** @type {{ length: number }} */ data) => {
  if (echoed === 0) cpuStart = cpuNow();
  echoed += data.length;
};

async function server() {
  answerCpu(
    () => cpuStart,
    () => echoed / MESSAGE.length,
  );
  if (impl === 'raw') {
    const listener = tls.createServer({ cert: ecdsa.certPem, key: ecdsa.keyPem }, (socket) => {
      socket.setNoDelay(true);
      socket.on('data', (data) => {
        echo(data);
        socket.write(data);
      });
      socket.on('error', () => {});
    });
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(undefined)));
    report({ port: /** @type {import('node:net').AddressInfo} */ (listener.address()).port });
    return;
  }
  /** @type {import('tlskit').Transport} */
  let transport;
  const listener = await createServer(
    () => ({
      connectionMade: (t) => {
        transport = t;
      },
      dataReceived: (data) => {
        echo(data);
        transport.write(data);
      },
    }),
    { host: '127.0.0.1', port: 0, tls: serverContext({ cert: ecdsa.certPem, key: ecdsa.keyPem }) },
  );
  report({ port: listener.address.port });
}

async function client(/** @type {number} */ port) {
  const seconds = Number(secondsArg);
  // The first WARM_UP trips let both sides' code get optimised; they are not counted.
  const WARM_UP = 2000;
  let trips = -WARM_UP;
  let pending = 0;
  let end = Number.POSITIVE_INFINITY;
  let began = 0;
  let cpuBegan = 0;
  /** @type {(value: number) => void} */
  let done = () => {};
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  /** @type {(data: Buffer | Uint8Array) => void} */
  let send = () => {};
  const onData = (/** @type {{ length: number }} */ data) => {
    pending -= data.length;
    if (pending > 0) return;
    trips++;
    if (trips === 0) {
      began = performance.now();
      cpuBegan = cpuNow();
      end = began + seconds * 1000;
    }
    if (performance.now() >= end) return done(trips);
    pending = 64;
    send(MESSAGE);
  };
  const start = () => {
    pending = 64;
    send(MESSAGE);
  };
  if (impl === 'raw') {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ecdsa.caPem, servername: 'localhost' });
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.once('secureConnect', () => resolve(undefined)));
    socket.on('data', onData);
    send = (data) => socket.write(data);
  } else {
    const transport = await createConnection(() => ({ dataReceived: onData }), {
      host: '127.0.0.1',
      port,
      tls: clientContext({ trust: ecdsa.caPem }),
      serverName: 'localhost',
    });
    send = (data) => transport.write(data);
  }
  start();
  const count = await finished;
  report({ rate: (count / (performance.now() - began)) * 1000, cpu: (cpuNow() - cpuBegan) / count });
}

if (role === 'server') await server();
else await client(Number(portArg));
