/**
 * `tlskit tunnel`: a TLS terminator (TLS in, plain out) or originator (plain in, TLS out), in
 * the spirit of stunnel and ghostunnel, built on tlskit's `serve` and `connect`.
 *
 * Design notes:
 * - The relay (src/stream/relay.ts) writes each chunk to the other side as it arrives, with no
 *   promise per chunk: a full write buffer on one side pauses reading on the other, and an end
 *   of one side half-closes the other. The bytes are the chunks node:tls/net hand us.
 * - Names are authorized after the handshake (--allow-cn/--allow-san), so a refusal can be logged
 *   with the reason; the TLS layer itself only checks the chain against --client-ca.
 * - SIGHUP re-reads --cert/--key and calls `context.reload`: new handshakes see the new
 *   certificate, open connections keep theirs. A bad file is logged and the old one kept.
 * - SIGTERM/SIGINT stop accepting and drain with `server.close({ timeout })`.
 * - --starttls: terminating, the listener is plain and we are the protocol's server until the
 *   client asks for TLS; the plain backend's own greeting is then swallowed (the client had ours).
 *   Originating, we are the protocol's client towards the backend and replay its greeting to our
 *   plain client. Either way bytes pipelined across the upgrade end the connection (starttls.ts).
 */
import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Connection } from '../stream/connection.js';
import { connect, serve } from '../stream/open.js';
import { relay } from '../stream/relay.js';
import { clientContext } from '../tls/client-context.js';
import { serverContext } from '../tls/server-context.js';
import type { Address } from '../transport/transport.js';
import { offerStartTls, parseStartTlsProtocol, requestStartTls, skipGreeting } from './starttls.js';
import { UsageError } from './usage-error.js';

export const TUNNEL_HELP = `Usage: tlskit tunnel --accept [HOST:]PORT --to HOST:PORT (--cert F --key F | --ca F) [options]

Terminate TLS (--cert/--key: TLS in, plain out) or originate it (--ca: plain in, TLS out).

Options:
  --accept [HOST:]PORT     Where to listen (default host 127.0.0.1).
  --to HOST:PORT           The backend to relay each connection to.
  --cert F, --key F        Terminate: the server certificate and key (PEM). Reloaded on SIGHUP.
  --client-ca F            Terminate: require a client certificate issued by these CAs.
  --allow-cn NAME          Accept only client certificates with this CN (repeatable).
  --allow-san NAME         Accept only client certificates with this DNS/IP SAN (repeatable).
  --ca F                   Originate: the CAs that verify the backend's certificate.
  --servername NAME        Originate: the backend's name to verify (default the --to host).
  --proxy-protocol v1|v2   Send a PROXY header with the real client address to the backend.
  --drain-timeout MS       On SIGTERM/SIGINT, how long open connections may finish (default 10000).
  --max-connections N      Refuse connections beyond N open ones.
  --starttls PROTOCOL      smtp, imap, pop3, ftp, xmpp or postgres: with --cert, offer STARTTLS to
                           plain clients of PROTOCOL (the backend's own greeting is swallowed);
                           with --ca, upgrade to the backend with STARTTLS.
  --json                   Log one JSON object per line (default: human text), to stderr.

Examples:
  tlskit tunnel --accept 8443 --to 127.0.0.1:8080 --cert site.pem --key site-key.pem
  tlskit tunnel --accept 8443 --to 127.0.0.1:8080 --cert s.pem --key k.pem --client-ca ca.pem --allow-cn alice
  tlskit tunnel --accept 8080 --to example.com:443 --ca ca.pem
`;

interface HostPort {
  host: string;
  port: number;
}

function parseHostPort(flag: string, value: string | undefined, defaultHost?: string): HostPort {
  if (value === undefined)
    throw new UsageError(`${flag} is required; pass HOST:PORT`, { help: true, usage: TUNNEL_HELP });
  const match =
    /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? (defaultHost ? /^()()(\d+)$/.exec(value) : null);
  const port = match ? Number(match[3]) : Number.NaN;
  const host = match?.[1] || match?.[2] || defaultHost;
  if (!match || !host || port > 65535)
    throw new UsageError(`${flag} '${value}' is not HOST:PORT; pass e.g. 127.0.0.1:8443`, { help: false });
  return { host, port };
}

function readPem(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${flag} '${path}' cannot be read (${(error as NodeJS.ErrnoException).code}); pass a PEM file`,
    );
  }
}

type Logger = (fields: Record<string, unknown>) => void;

function makeLogger(json: boolean): Logger {
  return (fields) => {
    if (json)
      return void process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
    const text = Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    process.stderr.write(`tlskit tunnel: ${text}\n`);
  };
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

function refusal(connection: Connection, allowCn: string[], allowSan: string[]): string | null {
  if (allowCn.length === 0 && allowSan.length === 0) return null;
  const cert = connection.info.tls?.peerCertificates[0];
  if (!cert) return 'no client certificate';
  const { cn, sans } = certificateNames(cert);
  if (cn !== undefined && allowCn.includes(cn)) return null;
  if (sans.some((san) => allowSan.includes(san))) return null;
  return `client certificate CN='${cn ?? ''}' SAN=[${sans.join(',')}] not in --allow-cn/--allow-san`;
}

function closeReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'peer reset';
  if (code === 'ERR_TLS_TRUNCATED') return 'peer reset (no close_notify)';
  if (code === 'ETIMEDOUT' || (error as Error | undefined)?.name === 'TimeoutError') return 'timeout';
  return `error: ${(error as Error).message}`;
}

function formatAddress(address: Address | null | undefined): string | undefined {
  if (!address || !('host' in address)) return undefined;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export async function tunnelCommand(args: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      accept: { type: 'string' },
      to: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'client-ca': { type: 'string' },
      'allow-cn': { type: 'string', multiple: true },
      'allow-san': { type: 'string', multiple: true },
      ca: { type: 'string' },
      servername: { type: 'string' },
      'proxy-protocol': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'max-connections': { type: 'string' },
      starttls: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(TUNNEL_HELP);
    return 0;
  }
  const accept = parseHostPort('--accept', values.accept, '127.0.0.1');
  const to = parseHostPort('--to', values.to);
  const terminate = values.cert !== undefined || values.key !== undefined;
  if (terminate && values.ca !== undefined)
    throw new UsageError(
      '--cert and --ca were both given; pass --cert/--key to terminate TLS or --ca to originate it',
    );
  if (values.key !== undefined && values.cert === undefined)
    throw new UsageError('--key was given without --cert; pass both', { help: false });
  if (values.cert !== undefined && values.key === undefined)
    throw new UsageError('--cert was given without --key; pass both', { help: false });
  if (!terminate && values.ca === undefined)
    throw new UsageError('pass --cert/--key (terminate TLS) or --ca (originate TLS)', {
      help: true,
      usage: TUNNEL_HELP,
    });
  if (!terminate && (values['client-ca'] || values['allow-cn'] || values['allow-san']))
    throw new UsageError('--client-ca/--allow-cn/--allow-san need terminate mode (--cert/--key)', {
      help: false,
    });
  const proxyVersion =
    values['proxy-protocol'] === undefined
      ? undefined
      : ({ v1: 1, v2: 2 } as const)[values['proxy-protocol']];
  if (values['proxy-protocol'] !== undefined && proxyVersion === undefined)
    throw new UsageError(`--proxy-protocol must be v1 or v2, got '${values['proxy-protocol']}'`, {
      help: false,
    });
  const drainTimeout = positiveInteger('--drain-timeout', values['drain-timeout']) ?? 10_000;
  const maxConnections = positiveInteger('--max-connections', values['max-connections']);
  const allowCn = values['allow-cn'] ?? [];
  const allowSan = values['allow-san'] ?? [];
  const log = makeLogger(values.json === true);
  const starttls =
    values.starttls === undefined ? null : parseStartTlsProtocol('--starttls', values.starttls);

  const certPath = values.cert;
  const keyPath = values.key;
  const loadCredentials = () => ({
    cert: readPem('--cert', certPath as string),
    key: readPem('--key', keyPath as string),
  });
  const serverTls = terminate
    ? serverContext({
        ...loadCredentials(),
        ...(values['client-ca']
          ? { clientAuth: 'required' as const, trust: readPem('--client-ca', values['client-ca']) }
          : {}),
      })
    : undefined;
  const backendTls = terminate ? undefined : clientContext({ trust: readPem('--ca', values.ca as string) });
  const serverName = values.servername ?? to.host;

  const handle = async (client: Connection) => {
    const started = performance.now();
    const peer = client.info.peer;
    const local = client.info.local;
    const fields: Record<string, unknown> = {
      event: 'connection',
      peer: formatAddress(peer),
      sni: client.info.tls?.serverName ?? undefined,
      protocol: client.info.tls?.protocol,
    };
    const bytesIn = { bytes: 0 };
    const bytesOut = { bytes: 0 };
    let reason = 'clean';
    let backend: Connection | undefined;
    try {
      if (starttls && serverTls) {
        // Terminate: we are the protocol's server until the client asks for TLS.
        await offerStartTls(starttls, client, { hostname: values.servername ?? os.hostname() });
        await client.startTls({ context: serverTls });
        fields.sni = client.info.tls?.serverName ?? undefined;
        fields.protocol = client.info.tls?.protocol;
      }
      const refused = refusal(client, allowCn, allowSan);
      if (refused) {
        reason = `refused: ${refused}`;
        client.abort(new Error(refused));
        return;
      }
      const source = peer && 'host' in peer ? { host: peer.host, port: peer.port } : undefined;
      const destination = local && 'host' in local ? { host: local.host, port: local.port } : undefined;
      backend = await connect({
        host: to.host,
        port: to.port,
        ...(backendTls && !starttls ? { tls: backendTls, serverName } : {}),
        ...(proxyVersion && source && destination
          ? { proxyHeader: { version: proxyVersion, source, destination } }
          : {}),
      });
      if (starttls && backendTls) {
        // Originate: we are the protocol's client towards the backend, and replay its greeting
        // to our plain client, which then speaks the protocol over the tunnel.
        const hostname = starttls === 'smtp' ? os.hostname() : serverName;
        const { greeting } = await requestStartTls(starttls, backend, { hostname });
        await backend.startTls({ context: backendTls, serverName });
        await client.write(greeting);
      } else if (starttls) {
        await skipGreeting(starttls, backend); // the client already had ours
      }
      if (backendTls) fields.protocol = backend.info.tls?.protocol;
      const counts = { forward: 0, backward: 0 };
      const failed = await relay(client, backend, counts);
      bytesIn.bytes = counts.forward;
      bytesOut.bytes = counts.backward;
      if (failed) throw failed;
    } catch (error) {
      reason = backend
        ? closeReason(error)
        : `backend ${to.host}:${to.port} failed: ${(error as Error).message}`;
      backend?.abort();
      client.abort();
    } finally {
      const ms = Math.round(performance.now() - started);
      log({ ...fields, bytes_in: bytesIn.bytes, bytes_out: bytesOut.bytes, duration_ms: ms, close: reason });
    }
  };

  const server = await serve(
    {
      host: accept.host,
      port: accept.port,
      // With --starttls the listener is plain: TLS starts after the protocol's own prelude.
      ...(serverTls && !starttls ? { tls: serverTls } : {}),
      ...(maxConnections ? { maxConnections } : {}),
      onHandshakeError: (error, peer) =>
        log({ event: 'connection', peer: formatAddress(peer), close: `refused: ${error.message}` }),
    },
    handle,
  );
  log({
    event: 'listening',
    accept: formatAddress(server.address),
    to: `${to.host}:${to.port}`,
    mode: terminate ? 'terminate (TLS in, plain out)' : 'originate (plain in, TLS out)',
  });

  if (serverTls)
    process.on('SIGHUP', () => {
      try {
        serverTls.reload(loadCredentials());
        log({ event: 'reload', cert: certPath });
      } catch (error) {
        log({
          event: 'reload-failed',
          cert: certPath,
          error: (error as Error).message,
          kept: 'old certificate',
        });
      }
    });
  return await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log({ event: 'stopping', signal, drain_timeout_ms: drainTimeout });
      server.close({ timeout: drainTimeout }).then(
        (result) => {
          log({ event: 'stopped', ...result });
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, got '${value}'`, { help: false });
  return n;
}
