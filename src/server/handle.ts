/**
 * What a caller holds of a listening server: the `Server` handle and its counts, and what every
 * kind of server (one process, a worker group, HTTP) shares for `close` and `signal`.
 */
import { InvalidArgumentError } from '../transport/errors.js';
import { checkMilliseconds, checkOptionNames, checkSignal } from '../transport/options.js';
import type { Address } from '../transport/transport.js';
import type { CloseOptions, CloseResult } from './close-result.js';
import type { LimitName } from './tracing.js';

/** What a server counted since it started. */
export interface ServerStats {
  /** Sockets accepted, refused ones included. */
  accepted: number;
  /** Connections refused or closed by each limit (`proxyProtocol`: headers refused or invalid). */
  limited: Record<LimitName, number>;
  /** TLS handshakes that failed. */
  handshakeFailures: number;
}

/** A listening server. */
export interface Server<A extends Address = Address> {
  /** Where the server listens; with `port: 0` this holds the port the OS chose. */
  readonly address: A;
  /** Connections currently open, handshakes included. */
  readonly connections: number;
  /** What the server counted so far. */
  readonly stats: ServerStats;
  /**
   * Stops accepting, drops connections still in their handshake, tells open ones the server is
   * closing (`Protocol.serverClosing`), gives them `timeout` ms to finish, aborts the rest, and
   * resolves once all are gone. Calling it again returns the same promise.
   */
  close(options?: CloseOptions): Promise<CloseResult>;
}

const CLOSE_OPTIONS = { known: ['timeout'] } as const;

/** Counts of a server that has counted nothing yet. */
export function emptyStats(): ServerStats {
  return {
    accepted: 0,
    limited: {
      maxConnections: 0,
      maxConnectionsPerAddress: 0,
      maxPendingHandshakes: 0,
      idleTimeout: 0,
      proxyProtocol: 0,
    },
    handshakeFailures: 0,
  };
}

/** Checks the options of a server's `close`; returns its deadline (`fallback` without `timeout`). */
export function closeDeadline(where: string, options: CloseOptions | undefined, fallback: number): number {
  const at = `${where}: close`;
  checkOptionNames(at, options, CLOSE_OPTIONS);
  return checkMilliseconds(at, 'timeout', options?.timeout) ?? fallback;
}

/** Checks a server's `signal`: an AbortSignal, not aborted yet. */
export function checkServerSignal(where: string, signal: unknown): void {
  checkSignal(where, signal);
  if ((signal as AbortSignal | undefined)?.aborted) {
    throw new InvalidArgumentError(
      `${where}: \`signal\` was already aborted, so the server would close at once`,
    );
  }
}

/**
 * Calls `close` when `signal` aborts, at once if it already has (it aborted while the server was
 * starting). Returns what makes the server forget the signal once it closes: a long-lived signal
 * shared by many servers must not keep each closed one alive.
 */
export function closeOnAbort(signal: AbortSignal | undefined, close: () => void): () => void {
  if (!signal) return noop;
  if (signal.aborted) {
    close();
    return noop;
  }
  signal.addEventListener('abort', close, { once: true });
  return () => signal.removeEventListener('abort', close);
}

function noop(): void {}

/** `server`, whose `close` is `close` instead (which closes `server` in its turn). */
export function withClose<A extends Address>(
  server: Server<A>,
  close: (options?: CloseOptions) => Promise<CloseResult>,
): Server<A> {
  return {
    get address() {
      return server.address;
    },
    get connections() {
      return server.connections;
    },
    get stats() {
      return server.stats;
    },
    close,
  };
}
