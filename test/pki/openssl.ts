import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'tlskit-pki-openssl-'));
let count = 0;

/** Writes `content` to a fresh temporary file; returns its path. */
export function tempFile(name: string, content: string | Uint8Array): string {
  const path = join(dir, `${++count}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** `openssl <args>`; resolves with stdout and stderr, or with them and `failed` when it exits non-zero. */
export async function openssl(args: string[]): Promise<{ stdout: string; stderr: string; failed: boolean }> {
  try {
    const { stdout, stderr } = await run('openssl', args);
    return { stdout, stderr, failed: false };
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return { stdout, stderr, failed: true };
  }
}

/** `openssl x509 -text` of a PEM certificate. */
export async function certificateText(pem: string, extra: string[] = []): Promise<string> {
  const result = await openssl(['x509', '-noout', '-text', ...extra, '-in', tempFile('cert.pem', pem)]);
  if (result.failed) throw new Error(`openssl x509 failed: ${result.stderr}`);
  return result.stdout;
}
