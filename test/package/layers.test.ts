/**
 * The import rules of docs/ARCHITECTURE.md, checked on the sources: each directory of src/ imports
 * only the layers below it, no file takes part in an import cycle, and the dangerous entry point is
 * reachable only through its own import line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * A layer may import only layers of a lower rank. Layers of one rank stay independent of each
 * other (`server` does not import `pki`, `testing` does not import `stream`).
 */
const RANK: Record<string, number> = {
  transport: 0,
  tls: 1,
  pki: 2,
  server: 2,
  danger: 2,
  stream: 3,
  testing: 3,
  cli: 4,
  'index.ts': 4, // the `tlskit` entry point gathers the layers
};

interface Edge {
  from: string;
  to: string;
  /** `import type`: erased from the JavaScript, so it cannot make a cycle at run time. */
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const STATIC = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?'(\.[^']+)'/gm;
const DYNAMIC = /\bimport\(\s*'(\.[^']+)'\s*\)/g;

function edgesOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const target = (specifier: string) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
  return [
    ...[...text.matchAll(STATIC)].map((m) => ({
      from: file,
      to: target(m[2]!),
      typeOnly: m[1] !== undefined,
    })),
    ...[...text.matchAll(DYNAMIC)].map((m) => ({ from: file, to: target(m[1]!), typeOnly: false })),
  ];
}

const files = sourceFiles(SRC);
const edges = files.flatMap(edgesOf);
const layerOf = (file: string) => relative(SRC, file).split('/')[0]!;
const name = (file: string) => relative(SRC, file);

/** Every cycle through value imports, each as the list of files around it. */
function valueCycles(): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const visit = (file: string, path: string[]) => {
    state.set(file, 'open');
    path.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === 'open') cycles.push(path.slice(path.indexOf(to)).map(name));
      else if (!state.has(to)) visit(to, path);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file, []);
  return cycles;
}

describe('the import rules', () => {
  it('finds the imports it checks (the scan itself works)', () => {
    expect(files.length).toBeGreaterThan(100);
    const crossing = edges.filter((e) => layerOf(e.from) !== layerOf(e.to));
    expect(crossing.length).toBeGreaterThan(50);
    expect(edges.every((e) => files.includes(e.to))).toBe(true);
  });

  it('every directory of src/ has a rank', () => {
    expect(files.map(layerOf).filter((layer) => RANK[layer] === undefined)).toEqual([]);
  });

  it('imports point downward only', () => {
    const upward = edges
      .filter((e) => layerOf(e.from) !== layerOf(e.to))
      .filter((e) => RANK[layerOf(e.to)]! >= RANK[layerOf(e.from)]!)
      .map((e) => `${name(e.from)} -> ${name(e.to)}`);
    expect(upward).toEqual([]);
  });

  it('no file is part of an import cycle', () => {
    expect(valueCycles()).toEqual([]);
  });

  it('only tlskit/danger itself imports src/danger/', () => {
    const into = edges.filter((e) => layerOf(e.to) === 'danger' && layerOf(e.from) !== 'danger');
    expect(into.map((e) => name(e.from))).toEqual([]);
  });
});
