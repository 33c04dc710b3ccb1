/**
 * What `import 'tlskit'` loads. undici (the `fetch` dispatcher's engine) is most of the cost of
 * importing the library, about 85 ms and 16 MB, so it is loaded only when a program makes its
 * first `tlsDispatcher`. Run against the build in dist/, ESM and CommonJS, in a fresh process.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const preload = new URL('../fixtures/list-modules.cjs', import.meta.url).pathname;
const dist = new URL('../../dist/', import.meta.url).pathname;
const undici = /node_modules\/undici\//;

/** Runs `code` (ESM or CommonJS) in a fresh Node and returns the CommonJS modules it loaded. */
function loadedBy(code: string, type: 'module' | 'commonjs'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', preload, `--input-type=${type}`, '-e', code], {
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: dist,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
      if (status !== 0 || !line) reject(new Error(`exit ${status}; stderr:\n${stderr}`));
      else resolve(JSON.parse(line.slice('LOADED '.length)) as string[]);
    });
  });
}

const esm = `${dist}index.js`;
const cjs = `${dist}index.cjs`;
/** Makes a dispatcher with `lib` (the imported library) and checks it is undici's own Agent class. */
const DISPATCHER = [
  "const agent = lib.tlsDispatcher(lib.clientContext({ trust: 'system' }));",
  "if (!(agent instanceof require('undici').Agent)) process.exit(3);",
  'agent.close();',
].join('\n');

describe('importing tlskit loads undici only for a dispatcher', () => {
  it('ESM: the import alone loads no undici', async () => {
    const loaded = await loadedBy(`await import(${JSON.stringify(esm)});`, 'module');
    expect(loaded.filter((m) => undici.test(m))).toEqual([]);
    expect(loaded.length).toBeGreaterThan(0);
  });

  it('CommonJS: require alone loads no undici', async () => {
    const loaded = await loadedBy(`require(${JSON.stringify(cjs)});`, 'commonjs');
    expect(loaded.filter((m) => undici.test(m))).toEqual([]);
  });

  it('a dispatcher loads it, and is an undici Agent (ESM and CommonJS)', async () => {
    const esmCode = [
      `import { createRequire } from 'node:module';`,
      `const require = createRequire(${JSON.stringify(esm)});`,
      `const lib = await import(${JSON.stringify(esm)});`,
      DISPATCHER,
    ].join('\n');
    const cjsCode = `const lib = require(${JSON.stringify(cjs)});\n${DISPATCHER}`;
    for (const [code, type] of [
      [esmCode, 'module'],
      [cjsCode, 'commonjs'],
    ] as const) {
      const loaded = await loadedBy(code, type);
      expect(loaded.some((m) => undici.test(m))).toBe(true);
    }
  });
});
