/**
 * What the `tlskit` command loads. Each command is imported only when asked for, so a
 * long-running `tlskit tunnel` does not carry the certificate tooling (node-forge, @peculiar/x509)
 * in its heap: a bigger old generation makes V8 run major collections all through a bulk
 * transfer, which cost the tunnel a third of its throughput (docs/BENCHMARKS.md, tunnel).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';

const preload = new URL('../fixtures/list-modules.cjs', import.meta.url).pathname;
const main = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const heavy = /node_modules\/(node-forge|@peculiar|asn1js|reflect-metadata|undici)\//;

/** Runs the command until `ready` (if given) shows on stderr, stops it, returns the modules loaded. */
function loadedBy(args: string[], ready?: RegExp): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', preload, main, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (ready?.test(stderr)) {
        ready = undefined; // one SIGTERM: a second one stops the tunnel without its drain
        child.kill('SIGTERM');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
      if (!line) reject(new Error(`no module list (exit ${code}, signal ${signal}); stderr:\n${stderr}`));
      else resolve(JSON.parse(line.slice('LOADED '.length)) as string[]);
    });
  });
}

describe('the tlskit command loads only what the command needs', () => {
  it('`tlskit version` loads no certificate tooling', async () => {
    expect((await loadedBy(['version'])).filter((m) => heavy.test(m))).toEqual([]);
  });

  it('`tlskit tunnel` (terminate) runs without the certificate tooling', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlskit-startup-'));
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['localhost'] });
    writeFileSync(join(dir, 'cert.pem'), leaf.chainPem);
    writeFileSync(join(dir, 'key.pem'), leaf.keyPem);
    const args = ['tunnel', '--accept', '127.0.0.1:0', '--to', '127.0.0.1:9'];
    const files = ['--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem')];
    const loaded = await loadedBy([...args, ...files], /event=listening/);
    expect(loaded.filter((m) => heavy.test(m))).toEqual([]);
  });

  it('`tlskit cert` still loads its tooling (the list above would notice nothing otherwise)', async () => {
    const loaded = await loadedBy(['cert', 'inspect', '--help']);
    expect(loaded.some((m) => heavy.test(m))).toBe(true);
  });
});
