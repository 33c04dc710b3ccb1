/**
 * A group whose workers cannot be forked (the OS has no processes to give): serve rejects with
 * the reason, what was started is undone, and a later server on workers may try again. Run in
 * this process, with cluster.fork stubbed to fail: nothing is forked.
 */
import cluster from 'node:cluster';
import { serve } from 'tlskit';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a server on workers whose fork fails', () => {
  it('rejects with the fork error, and the next server on workers is not refused as a second one', async () => {
    vi.spyOn(cluster, 'fork').mockImplementation(() => {
      throw Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' });
    });
    const options = { host: '127.0.0.1', port: 0, workers: 2 };
    await expect(serve(options, async () => {})).rejects.toMatchObject({ code: 'EAGAIN' });
    // Before, the group still counted as running: "this process already runs a server on workers".
    await expect(serve(options, async () => {})).rejects.toMatchObject({ code: 'EAGAIN' });
  });
});
