import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^tlskit\/testing$/, replacement: src('testing/index.ts') },
      { find: /^tlskit\/pki$/, replacement: src('pki/index.ts') },
      { find: /^tlskit\/danger$/, replacement: src('danger/index.ts') },
      { find: /^tlskit$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
