// @ts-check
/**
 * tlskit against raw node:tls, side by side. Every case runs raw, tlskit, raw, tlskit, ... with
 * client and server in separate processes, and reports medians and the tlskit/raw ratio.
 *
 * npm run bench              full run (under ten minutes)
 * npm run bench -- --quick   a smaller run for development (under a minute)
 * npm run bench -- --only throughput,handshakes,pingpong,idle,mint
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createCA } from 'tlskit/pki';
import { median, mintPki, worker } from './common.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const quick = values.quick === true;
const sections = new Set((values.only ?? 'throughput,handshakes,pingpong,idle,mint').split(','));
const rounds = quick ? 1 : 5;
const MiB = 1024 * 1024;

/** @type {Array<{ section: string, name: string, unit: string, raw: number[], tlskit: number[], target?: string, higherIsBetter: boolean }>} */
const results = [];

/** Runs a server worker and client workers for one measurement; returns the server's or client's report. */
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
      return reporter === 'server' ? await server.next() : await client.next();
    } finally {
      client.stop();
    }
  } finally {
    server.stop();
  }
}

/** Alternates raw and tlskit `rounds` times and records both series. */
async function pair(
  /** @type {string} */ section,
  /** @type {string} */ name,
  /** @type {string} */ unit,
  /** @type {(impl: 'raw' | 'tlskit') => Promise<number>} */ run,
  /** @type {{ target?: string, higherIsBetter?: boolean }} */ options = {},
) {
  const entry = {
    section,
    name,
    unit,
    raw: /** @type {number[]} */ ([]),
    tlskit: /** @type {number[]} */ ([]),
    target: options.target,
    higherIsBetter: options.higherIsBetter ?? true,
  };
  for (let round = 0; round < rounds; round++) {
    entry.raw.push(await run('raw'));
    entry.tlskit.push(await run('tlskit'));
  }
  results.push(entry);
  const ratio = median(entry.tlskit) / median(entry.raw);
  console.log(
    `  ${name}: raw ${format(median(entry.raw))}, tlskit ${format(median(entry.tlskit))} ${unit} (ratio ${ratio.toFixed(2)})`,
  );
}

const format = (/** @type {number} */ value) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

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
  console.log(`Throughput: ${Number(bytes) / MiB} MiB one way in 64 KiB writes (MB/s)`);
  const twoProcesses = (/** @type {string} */ scenario) => (/** @type {'raw' | 'tlskit'} */ impl) =>
    measure(
      './throughput.mjs',
      ['server', scenario, impl, pki, bytes],
      (port) => ['client', scenario, impl, pki, bytes, String(port)],
      'server',
    ).then((r) => r.mbps);
  await pair('throughput', 'TLS over TCP', 'MB/s', twoProcesses('tcp'), { target: '>= 0.98' });
  await pair('throughput', 'TLS over TLS over TCP', 'MB/s', twoProcesses('tls-in-tls'));
  await pair(
    'throughput',
    'TLS over a pure-JS transport (vs raw TLS over TCP), two processes',
    'MB/s',
    (impl) => twoProcesses(impl === 'raw' ? 'tcp' : 'pure-js')(impl),
    { target: '>= 0.80' },
  );
  await pair(
    'throughput',
    'TLS over a memory pair (vs raw TLS over TCP), one process',
    'MB/s',
    async (impl) => {
      const job = worker('./throughput.mjs', ['both', 'one-process', impl, pki, bytes]);
      try {
        return (await job.next()).mbps;
      } finally {
        job.stop();
      }
    },
    { target: '>= 0.80' },
  );
}

if (sections.has('handshakes')) {
  const seconds = String(quick ? 0.5 : 2);
  console.log('Handshakes per second, 16 concurrent clients');
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
      '/s',
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
        return result.rate;
      },
      { target: kind === 'full' ? '>= 0.97' : undefined },
    );
  }
}

if (sections.has('pingpong')) {
  const seconds = String(quick ? 0.5 : 3);
  console.log('Ping-pong: 64-byte round trips per second over one TLS connection');
  await pair(
    'pingpong',
    '64-byte round trips',
    '/s',
    (impl) =>
      measure(
        './pingpong.mjs',
        ['server', impl, pki, seconds],
        (port) => ['client', impl, pki, seconds, String(port)],
        'client',
      ).then((r) => r.rate),
    { target: '>= 0.95' },
  );
}

if (sections.has('idle')) {
  const count = quick ? 1000 : 10_000;
  console.log(`Memory per idle TLS connection, ${count} connections (server side)`);
  const idleRounds = quick ? 1 : 3;
  /** @type {Record<'raw' | 'tlskit', Array<{ rss: number, heap: number }>>} */
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
        samples[impl].push({ rss: result.rssPerConnection, heap: result.heapPerConnection });
      } finally {
        for (const client of clients) client.stop();
        server.stop();
      }
    }
  }
  for (const [name, key] of /** @type {const} */ ([
    ['RSS per idle connection', 'rss'],
    ['heap per idle connection', 'heap'],
  ])) {
    const entry = {
      section: 'idle',
      name,
      unit: 'bytes',
      raw: samples.raw.map((s) => s[key]),
      tlskit: samples.tlskit.map((s) => s[key]),
      target: '<= 1.15',
      higherIsBetter: false,
    };
    results.push(entry);
    console.log(
      `  ${name}: raw ${format(median(entry.raw))}, tlskit ${format(median(entry.tlskit))} bytes (ratio ${(median(entry.tlskit) / median(entry.raw)).toFixed(2)})`,
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

console.log('\n| section | case | raw node:tls | tlskit | unit | tlskit/raw | target |');
console.log('| --- | --- | ---: | ---: | --- | ---: | --- |');
for (const entry of results) {
  const ratio = median(entry.tlskit) / median(entry.raw);
  const met = entry.target === undefined ? '' : evaluate(entry.target, ratio) ? ' (met)' : ' (missed)';
  console.log(
    `| ${entry.section} | ${entry.name} | ${format(median(entry.raw))} | ${format(median(entry.tlskit))} | ${entry.unit} | ${ratio.toFixed(2)} | ${entry.target ?? ''}${met} |`,
  );
}
if (mintTimes.length)
  console.log(`\nMinting an ECDSA CA plus a leaf: median ${median(mintTimes).toFixed(1)} ms.`);
console.log(
  `\nTook ${((Date.now() - started) / 1000).toFixed(0)} s. ${rounds} round(s), raw and tlskit alternating; medians shown.`,
);

mkdirSync('.bench-out', { recursive: true });
const file = `.bench-out/results-${quick ? 'quick' : 'full'}-${machine.date.replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ machine, quick, rounds, results, mintTimes }, null, 2));
console.log(`Raw numbers: ${file}`);

function evaluate(/** @type {string} */ target, /** @type {number} */ ratio) {
  const [op, value] = target.split(' ');
  return op === '>=' ? ratio >= Number(value) : ratio <= Number(value);
}
