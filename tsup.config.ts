import { defineConfig } from 'tsup';

const common = {
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: true,
  // `import.meta.url` in the CommonJS build (src/stream/http-client.ts loads undici on demand).
  shims: true,
} as const;

export default defineConfig([
  {
    ...common,
    entry: {
      index: 'src/index.ts',
      'testing/index': 'src/testing/index.ts',
      'pki/index': 'src/pki/index.ts',
      'danger/index': 'src/danger/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: false,
  },
  {
    // The command is ESM only; it imports the library through its own chunks.
    ...common,
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
  },
]);
