/**
 * Tests write only to temporary directories. The clone's certs/ belongs to its user (`npx tlskit
 * cert dev` puts their development keys there, and the demo then uses them), so the run fails if
 * any test added, changed or removed a file in it.
 */
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const certs = fileURLToPath(new URL('../certs/', import.meta.url));

function snapshot(): string {
  return readdirSync(certs)
    .sort()
    .map((name) => {
      const { size, mtimeMs } = statSync(`${certs}${name}`);
      return `${name} ${size} ${mtimeMs}`;
    })
    .join('\n');
}

export default function setup(): () => void {
  const before = snapshot();
  return () => {
    const after = snapshot();
    if (after === before) return;
    // vitest reports an error thrown here but still exits 0, so the exit code is set as well.
    process.exitCode = 1;
    throw new Error(
      `a test wrote into certs/ (tests must use temporary directories):\nbefore:\n${before}\nafter:\n${after}`,
    );
  };
}
