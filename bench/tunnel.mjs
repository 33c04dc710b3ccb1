// @ts-check
/**
 * `tlskit tunnel` against stunnel4, terminate mode, same certificate, alternated in one run:
 * bulk MiB/s (client TLS → tunnel → plain sink) with the tunnel process's CPU per MiB, and new
 * TLS connections per second through the tunnel. The client and the sink run in this process; only
 * the tunnel's own CPU (from /proc) is counted, so the two tunnels are compared on their work alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { CHUNK, loadPki, processCpu } from './common.mjs';

const MiB = 1024 * 1024;

export function hasStunnel() {
  return spawnSync('stunnel4', ['-version'], { stdio: 'ignore' }).error === undefined;
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitListening(/** @type {number} */ port) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket.destroy() && true));
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 5 s`);
}

/** Starts one tunnel implementation in front of `sinkPort`; resolves to { port, pid, stop }. */
async function startTunnel(
  /** @type {'stunnel' | 'tlskit' | 'node'} */ impl,
  /** @type {{cert: string, key: string}} */ files,
  /** @type {number} */ sinkPort,
) {
  const port = await freePort();
  const child =
    impl === 'stunnel'
      ? spawn('stunnel4', [writeConfig(files, port, sinkPort)], { stdio: 'ignore' })
      : impl === 'node'
        ? spawn(
            process.execPath,
            [
              new URL('./tunnel-node.mjs', import.meta.url).pathname,
              String(port),
              String(sinkPort),
              files.cert,
              files.key,
            ],
            { stdio: 'ignore' },
          )
        : spawn(
            process.execPath,
            [
              'dist/cli/main.js',
              'tunnel',
              '--accept',
              `127.0.0.1:${port}`,
              '--to',
              `127.0.0.1:${sinkPort}`,
              '--cert',
              files.cert,
              '--key',
              files.key,
            ],
            { stdio: 'ignore' },
          );
  await waitListening(port);
  return { port, pid: /** @type {number} */ (child.pid), stop: () => child.kill('SIGKILL') };
}

function writeConfig(
  /** @type {{cert: string, key: string}} */ files,
  /** @type {number} */ port,
  /** @type {number} */ sinkPort,
) {
  const file = join(tmpdir(), `tlskit-bench-stunnel-${port}.conf`);
  writeFileSync(
    file,
    `foreground = yes\npid =\nsyslog = no\ndebug = 0\n[bench]\naccept = 127.0.0.1:${port}\nconnect = 127.0.0.1:${sinkPort}\ncert = ${files.cert}\nkey = ${files.key}\n`,
  );
  return file;
}

/** A plain sink counting bytes, and an echo-less acceptor for handshake runs. */
async function startSink() {
  let received = 0;
  /** @type {(() => void) | undefined} */
  let onData;
  const server = net.createServer((socket) => {
    socket.on('data', (chunk) => {
      received += chunk.length;
      onData?.();
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return {
    port: /** @type {net.AddressInfo} */ (server.address()).port,
    received: () => received,
    until: (/** @type {number} */ bytes) =>
      new Promise((resolve) => {
        onData = () => received >= bytes && resolve(undefined);
        onData();
      }),
    reset: () => {
      received = 0;
    },
    close: () => server.close(),
  };
}

async function bulk(
  /** @type {number} */ port,
  /** @type {string} */ ca,
  /** @type {number} */ bytes,
  /** @type {Awaited<ReturnType<typeof startSink>>} */ sink,
) {
  sink.reset();
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const started = performance.now();
  for (let sent = 0; sent < bytes; sent += CHUNK.length)
    if (!socket.write(CHUNK)) await new Promise((resolve) => socket.once('drain', resolve));
  await sink.until(bytes);
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  return bytes / MiB / seconds;
}

async function handshakes(
  /** @type {number} */ port,
  /** @type {string} */ ca,
  /** @type {number} */ seconds,
) {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        session: undefined,
      });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      socket.end();
      done++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, loop));
  return done / seconds;
}

/**
 * Runs both measurements `rounds` times, stunnel and tlskit alternating. Returns Entries in the
 * shape of bench/run.mjs with `raw` holding stunnel's numbers and `reference: true`.
 */
export async function benchTunnel(
  /** @type {string} */ pkiFile,
  /** @type {{ rounds: number, bytes: number, seconds: number }} */ options,
) {
  const pki = loadPki(pkiFile).ecdsa;
  const dir = tmpdir();
  const files = {
    cert: join(dir, `tlskit-bench-tunnel-${process.pid}.pem`),
    key: join(dir, `tlskit-bench-tunnel-${process.pid}-key.pem`),
  };
  writeFileSync(files.cert, pki.certPem);
  writeFileSync(files.key, pki.keyPem, { mode: 0o600 });
  const sink = await startSink();
  const entry = (/** @type {string} */ name, /** @type {string} */ unit, /** @type {string} */ cpuUnit) => ({
    section: 'tunnel',
    name,
    unit,
    cpuUnit,
    raw: /** @type {number[]} */ ([]),
    tlskit: /** @type {number[]} */ ([]),
    rawCpu: /** @type {number[]} */ ([]),
    tlskitCpu: /** @type {number[]} */ ([]),
    target: '>= 1.0',
    higherIsBetter: true,
    reference: true,
  });
  const throughput = entry(`bulk ${options.bytes / MiB} MiB, tlskit tunnel vs stunnel4`, 'MiB/s', 'ms/MiB');
  const rate = entry('new TLS connections through the tunnel, vs stunnel4', 'handshakes/s', 'ms/handshake');
  // The reference for what Node itself costs: a bare tls.createServer piping to the sink.
  const nodeThroughput = entry(
    `bulk ${options.bytes / MiB} MiB, bare node:tls pipe (no tlskit) vs stunnel4`,
    'MiB/s',
    'ms/MiB',
  );
  nodeThroughput.target = 'reference';
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const impl of /** @type {const} */ (['stunnel', 'tlskit', 'node'])) {
        const tunnel = await startTunnel(impl, files, sink.port);
        const key = impl === 'stunnel' ? 'raw' : 'tlskit';
        try {
          if (impl === 'node') {
            const cpu = processCpu(tunnel.pid);
            nodeThroughput.tlskit.push(await bulk(tunnel.port, pki.caPem, options.bytes, sink));
            nodeThroughput.tlskitCpu.push(((processCpu(tunnel.pid) - cpu) * 1000) / (options.bytes / MiB));
            continue;
          }
          let cpu = processCpu(tunnel.pid);
          throughput[key].push(await bulk(tunnel.port, pki.caPem, options.bytes, sink));
          throughput[`${key}Cpu`].push(((processCpu(tunnel.pid) - cpu) * 1000) / (options.bytes / MiB));
          cpu = processCpu(tunnel.pid);
          const perSecond = await handshakes(tunnel.port, pki.caPem, options.seconds);
          rate[key].push(perSecond);
          rate[`${key}Cpu`].push(((processCpu(tunnel.pid) - cpu) * 1000) / (perSecond * options.seconds));
        } finally {
          tunnel.stop();
        }
      }
    }
  } finally {
    sink.close();
  }
  nodeThroughput.raw = throughput.raw;
  nodeThroughput.rawCpu = throughput.rawCpu;
  return [throughput, nodeThroughput, rate];
}
