/**
 * Calling a server's `close` with options and typing ours as `Server.close`, in one place: main
 * is changing `Server.close()` to `close(options?)` resolving to a `CloseResult`; until then a
 * server's close takes no options and resolves to nothing, which counts as zeros.
 */
import type { Server } from '../transport/net.js';
import type { Address } from '../transport/transport.js';
import type { CloseOptions, CloseResult } from './close-result.js';

const NOTHING: CloseResult = { drained: 0, aborted: 0, dropped: 0 };

/** Closes `server` with `options`; resolves with what it did (zeros if it does not say). */
export async function closeServer(server: Server, options?: CloseOptions): Promise<CloseResult> {
  const close = server.close as (options?: CloseOptions) => Promise<CloseResult | undefined>;
  return (await close.call(server, options)) ?? NOTHING;
}

/** `close` in the type `Server` declares. */
export function asServerClose<A extends Address>(
  close: (options?: CloseOptions) => Promise<CloseResult>,
): Server<A>['close'] {
  return close as unknown as Server<A>['close'];
}

/** The sum of two results. */
export function addResults(a: CloseResult, b: CloseResult): CloseResult {
  return { drained: a.drained + b.drained, aborted: a.aborted + b.aborted, dropped: a.dropped + b.dropped };
}
