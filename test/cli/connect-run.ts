/**
 * Runs the built `tlskit` command as a user would, for the `tlskit connect` tests: a child process
 * with a deadline, standard input from a string (a pipe that then ends) or from /dev/null, and its
 * exit code and output collected.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tlskit ARGS`; `input` is piped to it, else stdin is /dev/null. Kills it after `timeout`. */
export function tlskit(
  args: string[],
  options: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const { input, timeout = 15_000 } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', ...args], {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    if (input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tlskit ${args.join(' ')} did not exit within ${timeout} ms:\n${stdout}\n${stderr}`));
    }, timeout);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temporary directory, and a function writing a file into it and returning its path. */
export function scratch(prefix = 'tlskit-connect-'): (name: string, text: string) => string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return (name, text) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
}
