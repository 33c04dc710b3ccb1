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
 * - SIGHUP re-reads --cert/--key (and --client-ca) and calls `context.reload`: new handshakes
 *   see the new files, open connections keep what they had. A bad file is logged and the old
 *   ones are kept, all of them (the reload is one step). Originating, it re-reads --ca for new
 *   backend connections the same way.
 * - SIGTERM/SIGINT stop accepting and drain with `server.close({ timeout })`. A second signal
 *   during the drain is someone who will not wait: the tunnel exits at once (128 + the signal's
 *   number, as a shell reports a kill), cutting what is still open.
 * - --starttls: terminating, the listener is plain and we are the protocol's server until the
 *   client asks for TLS; the plain backend's own greeting is then swallowed (the client had ours).
 *   Originating, we are the protocol's client towards the backend and replay its greeting to our
 *   plain client. Either way bytes pipelined across the upgrade end the connection (starttls.ts).
 */
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { parseArgs } from 'node:util';
import type { LimitMessage } from '../server/tracing.js';
import type { Connection } from '../stream/connection.js';
import { serve } from '../stream/open.js';
import { clientContext } from '../tls/client-context.js';
import { type ReloadOptions, type ServerContext, serverContext } from '../tls/server-context.js';
import { MAX_TIMER_MS } from '../transport/options.js';
import { type HostPort, type HostPortRules, parseHostPort } from './host-port.js';
import { parseStartTlsProtocol } from './starttls.js';
import {
  connectionFields,
  formatAddress,
  handleConnection,
  type Logger,
  type TunnelRoute,
} from './tunnel-connection.js';
import { UsageError, withFlagNames } from './usage-error.js';

export const TUNNEL_HELP = `Usage: tlskit tunnel --accept [HOST:]PORT --to HOST:PORT (--cert F --key F | --ca F) [options]

Terminate TLS (--cert/--key: TLS in, plain out) or originate it (--ca: plain in, TLS out).

Options:
  --accept [HOST:]PORT     Where to listen (default host 127.0.0.1).
  --to HOST:PORT           The backend to relay each connection to.
  --cert F, --key F        Terminate: the server certificate and key (PEM). Reloaded on SIGHUP.
  --client-ca F            Terminate: require a client certificate issued by these CAs.
                           Reloaded on SIGHUP.
  --allow-cn NAME          Accept only client certificates with this CN (repeatable).
  --allow-san NAME         Accept only client certificates with this DNS/IP SAN (repeatable).
  --ca F                   Originate: the CAs that verify the backend's certificate.
                           Reloaded on SIGHUP.
  --servername NAME        Originate: the backend's name to verify (default the --to host).
                           Terminate with --starttls: the host name in the greeting.
  --proxy-protocol v1|v2   Send a PROXY header with the real client address to the backend.
  --drain-timeout MS       On SIGTERM/SIGINT, how long open connections may finish (default 10000);
                           a second signal exits at once.
  --max-connections N      Refuse connections beyond N open ones.
  --idle-timeout MS        Close a connection with no data either way for MS (default: never).
  --connect-timeout MS     How long connecting to the backend may take (default 10000); the
                           client's connection ends when it does not succeed in time.
  --starttls PROTOCOL      smtp, imap, pop3, ftp, xmpp or postgres: with --cert, offer STARTTLS to
                           plain clients of PROTOCOL (the backend's own greeting is swallowed);
                           with --ca, upgrade to the backend with STARTTLS.
  --json                   Log one JSON object per line (default: human text), to stderr.

Exit status: 0 after a drain (SIGTERM/SIGINT), 2 for a mistake in the flags or files, 143/130
when a second SIGTERM/SIGINT cut the drain short, 1 for anything else.

Examples:
  tlskit tunnel --accept 8443 --to 127.0.0.1:8080 --cert site.pem --key site-key.pem
  tlskit tunnel --accept 8443 --to 127.0.0.1:8080 --cert s.pem --key k.pem --client-ca ca.pem --allow-cn alice
  tlskit tunnel --accept 8080 --to example.com:443 --ca ca.pem
`;

const OPTIONS = {
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
  'connect-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  starttls: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values'];

/** The tunnel the flags describe, checked. */
interface TunnelPlan {
  accept: HostPort;
  to: HostPort;
  /** Terminate mode: the files of our certificate, key and (for mTLS) client CAs. */
  files: { cert: string; key: string; clientCa: string | undefined } | null;
  /** Originate mode: the CA file that verifies the backend. */
  caFile: string | undefined;
  drainTimeout: number;
  maxConnections: number | undefined;
  idleTimeout: number | undefined;
  json: boolean;
  route: Omit<TunnelRoute, 'serverTls' | 'backendTls'>;
}

export async function tunnelCommand(args: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS });
  if (values.help) {
    out(TUNNEL_HELP);
    return 0;
  }
  const plan = planTunnel(values);
  const log = makeLogger(plan.json);
  const { files, caFile } = plan;
  const serverTls = files
    ? withFlagNames(() => serverContext({ ...serverFiles(files), ...mtls(files) }), fileFlags(files))
    : undefined;
  const backendTls = caFile ? backendContext(caFile) : undefined;
  const route: TunnelRoute = { ...plan.route, serverTls, backendTls };
  const server = await listenOrExplain(plan.accept, () =>
    serve(
      {
        host: plan.accept.host,
        port: plan.accept.port,
        // With --starttls the listener is plain: TLS starts after the protocol's own prelude.
        ...(serverTls && !route.starttls ? { tls: serverTls } : {}),
        ...(plan.maxConnections ? { maxConnections: plan.maxConnections } : {}),
        ...(plan.idleTimeout ? { idleTimeout: plan.idleTimeout } : {}),
        onHandshakeError: (error, peer) =>
          log({ ...connectionFields(formatAddress(peer)), close: `refused: ${error.message}` }),
      },
      (client: Connection) => handleConnection(client, route, log),
    ),
  );
  logLimits(log);
  // Signals are handled before 'listening' is said: whoever waits for that line may signal at once.
  if (serverTls && files) reloadOnHangup(serverTls, files, log);
  if (caFile) reloadCaOnHangup(route, caFile, log);
  const stopped = stopOnSignal(server, plan.drainTimeout, log);
  log({
    event: 'listening',
    accept: formatAddress(server.address),
    to: formatAddress(plan.to),
    mode: serverTls ? 'terminate (TLS in, plain out)' : 'originate (plain in, TLS out)',
  });
  return await stopped;
}

/** Checks the flags against each other and reads what they say; throws a UsageError. */
function planTunnel(values: Values): TunnelPlan {
  const accept = hostPortFlag('--accept', values.accept, { defaultHost: '127.0.0.1', anyPort: true });
  const to = hostPortFlag('--to', values.to);
  const terminate = checkMode(values);
  if (terminate && values.servername !== undefined && values.starttls === undefined)
    throw new UsageError(
      '--servername names the backend in originate mode (--ca) and the host in a --starttls greeting; in terminate mode without --starttls it does nothing: drop it',
      { help: false },
    );
  const proxyFlag = values['proxy-protocol'];
  const proxyVersion = proxyFlag === undefined ? undefined : ({ v1: 1, v2: 2 } as const)[proxyFlag];
  if (proxyFlag !== undefined && proxyVersion === undefined)
    throw new UsageError(`--proxy-protocol must be v1 or v2, got '${proxyFlag}'`, { help: false });
  return {
    accept,
    to,
    files: terminate
      ? { cert: values.cert as string, key: values.key as string, clientCa: values['client-ca'] }
      : null,
    caFile: terminate ? undefined : values.ca,
    drainTimeout: milliseconds('--drain-timeout', values['drain-timeout']) ?? 10_000,
    maxConnections: positiveInteger('--max-connections', values['max-connections']),
    idleTimeout: milliseconds('--idle-timeout', values['idle-timeout']),
    json: values.json === true,
    route: {
      to,
      serverName: values.servername ?? to.host,
      servernameFlag: values.servername,
      starttls: values.starttls === undefined ? null : parseStartTlsProtocol('--starttls', values.starttls),
      proxyVersion,
      allowCn: values['allow-cn'] ?? [],
      allowSan: values['allow-san'] ?? [],
      connectTimeout: milliseconds('--connect-timeout', values['connect-timeout']) ?? 10_000,
    },
  };
}

/** True for terminate mode (--cert/--key), false for originate (--ca); refuses mixtures. */
function checkMode(values: Values): boolean {
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
  if ((values['allow-cn'] || values['allow-san']) && !values['client-ca'])
    throw new UsageError(
      '--allow-cn/--allow-san name client certificates, which only --client-ca asks for; pass --client-ca with the CAs that issue them',
      { help: false },
    );
  return terminate;
}

type ServerFiles = NonNullable<TunnelPlan['files']>;

/** Our certificate and key, and the client CAs when --client-ca asks for mTLS, read afresh. */
function serverFiles(files: ServerFiles): ReloadOptions {
  return {
    cert: readPem('--cert', files.cert),
    key: readPem('--key', files.key),
    ...(files.clientCa ? { trust: readPem('--client-ca', files.clientCa) } : {}),
  };
}

/**
 * A connection a limit refused (--max-connections) or closed (--idle-timeout) is one log line,
 * from the server's `tlskit:limit` channel; a refused one never reaches the relay to be logged.
 */
function logLimits(log: Logger): void {
  diagnostics.subscribe('tlskit:limit', (message) => {
    const { limit, value, peer } = message as LimitMessage;
    log({ event: 'limit', limit, value, peer: formatAddress(peer) });
  });
}

/** The flag each server context field comes from, for errors that name it. */
function fileFlags(files: ServerFiles): Record<string, { flag: string; file: string | undefined }> {
  return {
    cert: { flag: '--cert', file: files.cert },
    key: { flag: '--key', file: files.key },
    trust: { flag: '--client-ca', file: files.clientCa },
  };
}

/** Listens, turning an address in use (or not ours to take) into a mistake in --accept. */
async function listenOrExplain<T>(accept: HostPort, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    const code = (error as { code?: string }).code;
    const fix =
      code === 'EADDRINUSE'
        ? 'something already listens there; stop it or choose another port'
        : code === 'EACCES'
          ? 'ports below 1024 need privileges; choose a port from 1024 up'
          : code === 'EADDRNOTAVAIL'
            ? 'no interface of this machine has that address'
            : undefined;
    if (!fix) throw error;
    throw new UsageError(`--accept ${formatAddress(accept)}: ${code}; ${fix}`, { help: false });
  }
}

function mtls(files: ServerFiles): { clientAuth?: 'required' } {
  return files.clientCa ? { clientAuth: 'required' } : {};
}

/** SIGHUP: new handshakes get the files as they are now; a bad one keeps all the old ones. */
function reloadOnHangup(context: ServerContext, files: ServerFiles, log: Logger): void {
  process.on('SIGHUP', () => {
    const named = { cert: files.cert, client_ca: files.clientCa };
    try {
      withFlagNames(() => context.reload(serverFiles(files)), fileFlags(files));
      log({ event: 'reload', ...named });
    } catch (error) {
      log({ event: 'reload-failed', ...named, error: (error as Error).message, kept: 'old certificate' });
    }
  });
}

/** The context that verifies the backend when originating, from --ca; a UsageError names the flag. */
function backendContext(caFile: string) {
  return withFlagNames(() => clientContext({ trust: readPem('--ca', caFile) }), {
    trust: { flag: '--ca', file: caFile },
  });
}

/**
 * SIGHUP when originating: new backend connections verify against --ca as it is now; open ones
 * keep theirs, and a file that no longer reads keeps the old trust.
 */
function reloadCaOnHangup(route: TunnelRoute, caFile: string, log: Logger): void {
  process.on('SIGHUP', () => {
    try {
      route.backendTls = backendContext(caFile);
      log({ event: 'reload', ca: caFile });
    } catch (error) {
      log({ event: 'reload-failed', ca: caFile, error: (error as Error).message, kept: 'old trust' });
    }
  });
}

/**
 * SIGTERM/SIGINT: stop accepting, let open connections finish within the drain timeout. A second
 * signal (either) exits at once with 128 + its number, the open connections cut by the exit.
 */
function stopOnSignal(
  server: { close(options: { timeout: number }): Promise<object> },
  drainTimeout: number,
  log: Logger,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: 'SIGTERM' | 'SIGINT') => {
      if (stopping) {
        log({ event: 'stopped', signal, forced: true });
        process.exit(128 + osConstants.signals[signal]);
      }
      stopping = true;
      log({ event: 'stopping', signal, drain_timeout_ms: drainTimeout });
      server.close({ timeout: drainTimeout }).then(
        (result) => {
          log({ event: 'stopped', ...result });
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** `--accept` or `--to`: a UsageError when the flag is missing or is not HOST:PORT. */
function hostPortFlag(
  flag: string,
  value: string | undefined,
  rules: Omit<HostPortRules, 'label'> = {},
): HostPort {
  if (value === undefined)
    throw new UsageError(`${flag} is required; pass HOST:PORT`, { help: true, usage: TUNNEL_HELP });
  return parseHostPort(value, { label: flag, ...rules });
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

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, got '${value}'`, { help: false });
  return n;
}

/** A `--…-timeout MS` flag: a positive integer a Node timer can wait for. */
function milliseconds(flag: string, value: string | undefined): number | undefined {
  const n = positiveInteger(flag, value);
  if (n !== undefined && n > MAX_TIMER_MS)
    throw new UsageError(
      `${flag} ${value} is longer than a Node timer can wait; use at most ${MAX_TIMER_MS} (about 24.8 days)`,
      {
        help: false,
      },
    );
  return n;
}
