/**
 * Limits a server puts on every connection it accepts, checked once when it starts listening.
 * They bound what a client can hold without doing its part: today the TLS handshake; limits such
 * as a cap on pending handshakes or an idle timeout belong here too, so that `createServer` and
 * `serve` take them all the same way.
 */
import { checkMilliseconds } from '../transport/options.js';

/** Option names of the limits, which `createServer` and `serve` take. */
export const SERVER_LIMIT_OPTIONS = ['handshakeTimeout'] as const;

export interface ServerLimits {
  /**
   * Milliseconds a client has to complete its TLS handshake (default: the server context's, else
   * 30000). A client that connects and says nothing is cut off then: the bound on slowloris-style
   * clients that would otherwise hold a connection each.
   */
  handshakeTimeout?: number;
}

/** Checks the limits in a server's options and returns them alone. */
export function serverLimits(where: string, options: ServerLimits): ServerLimits {
  return { handshakeTimeout: checkMilliseconds(where, 'handshakeTimeout', options.handshakeTimeout) };
}
