// @ts-check
/**
 * The bad-TLS lab's speed: how long `startLab()` takes to build every scenario and start every
 * server, and until `lab.ready` (each round in a fresh process, after its imports),
 * and how long `tlskit badtls check` over the whole lab takes with curl, end to end, as a user
 * runs it. Targets on the 2-core reference machine: start < 2 s, check < 20 s.
 *
 * node bench/lab.mjs [rounds]     (npm run bench -- --only lab runs it too)
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from './common.mjs';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** One fresh process: import tlskit/testing, start the whole lab, stop it; the times in ms. */
async function startOnce() {
  const script = `
    const t0 = performance.now();
    const { startLab } = await import('tlskit/testing');
    const t1 = performance.now();
    const cpu = process.cpuUsage();
    const lab = await startLab();
    const t2 = performance.now();
    await lab.ready;
    const t3 = performance.now();
    const used = process.cpuUsage(cpu);
    await lab.stop();
    console.log(JSON.stringify({ importMs: t1 - t0, startMs: t2 - t1, readyMs: t3 - t1, cpuMs: (used.user + used.system) / 1000, served: lab.scenarios.filter((s) => !s.unavailable).length }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
  return /** @type {{ importMs: number, startMs: number, readyMs: number, cpuMs: number, served: number }} */ (
    JSON.parse(stdout)
  );
}

/** `tlskit badtls check` over the whole lab with curl, wall-clock ms and its summary line. */
async function checkOnce() {
  const curl = [
    'curl',
    '-sS',
    '--cacert',
    '{ca}',
    '--crlfile',
    '{crl}',
    '--cert',
    '{cert}',
    '--key',
    '{key}',
  ];
  const started = performance.now();
  const { stdout } = await run(
    process.execPath,
    ['dist/cli/main.js', 'badtls', 'check', '--', ...curl, '--connect-to', '::{addr}:', '{url}'],
    { cwd: root },
  ).catch((/** @type {{ stdout: string }} */ error) => error);
  return { ms: performance.now() - started, summary: stdout.trim().split('\n').at(-1) ?? '' };
}

/** Runs both measurements `rounds` times and prints medians; returns them for bench/run.mjs. */
export async function benchLab(rounds = 5) {
  /** @type {number[]} */
  const start = [];
  /** @type {number[]} */
  const imports = [];
  /** @type {number[]} */
  const ready = [];
  /** @type {number[]} */
  const cpu = [];
  /** @type {number[]} */
  const check = [];
  let served = 0;
  let summary = '';
  for (let round = 0; round < rounds; round++) {
    const once = await startOnce();
    start.push(once.startMs);
    imports.push(once.importMs);
    ready.push(once.readyMs);
    cpu.push(once.cpuMs);
    served = once.served;
    const checked = await checkOnce();
    check.push(checked.ms);
    summary = checked.summary;
  }
  const ms = (/** @type {number[]} */ values) =>
    `${median(values).toFixed(0)} ms (${values.map((v) => v.toFixed(0)).join(', ')})`;
  console.log(`  startLab() resolves, ${served} servers listening: median ${ms(start)}`);
  console.log(`  lab.ready (the RSA 4096 leaf made too): median ${ms(ready)}`);
  console.log(`  CPU of the whole start, all threads: median ${ms(cpu)}`);
  console.log(`  importing tlskit/testing first: median ${ms(imports)}`);
  console.log(`  badtls check with curl over the whole lab: median ${ms(check)}; last run: ${summary}`);
  return { start, ready, cpu, imports, check, served };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log('Bad-TLS lab');
  await benchLab(Number(process.argv[2] ?? 5));
}
