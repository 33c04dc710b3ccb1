/**
 * Session-ticket key rotation on a schedule. Node holds one ticket key per context, so a rotation
 * is a trade: a ticket stolen from a client (or a key read from memory) stops opening sessions
 * after one period, but every ticket issued before the rotation stops resuming too, and those
 * clients make one full handshake. Periods of hours are typical; `MIN_TICKET_KEY_ROTATION` bounds
 * the cost, since each rotation rebuilds every certificate's secure context.
 */
import type { ServerContext } from '../tls/server-context.js';
import type { Address } from '../transport/transport.js';
import { closeOnAbort, type Server, withClose } from './handle.js';

/** Calls `context.rotateTicketKeys()` every `period` ms; returns what stops it. */
export function rotateEvery(context: ServerContext, period: number): () => void {
  const timer = setInterval(() => context.rotateTicketKeys(), period);
  // The server keeps the process alive, not its key schedule.
  timer.unref();
  return () => clearInterval(timer);
}

/** A one-process server that rotates its context's ticket keys until it closes. */
export function withRotation<A extends Address>(
  server: Server<A>,
  context: ServerContext,
  period: number,
  signal: AbortSignal | undefined,
): Server<A> {
  const stop = rotateEvery(context, period);
  // The server closes itself when `signal` aborts, at once if it did while the server started.
  const forget = closeOnAbort(signal, stop);
  return withClose(server, (options) => {
    stop();
    forget();
    return server.close(options);
  });
}
