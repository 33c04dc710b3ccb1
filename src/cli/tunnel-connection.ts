/**
 * One connection through `tlskit tunnel`: the client's side (TLS or a STARTTLS prelude), the
 * authorization by name, the backend, the relay, and the one log line it ends with.
 */
import type { X509Certificate } from 'node:crypto';
import os from 'node:os';
import { isShutdownAbort } from '../server/shutdown.js';
import type { Connection } from '../stream/connection.js';
import { connect } from '../stream/open.js';
import { type RelayCounts, relay } from '../stream/relay.js';
import type { ClientContext } from '../tls/client-context.js';
import type { ServerContext } from '../tls/server-context.js';
import type { Address } from '../transport/transport.js';
import type { HostPort } from './host-port.js';
import { offerStartTls, requestStartTls, type StartTlsProtocol, skipGreeting } from './starttls.js';

/** What every connection of one tunnel shares. */
export interface TunnelRoute {
  to: HostPort;
  /** Terminate mode: our server context (TLS in). */
  serverTls: ServerContext | undefined;
  /** Originate mode: the context that verifies the backend (TLS out). */
  backendTls: ClientContext | undefined;
  /** The backend's name to verify when originating; our host name in a STARTTLS greeting. */
  serverName: string;
  /** `--servername`, when given (terminate mode greets with it). */
  servernameFlag: string | undefined;
  starttls: StartTlsProtocol | null;
  proxyVersion: 1 | 2 | undefined;
  allowCn: readonly string[];
  allowSan: readonly string[];
  /** Milliseconds the backend connection (TCP, and TLS when originating) may take. */
  connectTimeout: number;
}

export type Logger = (fields: Record<string, unknown>) => void;

/** Relays one client to the backend and logs the connection once it is over. Never rejects. */
export async function handleConnection(client: Connection, route: TunnelRoute, log: Logger): Promise<void> {
  const started = performance.now();
  const fields = connectionFields(formatAddress(client.info.peer));
  const counts = { forward: 0, backward: 0 };
  let reason = 'clean';
  let backend: Connection | undefined;
  let clientSecured = false;
  try {
    await upgradeClient(client, route);
    clientSecured = true;
    fields.sni = client.info.tls?.serverName ?? null;
    fields.protocol = client.info.tls?.protocol ?? null;
    const refused = refusal(client, route.allowCn, route.allowSan);
    if (refused) {
      reason = `refused: ${refused}`;
      client.abort(new Error(refused));
      return;
    }
    backend = await openBackend(client, route, counts);
    if (route.backendTls) fields.protocol = backend.info.tls?.protocol ?? null;
    const failed = await relay(client, backend, counts);
    if (failed) reason = closeReason(failed.error, failed.lost === 'a' ? 'client' : 'backend');
  } catch (error) {
    // Before the client's STARTTLS upgrade finished, a failure is the client's: refused, as a
    // failed handshake at connection start is (tunnel.ts's onHandshakeError).
    reason = !clientSecured
      ? `refused: ${(error as Error).message}`
      : `backend ${formatAddress(route.to)} failed: ${(error as Error).message}`;
    backend?.abort();
    client.abort();
  } finally {
    fields.bytes_in = counts.forward;
    fields.bytes_out = counts.backward;
    fields.duration_ms = Math.round(performance.now() - started);
    fields.close = reason;
    log(fields);
  }
}

/**
 * The fields of a connection line, every one present in every line (null when unknown: a client
 * refused in its handshake has no SNI or protocol yet), so that `--json` lines have one shape.
 */
export function connectionFields(peer: string | undefined): Record<string, unknown> {
  return {
    event: 'connection',
    peer: peer ?? null,
    sni: null,
    protocol: null,
    bytes_in: 0,
    bytes_out: 0,
    duration_ms: null,
    close: null,
  };
}

/** Terminating with --starttls: we are the protocol's server until the client asks for TLS. */
async function upgradeClient(client: Connection, route: TunnelRoute): Promise<void> {
  if (!route.starttls || !route.serverTls) return;
  await offerStartTls(route.starttls, client, { hostname: route.servernameFlag ?? os.hostname() });
  await client.startTls({ context: route.serverTls });
}

/**
 * Connects to the backend, with the PROXY header, TLS or the STARTTLS dialogue the route asks
 * for. Originating with STARTTLS we are the protocol's client towards the backend, and replay its
 * greeting to our plain client; terminating with it, the backend's own greeting is swallowed (the
 * client already had ours). The attempt ends at `connectTimeout` or when the client is gone
 * (it left, or a drain's deadline aborted it): a backend that drops SYNs would otherwise hold the
 * client, and keep the process alive after a drain, for the kernel's two minutes of retries.
 */
async function openBackend(client: Connection, route: TunnelRoute, counts: RelayCounts): Promise<Connection> {
  const { to, backendTls, starttls, serverName } = route;
  const peer = client.info.peer;
  const local = client.info.local;
  const source = peer && 'host' in peer ? { host: peer.host, port: peer.port } : undefined;
  const destination = local && 'host' in local ? { host: local.host, port: local.port } : undefined;
  const clientGone = new AbortController();
  const cancel = () => clientGone.abort(new Error('the client connection ended first'));
  client.closed.then(cancel, cancel);
  const backend = await connect({
    host: to.host,
    port: to.port,
    timeout: route.connectTimeout,
    signal: clientGone.signal,
    ...(backendTls && !starttls
      ? { tls: backendTls, serverName, handshakeTimeout: route.connectTimeout }
      : {}),
    ...(route.proxyVersion && source && destination
      ? { proxyHeader: { version: route.proxyVersion, source, destination } }
      : {}),
  });
  try {
    if (starttls && backendTls) {
      const hostname = starttls === 'smtp' ? os.hostname() : serverName;
      // The prelude and the handshake after it are part of reaching the backend: --connect-timeout.
      const timeout = route.connectTimeout;
      const { greeting } = await requestStartTls(starttls, backend, { hostname, timeout });
      await backend.startTls({ context: backendTls, serverName, handshakeTimeout: timeout });
      await client.write(greeting);
      counts.backward += greeting.length;
    } else if (starttls) {
      await skipGreeting(starttls, backend, { timeout: route.connectTimeout });
    }
    return backend;
  } catch (error) {
    backend.abort();
    throw error;
  }
}

/** Names a client certificate carries: its CN and its DNS/IP SANs. */
function certificateNames(cert: X509Certificate): { cn: string | undefined; sans: string[] } {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:') || entry.startsWith('IP Address:'))
    .map((entry) => entry.slice(entry.indexOf(':') + 1));
  return { cn, sans };
}

/** Why --allow-cn/--allow-san refuse this client, or `null` when they let it in. */
function refusal(
  connection: Connection,
  allowCn: readonly string[],
  allowSan: readonly string[],
): string | null {
  if (allowCn.length === 0 && allowSan.length === 0) return null;
  const cert = connection.info.tls?.peerCertificates[0];
  if (!cert) return 'no client certificate';
  const { cn, sans } = certificateNames(cert);
  if (cn !== undefined && allowCn.includes(cn)) return null;
  if (sans.some((san) => allowSan.includes(san))) return null;
  return `client certificate CN='${cn ?? ''}' SAN=[${sans.join(',')}] not in --allow-cn/--allow-san`;
}

/** Why a relayed connection ended with an error, naming the side it came from. */
function closeReason(error: Error, side: 'client' | 'backend'): string {
  if (isShutdownAbort(error)) return 'drain deadline';
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return `${side} reset`;
  if (code === 'ERR_TLS_TRUNCATED') return `${side} reset (no close_notify)`;
  if (code === 'ETIMEDOUT' || error.name === 'TimeoutError') return `${side} timeout`;
  return `${side} error: ${error.message}`;
}

export function formatAddress(address: Address | null | undefined): string | undefined {
  if (!address || !('host' in address)) return undefined;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
