import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main as echoMain } from '../examples/echo/main.mjs';

const run = promisify(execFile);

describe('examples', () => {
  it('echo: both servers answer with what they were sent', async () => {
    const lines: string[] = [];
    await echoMain((line: string) => lines.push(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^callback protocol answered: hello from the callback protocol on port \d+$/);
    expect(lines[1]).toMatch(/^async handler answered: hello from the async handler on port \d+$/);
  });

  it('echo runs as a plain Node program against the built package', async () => {
    const { stdout } = await run(process.execPath, ['examples/echo/main.mjs'], { timeout: 15_000 });
    expect(stdout).toMatch(/callback protocol answered: hello/);
    expect(stdout).toMatch(/async handler answered: hello/);
  });
});

describe('the tlskit command', () => {
  it('prints help and version, and rejects unknown commands', async () => {
    const help = await run(process.execPath, ['dist/cli/main.js', '--help']);
    expect(help.stdout).toMatch(/^tlskit \d+\.\d+\.\d+: /);
    expect(help.stdout).toMatch(/Usage: tlskit <command>/);
    const version = await run(process.execPath, ['dist/cli/main.js', '--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const unknown = await run(process.execPath, ['dist/cli/main.js', 'frobnicate']).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 2 });
    expect((unknown as { stderr: string }).stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
