/**
 * The two things a closing server does to an open connection: tell its protocol, and, at the
 * deadline, abort it with an error that says why (and that `serve` does not report as the
 * handler's failure).
 */
import { BaseTransport, kTopmost } from '../transport/base.js';
import { TimeoutError } from '../transport/errors.js';
import type { Transport } from '../transport/transport.js';

const shutdownAborts = new WeakSet<Error>();

/** Whether `error` is the one a server's shutdown deadline aborted a connection with. */
export function isShutdownAbort(error: unknown): boolean {
  return error instanceof Error && shutdownAborts.has(error);
}

/** The error a connection still open at the shutdown deadline is aborted with. */
export function shutdownAbort(timeout: number): Error {
  const error = new TimeoutError(
    `server.close: the connection was still open ${timeout} ms after the server began closing`,
    timeout,
  );
  shutdownAborts.add(error);
  return error;
}

/** Tells a connection's protocol the server is closing, or closes it when the protocol cannot hear. */
export function tellClosing(lowest: Transport): void {
  const transport = lowest instanceof BaseTransport ? lowest[kTopmost]() : lowest;
  const protocol = transport.protocol;
  if (typeof protocol?.serverClosing !== 'function') {
    transport.close();
    return;
  }
  try {
    protocol.serverClosing();
  } catch (error) {
    transport.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
