// @ts-check
/**
 * Shared pieces of the benchmarks: certificates minted once per run and handed to worker
 * processes through a file, process plumbing, and statistics.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createCA } from 'tlskit/pki';

/** @typedef {{ caPem: string, certPem: string, keyPem: string }} Credentials */
/** @typedef {{ ecdsa: Credentials, rsa: Credentials }} BenchPki */

/**
 * Profiling: with TLSKIT_BENCH_PROFILE=<dir>, every worker runs under --cpu-prof (sampling every
 * 100 µs) and writes its profile there when stopped. A profiled worker is stopped by closing its
 * IPC channel, on which it exits: a signal could arrive while a worker that finished on its own is
 * still writing its profile, and kill it before the file is complete.
 */
const profileDir = process.env.TLSKIT_BENCH_PROFILE;
if (profileDir && process.send) process.on('disconnect', () => process.exit(0));

/** Mints the run's certificates (ECDSA P-256 and RSA 2048) and saves them for the workers. */
export async function mintPki() {
  /** @type {Record<string, Credentials>} */
  const pki = {};
  for (const [name, keyType] of /** @type {const} */ ([
    ['ecdsa', 'ecdsa-p256'],
    ['rsa', 'rsa-2048'],
  ])) {
    const ca = await createCA({ keyType });
    const leaf = await ca.issue({ hosts: ['localhost', '127.0.0.1'], keyType, usage: 'server' });
    pki[name] = { caPem: ca.certPem, certPem: leaf.chainPem, keyPem: leaf.keyPem };
  }
  const file = join(mkdtempSync(join(tmpdir(), 'tlskit-bench-')), 'pki.json');
  writeFileSync(file, JSON.stringify(pki));
  return file;
}

/** @param {string} file @returns {BenchPki} */
export function loadPki(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * Runs a worker script as a child process and returns a handle to exchange IPC messages with it.
 * @param {string} script @param {string[]} args @param {{ timeout?: number, execArgv?: string[] }} [options]
 */
export function worker(script, args, options = {}) {
  const child = fork(new URL(script, import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [
      ...(options.execArgv ?? []),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=100'] : []),
    ],
  });
  /** @type {any[]} */
  const inbox = [];
  /** @type {((message: any) => void) | null} */
  let waiting = null;
  child.on('message', (message) => {
    if (waiting) {
      const resolve = waiting;
      waiting = null;
      resolve(message);
    } else inbox.push(message);
  });
  const timeout = options.timeout ?? 120_000;
  return {
    child,
    /** @param {any} message */
    send: (message) => child.send(message),
    /** @returns {Promise<any>} */
    next() {
      if (inbox.length > 0) return Promise.resolve(inbox.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${script} ${args.join(' ')}: no answer within ${timeout} ms`)),
          timeout,
        );
        const onExit = (/** @type {number} */ code) =>
          reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
        child.once('exit', onExit);
        waiting = (message) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(message);
        };
      });
    },
    stop() {
      if (child.exitCode !== null) return;
      if (!profileDir) child.kill('SIGKILL');
      else if (child.connected) child.disconnect();
    },
  };
}

/** In a worker: reports to the parent. @param {any} message */
export function report(message) {
  process.send?.(message);
}

/** In a worker: the next message from the parent. @returns {Promise<any>} */
export function fromParent() {
  return new Promise((resolve) => process.once('message', resolve));
}

/** Process CPU time (user + system) in microseconds. */
export function cpuNow() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * CPU seconds (user + system, all threads) another Linux process used so far, for servers that are
 * not Node workers (stunnel4, the Go and Python peers). Resolution is one clock tick, 10 ms.
 */
export function processCpu(/** @type {number} */ pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/**
 * In a worker: once the parent sends 'cpu', reports the CPU time spent since `since()` (a start
 * mark in microseconds, 0 for "nothing happened yet") per unit of work counted by `units()`.
 * @param {() => number} since @param {() => number} units
 */
export function answerCpu(since, units) {
  process.on('message', (message) => {
    if (message !== 'cpu') return;
    const start = since();
    report({ cpu: start === 0 || units() === 0 ? Number.NaN : (cpuNow() - start) / units() });
  });
}

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/** A 64 KiB write, as the throughput benchmarks send. */
export const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/**
 * One raw node:tls client handshake to the benchmark's handshake server (127.0.0.1, name
 * localhost): reads until the server's close_notify, so TLS 1.3 session tickets have arrived,
 * answers in kind, and resolves once closed to whether the session was resumed. `state` carries
 * the session from one handshake to the next; `null` for full handshakes.
 * @param {number} port @param {import('node:tls').SecureContext} secureContext
 * @param {{ session?: Buffer } | null} state @returns {Promise<boolean>}
 */
export function rawHandshake(port, secureContext, state) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      secureContext,
      servername: 'localhost',
      session: state?.session,
    });
    if (state) socket.on('session', (session) => (state.session = session));
    socket.on('data', () => {});
    // The server closed (close_notify): answer in kind, as tlskit's default eofReceived does.
    socket.once('end', () => {
      const reused = socket.isSessionReused();
      socket.end();
      socket.once('close', () => resolve(reused));
    });
    socket.once('error', reject);
  });
}
