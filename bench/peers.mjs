// @ts-check
/**
 * Reference rows against other TLS stacks, on the same run and machine: Go's crypto/tls
 * (bench/peers/go-tls.go, built at bench time) and Python's asyncio over ssl.SSLContext, i.e.
 * sslproto (bench/peers/python-asyncio.py), each as the SERVER, alternating with tlskit's server.
 * The client is the same raw node:tls client (bench/throughput.mjs, bench/handshake.mjs) for both,
 * so the rows compare servers only, and the CPU columns count the server process alone: from
 * /proc for a peer, from the worker's own report for tlskit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadPki, processCpu, worker } from './common.mjs';

const MiB = 1024 * 1024;
const goSource = fileURLToPath(new URL('./peers/go-tls.go', import.meta.url));
const pythonSource = fileURLToPath(new URL('./peers/python-asyncio.py', import.meta.url));

/**
 * @typedef {(section: string, name: string,
 *   options: { unit: string, cpuUnit: string, rounds: number, reference?: boolean, baseline?: string },
 *   run: (impl: 'raw' | 'tlskit') => Promise<{ value: number, cpu: number }>) => Promise<void>} Pair
 * @typedef {{ label: string, command: () => string[] }} Peer
 */

const runs = (/** @type {string} */ command, /** @type {string[]} */ args) =>
  spawnSync(command, args, { stdio: 'ignore' }).error === undefined;

/**
 * Builds go-tls.go once per source version: the binary lives in the temp dir under the source's
 * hash, so an edited program is rebuilt and nothing built is ever in the tree.
 */
function goBinary() {
  const hash = createHash('sha256').update(readFileSync(goSource)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `tlskit-bench-go-tls-${hash}`);
  const binary = join(dir, 'go-tls');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const build = spawnSync('go', ['build', '-o', binary, goSource], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`go build ${goSource} failed:\n${build.stderr}`);
  return binary;
}

/**
 * The peers installed here, and a skip note for each one that is not.
 * @returns {{ peers: Peer[], skipped: string[] }}
 */
export function findPeers() {
  /** @type {Peer[]} */
  const peers = [];
  const skipped = [];
  if (runs('go', ['version'])) {
    const binary = goBinary();
    peers.push({ label: 'Go crypto/tls', command: () => [binary] });
  } else skipped.push('Go crypto/tls: skipped, go is not installed (apt-get install golang-go)');
  if (runs('python3', ['--version']))
    peers.push({ label: 'Python asyncio', command: () => ['python3', pythonSource] });
  else skipped.push('Python asyncio: skipped, python3 is not installed (apt-get install python3)');
  return { peers, skipped };
}

/** The run's ECDSA certificate and key as PEM files, which is what the peers load. */
function pemFiles(/** @type {string} */ pkiFile) {
  const { ecdsa } = loadPki(pkiFile);
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-bench-peers-'));
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  writeFileSync(files.cert, ecdsa.certPem);
  writeFileSync(files.key, ecdsa.keyPem, { mode: 0o600 });
  return files;
}

/** Starts a peer server; its stdout carries one JSON object a line, its stdin takes commands. */
function startPeer(/** @type {Peer} */ peer, /** @type {string[]} */ args) {
  const [command = '', ...rest] = peer.command();
  const child = spawn(command, [...rest, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) });
  const iterator = lines[Symbol.asyncIterator]();
  return {
    pid: /** @type {number} */ (child.pid),
    send: (/** @type {string} */ line) => child.stdin?.write(`${line}\n`),
    /** @returns {Promise<Record<string, number>>} */
    async next() {
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const timeout = new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${peer.label} ${args[0]}: no answer in 120 s`)), 120_000);
      });
      try {
        const line = await Promise.race([iterator.next(), timeout]);
        if (line.done) throw new Error(`${peer.label} ${args[0]} exited with ${child.exitCode}`);
        return JSON.parse(line.value);
      } finally {
        clearTimeout(timer);
      }
    },
    stop: () => child.kill('SIGKILL'),
  };
}

/**
 * Starts a peer server with `args`, points `client` at it and lets `measure` read the result.
 * The peer's CPU is counted from its listening line to the end of `measure`, per unit `measure`
 * names: a little wider than the tlskit worker's own window, which starts at its first byte or
 * connection; the difference is the idle wait for the client and, for throughput, one handshake.
 * @param {Peer} peer @param {string[]} args
 * @param {(port: number) => ReturnType<typeof worker>} client
 * @param {(server: ReturnType<typeof startPeer>, client: ReturnType<typeof worker>) => Promise<{ value: number, units: number }>} measure
 */
async function onPeer(peer, args, client, measure) {
  const server = startPeer(peer, args);
  try {
    const { port = 0 } = await server.next();
    const cpuStart = processCpu(server.pid);
    const job = client(port);
    try {
      const { value, units } = await measure(server, job);
      return { value, cpu: ((processCpu(server.pid) - cpuStart) * 1e6) / units };
    } finally {
      job.stop();
    }
  } finally {
    server.stop();
  }
}

/** One bulk transfer into `impl`'s server; MB/s and the server's CPU per MiB. */
async function throughput(
  /** @type {Peer | 'tlskit'} */ impl,
  /** @type {{ pki: string, files: { cert: string, key: string }, bytes: string }} */ setup,
) {
  const client = (/** @type {number} */ port) =>
    worker('./throughput.mjs', ['client', 'tcp', 'raw', setup.pki, setup.bytes, String(port)]);
  if (impl === 'tlskit') {
    const server = worker('./throughput.mjs', ['server', 'tcp', 'tlskit', setup.pki, setup.bytes]);
    const sender = client((await server.next()).port);
    try {
      const { mbps, cpu } = await server.next();
      return { value: mbps, cpu };
    } finally {
      sender.stop();
      server.stop();
    }
  }
  return onPeer(
    impl,
    ['throughput', setup.files.cert, setup.files.key, setup.bytes],
    client,
    async (server) => {
      const { mbps = Number.NaN } = await server.next();
      return { value: mbps, units: Number(setup.bytes) / MiB };
    },
  );
}

/** Full ECDSA handshakes against `impl`'s server; handshakes/s and the server's CPU per connection. */
async function handshakes(
  /** @type {Peer | 'tlskit'} */ impl,
  /** @type {{ pki: string, files: { cert: string, key: string }, seconds: string, version: string }} */ setup,
) {
  const common = [setup.pki, 'ecdsa', setup.version, 'full', setup.seconds];
  const client = (/** @type {number} */ port) =>
    worker('./handshake.mjs', ['client', 'raw', ...common, String(port)]);
  if (impl === 'tlskit') {
    const server = worker('./handshake.mjs', ['server', 'tlskit', ...common]);
    const connecting = client((await server.next()).port);
    try {
      const { rate } = await connecting.next();
      server.send('cpu');
      const { cpu } = await server.next();
      return { value: rate, cpu };
    } finally {
      connecting.stop();
      server.stop();
    }
  }
  const args = ['handshake', setup.files.cert, setup.files.key, setup.version];
  return onPeer(impl, args, client, async (server, connecting) => {
    const { rate } = await connecting.next();
    server.send('count');
    const { connections = Number.NaN } = await server.next();
    return { value: rate, units: connections };
  });
}

/**
 * Adds the peers' rows through `pair` (the peer in the raw column, tlskit in the other, alternating
 * each round). Returns the skip notes for peers that are not installed, already printed.
 * @param {string} pki @param {Pair} pair @param {{ quick: boolean }} options
 */
export async function benchPeers(pki, pair, options) {
  const { peers, skipped } = findPeers();
  for (const note of skipped) console.log(`  ${note}`);
  const files = pemFiles(pki);
  // A quick run still moves 256 MiB: the peers' CPU comes from /proc in 10 ms ticks.
  const bytes = String((options.quick ? 256 : 1024) * MiB);
  // Three rounds, not the handshake section's five: twelve rows' worth keeps the full run near ten minutes.
  const rounds = options.quick ? 1 : 3;
  for (const peer of peers) {
    const base = { reference: true, baseline: peer.label, rounds };
    await pair(
      'peers',
      `TLS over TCP throughput, server: ${peer.label} vs tlskit`,
      { ...base, unit: 'MB/s', cpuUnit: 'us/MiB' },
      (impl) => throughput(impl === 'raw' ? peer : 'tlskit', { pki, files, bytes }),
    );
    for (const version of ['TLSv1.3', 'TLSv1.2']) {
      await pair(
        'peers',
        `full handshakes ECDSA ${version.replace('TLSv', 'TLS ')}, server: ${peer.label} vs tlskit`,
        { ...base, unit: '/s', cpuUnit: 'us' },
        (impl) =>
          handshakes(impl === 'raw' ? peer : 'tlskit', {
            pki,
            files,
            version,
            seconds: options.quick ? '1' : '1.5',
          }),
      );
    }
  }
  return skipped;
}
