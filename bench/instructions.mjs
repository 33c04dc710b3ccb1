// @ts-check
/**
 * Instructions per handshake, counted by valgrind's callgrind: raw node:tls against tlskit, both
 * sides in one process (bench/handshake-loop.mjs). A count does not move with the neighbours the
 * way CPU time does on a shared VM, so a change of a few percent shows; it leaves out what the
 * kernel does in system calls, which `strace -c` compares. Each figure is the difference between
 * a long and a short run, divided by the handshakes between them, so start-up cancels out.
 */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const loop = fileURLToPath(new URL('./handshake-loop.mjs', import.meta.url));

/** Whether valgrind is installed. */
export function hasValgrind() {
  return spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** Instructions callgrind counted for one run of the loop. */
async function count(/** @type {string[]} */ args) {
  const { stderr } = await run(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      '--smc-check=all-non-file',
      process.execPath,
      loop,
      ...args,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const match = /Collected : (\d+)/.exec(stderr);
  if (!match) throw new Error(`callgrind printed no count for ${args.join(' ')}:\n${stderr.slice(-2000)}`);
  return Number(match[1]);
}

/**
 * Instructions per handshake of `impl` for one case: runs of `short` and `long` handshakes, side
 * by side (two cores), and the difference between them.
 * @param {'raw' | 'tlskit'} impl @param {string} pki @param {string} version @param {string} kind
 * @param {{ short: number, long: number }} counts
 */
export async function instructionsPerHandshake(impl, pki, version, kind, { short, long }) {
  const [few, many] = await Promise.all([
    count([impl, pki, version, kind, String(short)]),
    count([impl, pki, version, kind, String(long)]),
  ]);
  return (many - few) / (long - short);
}
