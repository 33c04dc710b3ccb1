// @ts-check
/**
 * Datagrams per second over UDP on loopback: the client keeps WINDOW datagrams of `size` bytes in
 * flight to an echo server and sends one more for each echo; echoes are counted for `seconds`.
 * Both ends are raw node:dgram or both tlskit (createDatagramEndpoint). A window that loses
 * datagrams (loopback rarely does) is refilled after a quiet REFILL_MS. Both sides report CPU per
 * echoed datagram.
 *
 * node bench/datagram.mjs <server|client> <raw|tlskit> <size> <seconds> [port]
 */
import dgram from 'node:dgram';
import { createDatagramEndpoint } from 'tlskit';
import { answerCpu, cpuNow, report } from './common.mjs';

const [role, impl, sizeArg, secondsArg, portArg] = process.argv.slice(2);
const MESSAGE = Buffer.alloc(Number(sizeArg), 0x61);
const WINDOW = 32;
const REFILL_MS = 20;
const host = '127.0.0.1';

let echoed = 0;
let cpuStart = 0;

async function server() {
  answerCpu(
    () => cpuStart,
    () => echoed,
  );
  const count = () => {
    if (echoed++ === 0) cpuStart = cpuNow();
  };
  if (impl === 'raw') {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (data, from) => {
      count();
      socket.send(data, from.port, from.address);
    });
    await new Promise((resolve) => socket.bind(0, host, () => resolve(undefined)));
    report({ port: socket.address().port });
    return;
  }
  const endpoint = await createDatagramEndpoint({ type: 'udp4', local: { host } });
  endpoint.setProtocol({
    datagramReceived: (data, from) => {
      count();
      endpoint.send(data, from);
    },
  });
  report({ port: endpoint.info.local?.port });
}

async function client(/** @type {number} */ port) {
  const seconds = Number(secondsArg);
  const WARM_UP = 5000;
  let received = -WARM_UP;
  let began = 0;
  let cpuBegan = 0;
  let end = Number.POSITIVE_INFINITY;
  let lastEcho = performance.now();
  /** @type {(value: number) => void} */
  let done = () => {};
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  /** @type {() => void} */
  let send = () => {};
  let over = false;
  const onEcho = () => {
    if (over) return;
    received++;
    lastEcho = performance.now();
    if (received === 0) {
      began = lastEcho;
      cpuBegan = cpuNow();
      end = began + seconds * 1000;
    }
    if (lastEcho >= end) {
      over = true;
      done(received);
      return;
    }
    send();
  };
  if (impl === 'raw') {
    const socket = dgram.createSocket('udp4');
    await new Promise((resolve) => socket.connect(port, host, () => resolve(undefined)));
    socket.on('message', onEcho);
    send = () => socket.send(MESSAGE);
  } else {
    const endpoint = await createDatagramEndpoint({ type: 'udp4', remote: { host, port } });
    endpoint.setProtocol({ datagramReceived: onEcho });
    send = () => endpoint.send(MESSAGE);
  }
  const fill = () => {
    for (let i = 0; i < WINDOW; i++) send();
  };
  const refill = setInterval(() => {
    if (performance.now() - lastEcho > REFILL_MS) fill();
  }, REFILL_MS);
  fill();
  const count = await finished;
  clearInterval(refill);
  report({ rate: (count / (performance.now() - began)) * 1000, cpu: (cpuNow() - cpuBegan) / count });
}

if (role === 'server') await server();
else await client(Number(portArg));
