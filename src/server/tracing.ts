/**
 * Tracing through `node:diagnostics_channel`. Subscribe with
 * `diagnostics_channel.subscribe('tlskit:handshake:error', (message) => ...)`; the messages are
 * plain objects, described by the types below. Publishing costs one `hasSubscribers` check when
 * nobody listens: no message is built and no clock is read.
 *
 * | channel | when |
 * | --- | --- |
 * | `tlskit:connection:open` | a server accepted a connection within its limits (after a PROXY header) |
 * | `tlskit:connection:close` | that connection is gone |
 * | `tlskit:handshake:start` | a TLS handshake begins (server, or a client of `connect`/`createConnection`) |
 * | `tlskit:handshake:end` | it succeeded |
 * | `tlskit:handshake:error` | it failed; `code` is the `CertificateError` code when verification failed |
 * | `tlskit:limit` | a server refused or closed a connection because of a limit, or a PROXY header was refused |
 */
import diagnostics from 'node:diagnostics_channel';
import type { Address, TlsInfo } from '../transport/transport.js';

/** The limits and policies `tlskit:limit` reports. */
export type LimitName =
  | 'maxConnections'
  | 'maxConnectionsPerAddress'
  | 'maxPendingHandshakes'
  | 'idleTimeout'
  | 'proxyProtocol';

export interface ConnectionOpenMessage {
  /** The server's listening address. */
  server: Address;
  /** The client (from the PROXY header, when there was one). */
  peer: Address | null;
}

export interface ConnectionCloseMessage extends ConnectionOpenMessage {
  /** `null` after a clean close. */
  error: Error | null;
  /** Milliseconds since `tlskit:connection:open`. */
  duration: number;
}

export interface HandshakeStartMessage {
  role: 'client' | 'server';
  peer: Address | null;
  /** The name a client asks for; `null` on a server (the client's SNI is not known yet). */
  serverName: string | null;
}

export interface HandshakeEndMessage extends HandshakeStartMessage {
  tls: TlsInfo;
  /** Milliseconds since `tlskit:handshake:start`. */
  duration: number;
}

export interface HandshakeErrorMessage extends HandshakeStartMessage {
  error: Error;
  /** The error's code, e.g. `CERT_HAS_EXPIRED` or `ERR_TLS_HANDSHAKE_TIMEOUT`. */
  code: string | undefined;
  duration: number;
}

export interface LimitMessage {
  limit: LimitName;
  /** The configured value (for `proxyProtocol`, the error's code). */
  value: number | string;
  server: Address;
  peer: Address | null;
}

export const channels = {
  connectionOpen: diagnostics.channel('tlskit:connection:open'),
  connectionClose: diagnostics.channel('tlskit:connection:close'),
  handshakeStart: diagnostics.channel('tlskit:handshake:start'),
  handshakeEnd: diagnostics.channel('tlskit:handshake:end'),
  handshakeError: diagnostics.channel('tlskit:handshake:error'),
  limit: diagnostics.channel('tlskit:limit'),
} as const;

/** Publishes to `channel` when it has subscribers; `message` is only built then. */
export function publish<M>(channel: diagnostics.Channel, message: () => M): void {
  if (channel.hasSubscribers) channel.publish(message());
}

/** A start time, or 0 when nobody would read it: the clock is read only for subscribers. */
export function startedAt(channel: diagnostics.Channel): number {
  return channel.hasSubscribers ? performance.now() : 0;
}

/** Milliseconds since `start` (0 when the start was not taken). */
export function since(start: number): number {
  return start === 0 ? 0 : performance.now() - start;
}

/**
 * Runs a handshake with tracing: start, then end or error. Without subscribers this is the
 * handshake and two checks.
 */
export function traceHandshake<T extends { info: { tls?: TlsInfo } }>(
  start: HandshakeStartMessage | (() => HandshakeStartMessage),
  handshake: Promise<T>,
): Promise<T> {
  const { handshakeStart, handshakeEnd, handshakeError } = channels;
  if (!handshakeStart.hasSubscribers && !handshakeEnd.hasSubscribers && !handshakeError.hasSubscribers) {
    return handshake;
  }
  const base = typeof start === 'function' ? start() : start;
  handshakeStart.publish(base);
  const began = performance.now();
  return handshake.then(
    (transport) => {
      publish(handshakeEnd, () => ({
        ...base,
        tls: transport.info.tls!,
        duration: performance.now() - began,
      }));
      return transport;
    },
    (error: Error) => {
      publish(handshakeError, () => ({
        ...base,
        error,
        code: (error as { code?: string }).code,
        duration: performance.now() - began,
      }));
      throw error;
    },
  );
}
