import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * close() promises connectionLost within closeTimeout. A memory pair has no socket to keep the
 * process alive meanwhile, so the deadline itself must: otherwise a program that awaits close()
 * simply exits (code 13, an unsettled top-level await) before it learns how the connection ended.
 */
it('close() settles within closeTimeout even when nothing else keeps the process alive', async () => {
  const program = `
    import { memoryPair } from 'tlskit/testing';
    const [a, b] = memoryPair({ closeTimeout: 50 });
    b.setProtocol({ eofReceived: () => true }); // the peer never finishes its side
    const lost = new Promise((resolve) => a.setProtocol({ connectionLost: resolve }));
    a.close();
    console.log('lost:', await lost);
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', program], {
    cwd: process.cwd(),
  });
  expect(stdout.trim()).toBe('lost: null');
});
