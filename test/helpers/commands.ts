import { execFileSync } from 'node:child_process';

/**
 * Whether `name` is a command on PATH, for tests of optional tools that skip, with a message,
 * where the tool is missing.
 */
export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
