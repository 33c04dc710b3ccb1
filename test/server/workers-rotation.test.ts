/**
 * `ticketKeyRotation` without `workers`: one process listens and rotates its own keys, and its
 * schedule ends with the server, whether `close()` or the `signal` closes it, and whether the
 * signal aborted while the server started. The schedule's interval is faked, the rest is real.
 */
import { getEventListeners } from 'node:events';
import { serve } from 'tlskit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

afterEach(() => {
  vi.useRealTimers();
});

const handler = async () => {};

/** serve with a 1 s key schedule (faked) and `signal`; its context, and the pending start. */
async function rotating(signal: AbortSignal) {
  const tls = (await pki()).server.serverContext();
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  const starting = serve({ host: '127.0.0.1', port: 0, tls, ticketKeyRotation: 1000, signal }, handler);
  return { tls, starting };
}

describe('ticketKeyRotation in one process', () => {
  it('a signal that aborts while serve starts closes the server and stops its key schedule', async () => {
    const abort = new AbortController();
    const { tls, starting } = await rotating(abort.signal);
    abort.abort();
    const server = await starting;
    const keys = tls.ticketKeys;
    vi.advanceTimersByTime(5000);
    expect(tls.ticketKeys.equals(keys), 'the keys rotated after the server closed').toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(await server.close()).toEqual({ drained: 0, aborted: 0, dropped: 0 });
  });

  it('rotates until close(), which stops the schedule and lets go of the signal', async () => {
    const abort = new AbortController();
    const { tls, starting } = await rotating(abort.signal);
    const server = await starting;
    const keys = tls.ticketKeys;
    vi.advanceTimersByTime(1000);
    expect(tls.ticketKeys.equals(keys), 'the schedule rotated the keys').toBe(false);
    await server.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });
});
