/**
 * Real HAProxy (Debian's `haproxy`, which .ci/run installs) in front of a backend, for tests of the
 * PROXY protocol against the implementation everyone else's is checked against.
 *
 * `startHaproxy` writes a TCP-mode configuration into a temporary directory, starts `haproxy -f
 * cfg -db` (foreground, one process) as a child, and resolves once the frontend accepts
 * connections: a bounded poll of connects, which fails at once with HAProxy's stderr if it exits.
 * A port taken between choosing it and HAProxy's bind is retried with another. `stop()` kills it
 * and waits for the exit; `killPeers()` (peers.ts) stops every one still running.
 *
 * The readiness probe is a real connection, which HAProxy relays like any other: a backend sees it
 * (with its own PROXY header), so tests pick their connection by its source port, which is what a
 * PROXY header is for anyway. Health checks, when enabled, arrive as further connections.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand } from './commands.js';
import { freePort, Peer } from './peers.js';

export const haproxyInstalled = hasCommand('haproxy');

/** What `proxy-v2-options` can add to a version 2 header (HAProxy 2.6). */
export type ProxyV2Option =
  | 'ssl'
  | 'cert-cn'
  | 'ssl-cipher'
  | 'cert-sig'
  | 'cert-key'
  | 'authority'
  | 'crc32c'
  | 'unique-id';

export interface HaproxyOptions {
  /** Where HAProxy relays to. */
  backend: { host: string; port: number };
  /** `send-proxy` (1) or `send-proxy-v2` (2). */
  sendProxy: 1 | 2;
  /** `proxy-v2-options`: TLVs to add (version 2 only). */
  v2Options?: ProxyV2Option[];
  /** The frontend's `unique-id-format`; with 'unique-id' it defaults to `%ci:%cp` (the client's address). */
  uniqueIdFormat?: string;
  /** Health checks every `interval` ms, each opening with a PROXY header (`check-send-proxy`). */
  healthChecks?: { interval: number };
  /** The frontend's address: '127.0.0.1' (default) or '::1'. */
  host?: '127.0.0.1' | '::1';
  /**
   * Terminate TLS at the frontend (still `mode tcp`), as HAProxy must for the SSL details and the
   * authority (SNI) to reach a header: the server certificate and key in PEM; optionally client
   * certificates checked against `clientCa` (`verify`), and with `ignoreVerifyErrors` a failed
   * check let through so that the header reports it.
   */
  tls?: {
    certPem: string;
    keyPem: string;
    clientCa?: string;
    verify?: 'none' | 'optional' | 'required';
    ignoreVerifyErrors?: boolean;
  };
}

export interface Haproxy {
  /** The frontend clients connect to. */
  readonly host: string;
  readonly port: number;
  readonly config: string;
  /** Resolved once the frontend accepts connections (already, for what startHaproxy returns). */
  readonly ready: Promise<void>;
  /** What HAProxy wrote to stderr (its log included), for failure messages. */
  readonly stderr: string;
  stop(): Promise<void>;
}

const address = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** The configuration for `options`, with the frontend on `port` and files in `dir`. */
export function haproxyConfig(options: HaproxyOptions, port: number, dir: string): string {
  const host = options.host ?? '127.0.0.1';
  const v2Options = options.v2Options ?? [];
  if (options.sendProxy === 1 && v2Options.length > 0)
    throw new Error('haproxy: v2Options need sendProxy: 2');
  let bind = `bind ${address(host, port)}`;
  const { tls } = options;
  if (tls) {
    const crt = join(dir, 'server.pem');
    writeFileSync(crt, `${tls.certPem.trimEnd()}\n${tls.keyPem.trimEnd()}\n`, { mode: 0o600 });
    bind += ` ssl crt ${crt}`;
    if (tls.clientCa) {
      const ca = join(dir, 'client-ca.pem');
      writeFileSync(ca, tls.clientCa);
      bind += ` ca-file ${ca} verify ${tls.verify ?? 'optional'}`;
      if (tls.ignoreVerifyErrors) bind += ' crt-ignore-err all ca-ignore-err all';
    }
  }
  const uniqueId = options.uniqueIdFormat ?? (v2Options.includes('unique-id') ? '%ci:%cp' : undefined);
  let server = `server s1 ${address(options.backend.host, options.backend.port)} `;
  server += options.sendProxy === 1 ? 'send-proxy' : 'send-proxy-v2';
  if (v2Options.length > 0) server += ` proxy-v2-options ${v2Options.join(',')}`;
  if (options.healthChecks) server += ` check inter ${options.healthChecks.interval} check-send-proxy`;
  return [
    'global',
    '  nbthread 1',
    '  log stderr format raw local0 info',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend fe',
    `  ${bind}`,
    ...(uniqueId ? [`  unique-id-format ${uniqueId}`] : []),
    '  default_backend be',
    'backend be',
    `  ${server}`,
    '',
  ].join('\n');
}

/** Connects to `host:port` until it accepts, at most `attempts` times; fails early if `peer` ends. */
async function accepting(peer: Peer, host: string, port: number, attempts = 100): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (peer.exit) throw new Error(`haproxy exited before accepting connections:\n${peer.stderr}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (attempt >= attempts)
      throw new Error(`haproxy did not accept on ${address(host, port)}:\n${peer.stderr}`);
    // The bounded poll's interval: nothing announces that HAProxy's listeners are bound.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts HAProxy on `port`; `ready` says when it accepts. */
export function launchHaproxy(options: HaproxyOptions, port: number): Haproxy {
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-haproxy-'));
  const config = haproxyConfig(options, port, dir);
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const peer = new Peer('haproxy', 'haproxy', ['-f', file, '-db']);
  const host = options.host ?? '127.0.0.1';
  const ready = accepting(peer, host, port);
  ready.catch(() => {});
  return {
    host,
    port,
    config,
    ready,
    get stderr() {
      return peer.stderr;
    },
    async stop() {
      if (peer.exit) return;
      await peer.kill('SIGTERM').catch(() => peer.kill('SIGKILL'));
    },
  };
}

/** Starts HAProxy on a free port and resolves once it accepts connections. */
export async function startHaproxy(options: HaproxyOptions): Promise<Haproxy> {
  for (let attempt = 1; ; attempt++) {
    const haproxy = launchHaproxy(options, await freePort(options.host ?? '127.0.0.1'));
    try {
      await haproxy.ready;
      return haproxy;
    } catch (error) {
      await haproxy.stop();
      const lostPort = /cannot bind|address already in use/i.test(haproxy.stderr);
      if (!lostPort || attempt >= 3) throw error;
    }
  }
}

/** Whether this machine has an IPv6 loopback to listen on. */
export async function ipv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => resolve(true));
  });
  if (listening) await new Promise((resolve) => server.close(resolve));
  return listening;
}
