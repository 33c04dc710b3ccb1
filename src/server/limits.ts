/**
 * The limits a server puts on the connections it accepts, checked once when it starts listening.
 * Each bounds what clients can hold without doing their part, so that no client, and no crowd of
 * them, can take a server's memory, descriptors or handshake CPU away from the others:
 *
 * - `handshakeTimeout` (always on): a client that connects and says nothing is cut off.
 * - `maxPendingHandshakes` (default 1024): the slowloris bound. Connections still sending their
 *   PROXY header or TLS handshake beyond it are refused at once, so silent clients can hold at
 *   most this many sockets, each for at most the handshake deadline.
 * - `maxConnections` and `maxConnectionsPerAddress` (default none): every socket the server holds
 *   counts, handshakes included; beyond the cap new sockets are closed at once. There is no
 *   default cap: the right number depends on the machine (the process's descriptor limit is the
 *   hard one), and behind a load balancer without the PROXY protocol every client has the
 *   balancer's address, where a per-address default would refuse real users.
 * - `idleTimeout` (default none): after the handshake, a connection that neither reads nor
 *   writes for that long is closed gracefully (close_notify over TLS). A write still flowing
 *   counts as writing (`idle-watch.ts`).
 *
 * A refused connection is counted in `server.stats.limited` (by limit) and published on `tlskit:limit`.
 */
import { InvalidArgumentError } from '../transport/errors.js';
import { checkMilliseconds } from '../transport/options.js';

/** Option names of the limits, which `createServer` and `serve` take. */
export const SERVER_LIMIT_OPTIONS = [
  'handshakeTimeout',
  'maxConnections',
  'maxConnectionsPerAddress',
  'maxPendingHandshakes',
  'idleTimeout',
  'shutdownTimeout',
] as const;

/** Default `maxPendingHandshakes`. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;
/** Default `shutdownTimeout`: the time open connections get to finish when the server closes. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

export interface ServerLimits {
  /**
   * Milliseconds a client has to complete its TLS handshake (default: the server context's, else
   * 30000); with `proxyProtocol`, its PROXY header gets as long again before that.
   */
  handshakeTimeout?: number;
  /** Most connections open at once, handshakes included (default: no cap). */
  maxConnections?: number;
  /**
   * Most connections open at once from one client address (default: no cap). The address is the
   * one a trusted PROXY header names, when there is one; Unix-socket peers have none and are not
   * counted.
   */
  maxConnectionsPerAddress?: number;
  /** Most connections still in their PROXY header or TLS handshake (default 1024). */
  maxPendingHandshakes?: number;
  /** Milliseconds a connection may neither read nor write after its handshake (default: no limit). */
  idleTimeout?: number;
  /** Milliseconds `close()` (and `signal`) give open connections to finish (default 10000). */
  shutdownTimeout?: number;
}

/** The limits with defaults applied. */
export interface CheckedLimits {
  handshakeTimeout: number | undefined;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxPendingHandshakes: number;
  idleTimeout: number | undefined;
  shutdownTimeout: number;
}

function checkCount(where: string, field: string, value: unknown): number {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (
    typeof value !== 'number' ||
    !(Number.isInteger(value) || value === Number.POSITIVE_INFINITY) ||
    value < 1
  ) {
    throw new InvalidArgumentError(
      `${where}: \`${field}\` must be a positive integer (or Infinity for no cap), got ${String(value)}`,
    );
  }
  return value;
}

/** Checks the limits in a server's options and returns them with defaults applied. */
export function serverLimits(where: string, options: ServerLimits): CheckedLimits {
  const pending = options.maxPendingHandshakes;
  return {
    handshakeTimeout: checkMilliseconds(where, 'handshakeTimeout', options.handshakeTimeout),
    maxConnections: checkCount(where, 'maxConnections', options.maxConnections),
    maxConnectionsPerAddress: checkCount(where, 'maxConnectionsPerAddress', options.maxConnectionsPerAddress),
    maxPendingHandshakes:
      pending === undefined
        ? DEFAULT_MAX_PENDING_HANDSHAKES
        : checkCount(where, 'maxPendingHandshakes', pending),
    idleTimeout: checkMilliseconds(where, 'idleTimeout', options.idleTimeout),
    shutdownTimeout:
      checkMilliseconds(where, 'shutdownTimeout', options.shutdownTimeout) ?? DEFAULT_SHUTDOWN_TIMEOUT,
  };
}
