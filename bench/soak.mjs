// @ts-check
/**
 * Soak: production servers under churn, bounded (under two minutes on the 2-core reference).
 *
 * 1. 10,000 connections (64 at a time) through HAProxy (`send-proxy-v2`, TCP mode) to a tlskit
 *    server with `workers: 2` and `proxyProtocol`; each sends a length-prefixed random payload
 *    (1 byte to 64 KiB) and checks the SHA-256 the server answers; a fifth, chosen at random,
 *    abort halfway instead. Reports connections/s, p50/p99 handshake latency, the server's RSS
 *    (primary and workers), and bytes lost: completed connections whose digest did not match
 *    or never came. Without haproxy the clients connect directly, and the report says so.
 * 2. Handshakes/s with the same exchange, no HAProxy: tlskit `workers: 2`, `workers: 1`, and raw
 *    node:tls with node:cluster (2 workers, shared ticket keys), alternated over rounds.
 *
 * node bench/soak.mjs [--connections N] [--seconds S] [--rounds R] [--json]
 * Writes .bench-out/soak-<date>.json. The load generator runs in this process (raw node:tls
 * clients), on the same cores as the servers: compare the rows with each other, not with other
 * machines.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { loadPki, median, mintPki } from './common.mjs';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const CONCURRENCY = 64;
const pkiFile = await mintPki();
const { ecdsa } = loadPki(pkiFile);

/** Starts bench/soak-server.mjs; resolves once it listens. */
async function startServer(/** @type {Record<string, unknown>} */ config) {
  const child = spawn(
    process.execPath,
    [new URL('soak-server.mjs', import.meta.url).pathname, JSON.stringify({ pki: pkiFile, ...config })],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`soak-server exited with ${code} before listening`)));
  });
  return {
    port: /** @type {number} */ (port),
    pid: /** @type {number} */ (child.pid),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}

/** Resident memory of a process and its children, in MiB (Linux /proc; 0 elsewhere). */
function treeRss(/** @type {number} */ pid) {
  try {
    const pids = [
      pid,
      ...execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number),
    ];
    return pids.reduce((sum, p) => {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      return sum + Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    }, 0);
  } catch {
    return 0;
  }
}

/** HAProxy in TCP mode with send-proxy-v2 in front of `port`, or null when it is not installed. */
async function startHaproxy(/** @type {number} */ port) {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const front = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = /** @type {net.AddressInfo} */ (probe.address());
      probe.close(() => resolve(free));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-soak-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend soak',
      `  bind 127.0.0.1:${front}`,
      '  default_backend tlskit',
      'backend tlskit',
      `  server tlskit 127.0.0.1:${port} send-proxy-v2`,
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(/** @type {number} */ (front), '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port: /** @type {number} */ (front),
    stop: () => new Promise((resolve) => child.once('exit', resolve).kill()),
  };
}

/**
 * One client connection: handshake, request, digest. `abort` sends half the payload and
 * destroys the socket. Resolves with the handshake latency and whether the answer matched.
 * @param {number} port @param {boolean} abort
 */
function exchange(port, abort) {
  return new Promise((resolve) => {
    const started = performance.now();
    const payload = randomBytes(randomInt(1, 64 * 1024 + 1));
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ecdsa.caPem, servername: 'localhost' });
    let handshake = 0;
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('secureConnect', () => {
      handshake = performance.now() - started;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(payload.length);
      socket.write(length);
      if (abort) {
        socket.write(payload.subarray(0, payload.length >> 1), () => socket.destroy());
        return;
      }
      socket.write(payload);
    });
    socket.on('data', (text) => {
      answer += text;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const ok = answer === `${createHash('sha256').update(payload).digest('hex')}\n`;
      resolve({ handshake, ok, aborted: abort, complete: handshake > 0 });
    });
  });
}

/** Runs `total` exchanges (or until `seconds` pass), CONCURRENCY at a time. */
async function drive(
  /** @type {number} */ port,
  /** @type {{ total?: number, seconds?: number, abortShare: number }} */ plan,
) {
  /** @type {Array<{ handshake: number, ok: boolean, aborted: boolean, complete: boolean }>} */
  const results = [];
  const started = performance.now();
  const deadline = plan.seconds ? started + plan.seconds * 1000 : Number.POSITIVE_INFINITY;
  let issued = 0;
  const more = () => issued < (plan.total ?? Number.POSITIVE_INFINITY) && performance.now() < deadline;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (more()) {
        issued++;
        results.push(/** @type {any} */ (await exchange(port, Math.random() < plan.abortShare)));
      }
    }),
  );
  return { results, seconds: (performance.now() - started) / 1000 };
}

function percentile(/** @type {number[]} */ values, /** @type {number} */ p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

// 1. Soak through HAProxy.
const total = Number(args.connections);
const soakServer = await startServer({ kind: 'tlskit', workers: 2, proxy: true });
const haproxy = await startHaproxy(soakServer.port);
let peakRss = treeRss(soakServer.pid);
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, treeRss(soakServer.pid));
}, 500);
const soak = await drive(haproxy ? haproxy.port : soakServer.port, { total, abortShare: 0.2 });
clearInterval(rssTimer);
await haproxy?.stop();
await soakServer.stop();
const finished = soak.results.filter((r) => !r.aborted);
const lost = finished.filter((r) => !r.ok).length;
const soakReport = {
  path: haproxy
    ? 'HAProxy (send-proxy-v2) → tlskit workers: 2'
    : 'direct → tlskit workers: 2 (haproxy not installed)',
  connections: soak.results.length,
  aborted: soak.results.length - finished.length,
  connectionsPerSecond: soak.results.length / soak.seconds,
  handshakeP50Ms: percentile(
    soak.results.filter((r) => r.complete).map((r) => r.handshake),
    50,
  ),
  handshakeP99Ms: percentile(
    soak.results.filter((r) => r.complete).map((r) => r.handshake),
    99,
  ),
  peakRssMiB: peakRss,
  bytesLost: lost,
};
console.log(`soak: ${soakReport.path}`);
console.log(
  `  ${soakReport.connections} connections (${soakReport.aborted} aborted on purpose) in ${soak.seconds.toFixed(1)} s: ` +
    `${soakReport.connectionsPerSecond.toFixed(0)}/s, handshake p50 ${soakReport.handshakeP50Ms.toFixed(1)} ms, ` +
    `p99 ${soakReport.handshakeP99Ms.toFixed(1)} ms, server RSS peak ${soakReport.peakRssMiB.toFixed(0)} MiB, bytes lost: ${lost}`,
);

// 2. Handshakes/s side by side.
const cases = [
  { name: 'raw node:tls + node:cluster, 2 workers', kind: 'raw', workers: 2 },
  { name: 'tlskit workers: 2', kind: 'tlskit', workers: 2 },
  { name: 'tlskit workers: 1', kind: 'tlskit', workers: 1 },
];
/** @type {Record<string, number[]>} */
const rates = Object.fromEntries(cases.map((c) => [c.name, []]));
for (let round = 0; round < Number(args.rounds); round++) {
  for (const c of cases) {
    const server = await startServer({ kind: c.kind, workers: c.workers });
    const { results, seconds } = await drive(server.port, { seconds: Number(args.seconds), abortShare: 0 });
    await server.stop();
    rates[c.name]?.push(results.filter((r) => r.ok).length / seconds);
  }
}
const raw = median(rates[cases[0]?.name ?? ''] ?? []);
console.log('handshakes/s (full handshake + one request each, no HAProxy):');
const handshakeReport = cases.map((c) => {
  const rate = median(rates[c.name] ?? []);
  console.log(`  ${c.name.padEnd(40)} ${rate.toFixed(0).padStart(6)}/s  ×${(rate / raw).toFixed(2)} of raw`);
  return { case: c.name, perSecond: rate, ratio: rate / raw, rounds: rates[c.name] };
});

const report = {
  date: new Date().toISOString(),
  node: process.version,
  soak: soakReport,
  handshakes: handshakeReport,
};
mkdirSync('.bench-out', { recursive: true });
writeFileSync(`.bench-out/soak-${report.date.replace(/[:.]/g, '-')}.json`, JSON.stringify(report, null, 2));
if (args.json)
  console.log(
    JSON.stringify({
      soak: soakReport,
      ratios: Object.fromEntries(handshakeReport.map((r) => [r.case, r.ratio])),
    }),
  );
process.exitCode = lost === 0 ? 0 : 1;
