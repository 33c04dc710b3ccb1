/**
 * tlskit as another project sees it: the packed tarball (what `npm install tlskit` gets), imported
 * from ESM, CommonJS and TypeScript the way the README's "Use it in your project" says. Tests run
 * offline, so the tarball's runtime dependencies are linked from this clone's node_modules rather
 * than installed from the registry.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let project = '';

/** The packages `npm install tlskit` would bring: every non-dev entry of the lockfile. */
function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev && !entry.devOptional)
    .map(([path]) => path.slice('node_modules/'.length))
    .filter((name) => !name.includes('/node_modules/'));
}

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'tlskit-consumer-'));
  // dist/ is already built by `npm test`; packing must not rebuild it.
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--silent', '--pack-destination', project],
    {
      cwd: root,
    },
  );
  const tarball = join(project, stdout.trim().split('\n').at(-1)!);
  const installed = join(project, 'node_modules', 'tlskit');
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  for (const name of [...runtimePackages(), '@types/node']) {
    const link = join(project, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), link, 'dir');
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
}, 60_000);

/** The README's three lines that make `ca`, `certPem` and `keyPem` anywhere. */
function readmePkiSnippet(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /three lines of\s+`tlskit\/pki` make them anywhere:\n\n```js\n([\s\S]*?)```/.exec(readme);
  expect(block, 'the README lost its pki snippet').not.toBeNull();
  return block![1]!;
}

describe('the packed package, used from another project', () => {
  it('ESM: all four entry points import, and the README snippet plus a TLS echo run', async () => {
    writeFileSync(
      join(project, 'main.mjs'),
      `${readmePkiSnippet()}
import { clientContext, serverContext, startTls } from 'tlskit';
import { memoryPair } from 'tlskit/testing';
import { insecureClientContext } from 'tlskit/danger';
if (typeof insecureClientContext !== 'function') throw new Error('tlskit/danger');
const [a, b] = memoryPair();
const [client, server] = await Promise.all([
  startTls(a, { context: clientContext({ trust: ca.trust }), serverName: 'localhost' }),
  startTls(b, { context: serverContext({ cert: certPem, key: keyPem }) }),
]);
server.setProtocol({ dataReceived: (data) => server.write(data) });
client.setProtocol({ dataReceived: (data) => { console.log(Buffer.from(data).toString()); client.close(); server.close(); } });
client.write('echo over TLS');
`,
    );
    const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: project, timeout: 20_000 });
    expect(stdout.trim()).toBe('echo over TLS');
  });

  it("the README's first program runs as printed and says what its comment says", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /A first program, complete[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
    expect(block, 'the README lost its first program').not.toBeNull();
    writeFileSync(join(project, 'first.mjs'), block![1]!);
    const { stdout } = await run(process.execPath, ['first.mjs'], { cwd: project, timeout: 20_000 });
    expect(stdout).toBe('hello, world (TLSv1.3)\n');
  });

  it('CommonJS: require() of every entry point gives the same API', async () => {
    writeFileSync(
      join(project, 'main.cjs'),
      `const tlskit = require('tlskit');
const pki = require('tlskit/pki');
const testing = require('tlskit/testing');
const danger = require('tlskit/danger');
console.log([typeof tlskit.connect, typeof pki.createCA, typeof testing.memoryPair, typeof danger.insecureClientContext, typeof danger.keyLog].join(' '));
`,
    );
    const { stdout } = await run(process.execPath, ['main.cjs'], { cwd: project });
    expect(stdout.trim()).toBe('function function function function function');
  });

  for (const resolution of ['nodenext', 'bundler'] as const) {
    it(`TypeScript with moduleResolution ${resolution}: the types of every entry point check`, async () => {
      const dir = join(project, `ts-${resolution}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: 'es2022',
            module: resolution === 'nodenext' ? 'nodenext' : 'esnext',
            moduleResolution: resolution,
            types: ['node'],
            skipLibCheck: false,
          },
          files: ['main.ts'],
        }),
      );
      writeFileSync(
        join(dir, 'main.ts'),
        `import { type ClientContext, clientContext, type Transport } from 'tlskit';
import { createCA, type IssuedCertificate } from 'tlskit/pki';
import { memoryPair } from 'tlskit/testing';
import { insecureClientContext, type KeyLog, keyLog } from 'tlskit/danger';
const ca = await createCA();
const leaf: IssuedCertificate = await ca.issue({ hosts: ['localhost'] });
const context: ClientContext = clientContext({ trust: ca.trust });
const [a]: [Transport, Transport] = memoryPair();
const log: KeyLog = keyLog(context, (line: Buffer) => void line.length, { reason: 'type check' });
void [leaf.certPem, context, a.info.kind, insecureClientContext, log.stop];
export {};
`,
      );
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).catch(
        (error: { stdout?: string }) => error,
      );
      expect((result as { stdout?: string }).stdout ?? '').toBe('');
    });
  }

  it('the tlskit command runs from the installed package', async () => {
    const { stdout } = await run(
      process.execPath,
      [join(project, 'node_modules', 'tlskit', 'dist', 'cli', 'main.js'), '--version'],
      { cwd: project },
    );
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
