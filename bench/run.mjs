// @ts-check
/**
 * tlskit against raw node:tls, side by side. Every case runs raw, tlskit, raw, tlskit, ... with
 * client and server in separate processes, and reports medians and the tlskit/raw ratio. Each
 * measurement also records the CPU time both sides spent per unit of work (per MiB, handshake or
 * round trip): on a shared machine wall-clock rates move with the neighbours, CPU costs much less.
 *
 * npm run bench              full run (under ten minutes)
 * npm run bench -- --quick   a smaller run for development (under a minute)
 * npm run bench -- --only throughput,handshakes,instructions,pingpong,datagram,http,idle,mint,lab,tunnel,peers
 * npm run bench -- --json    also prints one line `BENCH-SUMMARY {...}` for scripts (bench/report.mjs)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createCA } from 'tlskit/pki';
import { median, mintPki, worker } from './common.mjs';
import { hasValgrind, instructionsPerHandshake } from './instructions.mjs';
import { benchLab } from './lab.mjs';
import { benchPeers } from './peers.mjs';
import { format, printTable, ratio, summary } from './report.mjs';
import { benchTunnel, hasStunnel } from './tunnel.mjs';

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, only: { type: 'string' }, json: { type: 'boolean' } },
});
const quick = values.quick === true;
const sections = new Set(
  (
    values.only ?? 'throughput,handshakes,instructions,pingpong,datagram,http,idle,mint,lab,tunnel,peers'
  ).split(','),
);
const MiB = 1024 * 1024;

/** @typedef {import('./report.mjs').Entry} Entry */
/** @type {Entry[]} */
const results = [];
/** @type {string[]} */
const skipped = [];

/**
 * Runs a server worker and a client worker for one measurement and returns the report of the
 * side that measured, with `cpu` replaced by both sides' CPU time per unit of work added up.
 */
async function measure(
  /** @type {string} */ script,
  /** @type {string[]} */ serverArgs,
  /** @type {(port: number) => string[]} */ clientArgs,
  /** @type {'server' | 'client'} */ reporter,
) {
  const server = worker(script, serverArgs);
  try {
    const { port } = await server.next();
    const client = worker(script, clientArgs(port));
    try {
      const [measured, other] = reporter === 'server' ? [server, client] : [client, server];
      const result = await measured.next();
      other.send('cpu');
      const { cpu } = await other.next();
      return { ...result, cpu: result.cpu + cpu };
    } finally {
      client.stop();
    }
  } finally {
    server.stop();
  }
}

/**
 * Alternates raw and tlskit `rounds` times and records both series. `run` returns the measured
 * value and the CPU time per unit.
 */
async function pair(
  /** @type {string} */ section,
  /** @type {string} */ name,
  /** @type {{ unit: string, cpuUnit: string, rounds: number, target?: string, reference?: boolean, baseline?: string }} */ options,
  /** @type {(impl: 'raw' | 'tlskit') => Promise<{ value: number, cpu: number }>} */ run,
) {
  /** @type {Entry} */
  const entry = {
    section,
    name,
    unit: options.unit,
    cpuUnit: options.cpuUnit,
    raw: [],
    tlskit: [],
    rawCpu: [],
    tlskitCpu: [],
    target: options.target,
    higherIsBetter: true,
    reference: options.reference,
    baseline: options.baseline,
  };
  for (let round = 0; round < options.rounds; round++) {
    for (const impl of /** @type {const} */ (['raw', 'tlskit'])) {
      const { value, cpu } = await run(impl);
      entry[impl].push(value);
      entry[impl === 'raw' ? 'rawCpu' : 'tlskitCpu'].push(cpu);
    }
  }
  results.push(entry);
  const [rawLabel, otherLabel] = options.baseline
    ? [options.baseline, 'tlskit']
    : ['raw', options.reference ? 'other' : 'tlskit'];
  console.log(
    `  ${name}: ${rawLabel} ${format(median(entry.raw))}, ${otherLabel} ${format(median(entry.tlskit))} ${entry.unit} ` +
      `(ratio ${ratio(entry).toFixed(2)}; CPU ${format(median(entry.rawCpu))} vs ${format(median(entry.tlskitCpu))} ${entry.cpuUnit})`,
  );
}

const started = Date.now();
const pki = await mintPki();
const machine = {
  date: new Date().toISOString(),
  node: process.version,
  openssl: process.versions.openssl,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
  memory: `${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB`,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  loadAtStart: os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' '),
};
console.log(`tlskit benchmarks (${quick ? 'quick' : 'full'}), ${machine.cpus}, Node ${machine.node}`);

if (sections.has('throughput')) {
  const bytes = String(quick ? 64 * MiB : 1024 * MiB);
  const rounds = quick ? 1 : 3;
  console.log(
    `Throughput: ${Number(bytes) / MiB} MiB one way in 64 KiB writes (MB/s; CPU of both sides per MiB)`,
  );
  const twoProcesses = (/** @type {string} */ scenario) => (/** @type {'raw' | 'tlskit'} */ impl) =>
    measure(
      './throughput.mjs',
      ['server', scenario, impl, pki, bytes],
      (port) => ['client', scenario, impl, pki, bytes, String(port)],
      'server',
    ).then((r) => ({ value: r.mbps, cpu: r.cpu }));
  const units = { unit: 'MB/s', cpuUnit: 'us/MiB', rounds };
  await pair('throughput', 'TLS over TCP', { ...units, target: '>= 0.98' }, twoProcesses('tcp'));
  await pair('throughput', 'TLS over TLS over TCP', units, twoProcesses('tls-in-tls'));
  await pair(
    'throughput',
    'TLS over a pure-JS transport (vs raw TLS over TCP), two processes',
    { ...units, target: '>= 0.80' },
    (impl) => twoProcesses(impl === 'raw' ? 'tcp' : 'pure-js')(impl),
  );
  await pair(
    'throughput',
    "reference, no tlskit: node:tls over the same pure-JS relay (Node's shim) vs raw TLS over TCP",
    { ...units, reference: true },
    (impl) => twoProcesses(impl === 'raw' ? 'tcp' : 'shim')('raw'),
  );
  await pair(
    'throughput',
    'TLS over a memory pair (vs raw TLS over TCP), one process',
    { ...units, target: '>= 0.80' },
    async (impl) => {
      const job = worker('./throughput.mjs', ['both', 'one-process', impl, pki, bytes]);
      try {
        const { mbps, cpu } = await job.next();
        return { value: mbps, cpu };
      } finally {
        job.stop();
      }
    },
  );
}

if (sections.has('handshakes')) {
  const seconds = String(quick ? 0.5 : 1.5);
  const rounds = quick ? 1 : 5;
  console.log('Handshakes per second, 16 concurrent clients (CPU of both sides per handshake)');
  for (const [key, version, kind] of /** @type {const} */ ([
    ['ecdsa', 'TLSv1.3', 'full'],
    ['ecdsa', 'TLSv1.2', 'full'],
    ['rsa', 'TLSv1.3', 'full'],
    ['rsa', 'TLSv1.2', 'full'],
    ['ecdsa', 'TLSv1.3', 'resumed'],
    ['ecdsa', 'TLSv1.2', 'resumed'],
  ])) {
    await pair(
      'handshakes',
      `${kind} ${key === 'rsa' ? 'RSA-2048' : 'ECDSA P-256'} ${version}`,
      { unit: '/s', cpuUnit: 'us', rounds, target: '>= 0.97' },
      async (impl) => {
        const result = await measure(
          './handshake.mjs',
          ['server', impl, pki, key, version, kind, seconds],
          (port) => ['client', impl, pki, key, version, kind, seconds, String(port)],
          'client',
        );
        if (kind === 'resumed' && result.reusedShare < 0.9)
          throw new Error(
            `${impl}: only ${(result.reusedShare * 100).toFixed(0)}% of "resumed" handshakes resumed`,
          );
        return { value: result.rate, cpu: result.cpu };
      },
    );
  }
}

if (sections.has('instructions')) {
  if (!hasValgrind()) {
    skipped.push('instructions per handshake: skipped, valgrind is not installed (apt-get install valgrind)');
    console.log(skipped.at(-1));
  } else {
    const counts = quick ? { short: 50, long: 150 } : { short: 100, long: 400 };
    console.log(
      `Instructions per handshake (callgrind; both sides in one process; ${counts.long - counts.short} handshakes counted)`,
    );
    for (const [version, kind] of /** @type {const} */ ([
      ['TLSv1.3', 'full'],
      ['TLSv1.2', 'resumed'],
    ])) {
      await pair(
        'instructions',
        `${kind} ECDSA P-256 ${version}`,
        { unit: 'hs/G instr', cpuUnit: 'k instr', rounds: 1, target: '>= 0.97' },
        async (impl) => {
          const perHandshake = await instructionsPerHandshake(impl, pki, version, kind, counts);
          return { value: 1e9 / perHandshake, cpu: perHandshake / 1000 };
        },
      );
    }
  }
}

if (sections.has('pingpong')) {
  const seconds = String(quick ? 0.5 : 2);
  console.log('Ping-pong: 64-byte round trips per second over one TLS connection (CPU per round trip)');
  await pair(
    'pingpong',
    '64-byte round trips',
    { unit: '/s', cpuUnit: 'us', rounds: quick ? 1 : 5, target: '>= 0.95' },
    (impl) =>
      measure(
        './pingpong.mjs',
        ['server', impl, pki, seconds],
        (port) => ['client', impl, pki, seconds, String(port)],
        'client',
      ).then((r) => ({ value: r.rate, cpu: r.cpu })),
  );
}

if (sections.has('datagram')) {
  const seconds = String(quick ? 0.5 : 2);
  console.log('Datagrams: echoed UDP datagrams per second over loopback, 32 in flight (CPU per datagram)');
  for (const size of [64, 1200]) {
    await pair(
      'datagram',
      `${size}-byte datagrams`,
      { unit: '/s', cpuUnit: 'us', rounds: quick ? 3 : 7, target: '>= 0.95' },
      (impl) =>
        measure(
          './datagram.mjs',
          ['server', impl, String(size), seconds],
          (port) => ['client', impl, String(size), seconds, String(port)],
          'client',
        ).then((r) => ({ value: r.rate, cpu: r.cpu })),
    );
  }
}

if (sections.has('http')) {
  const seconds = String(quick ? 1 : 2);
  const rounds = quick ? 1 : 5;
  console.log(
    'HTTPS: serveHttp vs https.createServer, same certificate and handler (CPU of the server per unit)',
  );
  for (const [mode, name, unit] of /** @type {const} */ ([
    ['keepalive', 'small GETs over keep-alive, 32 clients', 'req/s'],
    ['handshakes', 'new connection per GET, 16 clients', 'conn/s'],
  ])) {
    await pair('http', name, { unit, cpuUnit: 'us', rounds, target: '>= 0.95' }, async (impl) => {
      const result = await measure(
        './http.mjs',
        ['server', impl, pki, mode, seconds],
        (port) => ['client', impl, pki, mode, seconds, String(port)],
        'client',
      );
      return { value: result.rate, cpu: result.cpu };
    });
  }
}

if (sections.has('idle')) {
  const count = quick ? 1000 : 10_000;
  console.log(
    `Memory per idle TLS connection, ${count} connections (server side; CPU of the server per connection set up)`,
  );
  const idleRounds = quick ? 1 : 3;
  /** @type {Record<'raw' | 'tlskit', Array<{ rss: number, heap: number, cpu: number }>>} */
  const samples = { raw: [], tlskit: [] };
  for (let round = 0; round < idleRounds; round++) {
    for (const impl of /** @type {const} */ (['raw', 'tlskit'])) {
      const server = worker('./idle.mjs', ['server', impl, pki, String(count)], {
        execArgv: ['--expose-gc'],
        timeout: 180_000,
      });
      const { port } = await server.next();
      const clients = ['127.0.0.2', '127.0.0.3'].map((address) =>
        worker('./idle.mjs', ['client', pki, String(count / 2), String(port), address], { timeout: 180_000 }),
      );
      try {
        await Promise.all(clients.map((client) => client.next()));
        server.send('measure');
        const result = await server.next();
        if (result.established !== count)
          throw new Error(`${impl}: only ${result.established} of ${count} connections were established`);
        samples[impl].push({
          rss: result.rssPerConnection,
          heap: result.heapPerConnection,
          cpu: result.cpuPerConnection,
        });
      } finally {
        for (const client of clients) client.stop();
        server.stop();
      }
    }
  }
  for (const [name, key, target] of /** @type {const} */ ([
    ['RSS per idle connection', 'rss', '<= 1.15'],
    ['heap per idle connection', 'heap', undefined],
  ])) {
    /** @type {Entry} */
    const entry = {
      section: 'idle',
      name,
      unit: 'bytes',
      // The set-up CPU goes on the RSS row only: one figure per measurement, not two.
      cpuUnit: key === 'rss' ? 'us' : '',
      raw: samples.raw.map((s) => s[key]),
      tlskit: samples.tlskit.map((s) => s[key]),
      rawCpu: key === 'rss' ? samples.raw.map((s) => s.cpu) : [],
      tlskitCpu: key === 'rss' ? samples.tlskit.map((s) => s.cpu) : [],
      target,
      higherIsBetter: false,
    };
    results.push(entry);
    const cpu =
      key === 'rss' ? `; CPU ${format(median(entry.rawCpu))} vs ${format(median(entry.tlskitCpu))} us` : '';
    console.log(
      `  ${name}: raw ${format(median(entry.raw))}, tlskit ${format(median(entry.tlskit))} bytes (ratio ${ratio(entry).toFixed(2)}${cpu})`,
    );
  }
}

/** @type {number[]} */
const mintTimes = [];
if (sections.has('mint')) {
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    const start = performance.now();
    const ca = await createCA();
    await ca.issue({ hosts: ['localhost'] });
    mintTimes.push(performance.now() - start);
  }
  console.log(
    `Minting: an ECDSA P-256 CA plus a leaf, median ${median(mintTimes).toFixed(1)} ms over ${mintTimes.length}`,
  );
}

/** @type {Awaited<ReturnType<typeof benchLab>> | undefined} */
let lab;
if (sections.has('lab')) {
  console.log('Bad-TLS lab: start-up in a fresh process, and badtls check with curl (targets 2 s and 20 s)');
  lab = await benchLab(quick ? 2 : 5);
}

if (sections.has('tunnel')) {
  if (!hasStunnel()) {
    skipped.push('tlskit tunnel vs stunnel4: skipped, stunnel4 is not installed (apt-get install stunnel4)');
    console.log(skipped.at(-1));
  } else {
    console.log(
      'tlskit tunnel vs stunnel4, terminate mode (raw column = stunnel4; CPU = the tunnel process only)',
    );
    const entries = await benchTunnel(pki, {
      rounds: quick ? 1 : 3,
      bytes: (quick ? 256 : 1024) * MiB,
      seconds: quick ? 2 : 5,
    });
    for (const entry of entries) {
      results.push({ ...entry, baseline: 'stunnel4' });
      console.log(
        `  ${entry.name}: stunnel4 ${format(median(entry.raw))}, tlskit ${format(median(entry.tlskit))} ${entry.unit} (ratio ${ratio(entry).toFixed(2)})`,
      );
    }
  }
}

if (sections.has('peers')) {
  console.log(
    'Peers: Go crypto/tls and Python asyncio as the server, alternating with tlskit (raw column = the peer; CPU = the server process only)',
  );
  skipped.push(...(await benchPeers(pki, pair, { quick })));
}

printTable(results);
if (mintTimes.length)
  console.log(`\nMinting an ECDSA CA plus a leaf: median ${median(mintTimes).toFixed(1)} ms.`);
console.log(
  `\nTook ${((Date.now() - started) / 1000).toFixed(0)} s; raw and tlskit alternating, medians shown. Load average at start: ${machine.loadAtStart}, at end: ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}.`,
);

mkdirSync('.bench-out', { recursive: true });
const file = `.bench-out/results-${quick ? 'quick' : 'full'}-${machine.date.replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ machine, quick, results, skipped, mintTimes, lab }, null, 2));
console.log(`Raw numbers: ${file}`);
if (values.json)
  console.log(
    summary(results, {
      machine,
      quick,
      file,
      skipped,
      mintMs: mintTimes.length ? median(mintTimes) : null,
      lab: lab ?? null,
    }),
  );
