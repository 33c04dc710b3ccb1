/**
 * HTTPS clients that dial through tlskit: an undici connector and dispatcher for `fetch`, and an
 * `https.Agent` for `node:http`/`node:https`. They get tlskit's verification, pins, CRLs and
 * precise `CertificateError`s instead of Node's own TLS client.
 *
 * Design notes:
 *
 * - **One dial.** Both clients open connections through `dial` (the body of `connect` and
 *   `createConnection`) and hand the HTTP code `toDuplex(transport)`, so everything those do
 *   (deadlines, `closeTimeout` reaching the TLS connection, tracing) holds here too.
 * - **ALPN.** undici's Agent and `node:http` speak HTTP/1.1, so both offer exactly `http/1.1`,
 *   whatever the context's `alpn` lists: a server that also speaks h2 must not pick a protocol the
 *   client cannot parse. A context whose `alpn` leaves out `http/1.1` is refused up front.
 * - **HTTPS only.** A dispatcher from here is asked for by someone who wants tlskit's
 *   verification; sending an `http:` URL through it in plaintext would quietly drop that, so it
 *   fails the request instead. Tunnels through a proxy (undici's `httpSocket`) are refused too,
 *   until they are tested.
 * - **Errors.** A failed dial reaches undici's callback as it is; `fetch` rejects with
 *   `TypeError('fetch failed')` whose `cause` is the `CertificateError` (or `TlsError`,
 *   `TimeoutError`, ...). `node:http` emits it as the request's `'error'`.
 * - **Truncation.** The context's `allowTruncation` is kept: without it, a response body that a
 *   cut ends early is an error rather than a short body; an idle keep-alive connection that the
 *   server cuts is dropped by the pool without failing any request.
 * - **Connect deadline.** `connectTimeout` defaults to 10 s, undici's own default, so a dead host
 *   does not hang a `fetch` for as long as the kernel retries.
 */

import https from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Agent, buildConnector } from 'undici';
import { ClientContext } from '../tls/client-context.js';
import { alpnWire } from '../tls/defaults.js';
import { type TransportDuplex, toDuplex } from '../transport/duplex.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkMilliseconds, checkOptionNames } from '../transport/options.js';
import { type ConnectOptions, dial } from './open.js';
import { HTTP_CLIENT_OPTION_NAMES } from './option-names.js';

/** Options of every HTTPS client here: deadlines of each connection it opens. */
export interface HttpsDialOptions {
  /** Milliseconds to wait for the TCP connection (default 10000, as undici). */
  connectTimeout?: number;
  /** TLS handshake deadline in milliseconds (default: the context's, else 30000). */
  handshakeTimeout?: number;
  /** How long closing a connection waits for the server's close_notify, in milliseconds (default 5000). */
  closeTimeout?: number;
}

/** Options of `tlsDispatcher`. */
export interface TlsDispatcherOptions extends HttpsDialOptions {
  /** undici's own `Agent` options (`connections`, `keepAliveTimeout`, ...), except `connect`. */
  agent?: Omit<Agent.Options, 'connect'>;
}

/** Options of `tlsAgent`. */
export interface TlsAgentOptions extends HttpsDialOptions {
  /** `http.Agent` options (`keepAlive`, `maxSockets`, `timeout`, ...); TLS settings belong in the context. */
  agent?: https.AgentOptions;
}

/** What a connector needs for each connection: where, and what undici or node:http asked for. */
interface Target {
  host: string;
  port: number;
  serverName: string;
  path?: string;
}

const DEFAULT_CONNECT_TIMEOUT = 10_000;
const HTTP_1_1 = alpnWire(['http/1.1']);

/** Checks what every client takes; returns a function that opens a TLS connection to a target. */
function dialer(
  where: string,
  context: unknown,
  options: HttpsDialOptions,
): (target: Target) => Promise<TransportDuplex> {
  if (!(context instanceof ClientContext)) {
    const got = context === null ? 'null' : typeof context === 'object' ? 'another object' : typeof context;
    throw new InvalidArgumentError(
      `${where}: \`context\` must be a clientContext(), got ${got} (make one with clientContext({ trust }))`,
    );
  }
  if (context.alpn !== undefined && !context.alpn.includes('http/1.1')) {
    throw new InvalidArgumentError(
      `${where}: the context offers ALPN ${JSON.stringify(context.alpn)}, but this client speaks HTTP/1.1 only; ` +
        "add 'http/1.1' to the context's `alpn` or leave `alpn` out (the client offers exactly http/1.1)",
    );
  }
  const connectTimeout = checkMilliseconds(where, 'connectTimeout', options.connectTimeout);
  const handshakeTimeout = checkMilliseconds(where, 'handshakeTimeout', options.handshakeTimeout);
  const closeTimeout = checkMilliseconds(where, 'closeTimeout', options.closeTimeout);
  return async ({ host, port, serverName, path }) => {
    const endpoint = path === undefined ? { host, port } : { path };
    const settings: ConnectOptions = {
      ...endpoint,
      tls: context,
      serverName,
      timeout: connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
      handshakeTimeout,
      closeTimeout,
    };
    return toDuplex(await dial(where, settings, HTTP_1_1));
  };
}

/** Checks `options` itself and its names; `undefined` is no options. */
function checkOptions<T extends object>(
  where: keyof typeof HTTP_CLIENT_OPTION_NAMES,
  options: T | undefined,
): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`${where}: \`options\` must be an object, got ${String(options)}`);
  }
  checkOptionNames(where, options, HTTP_CLIENT_OPTION_NAMES[where]);
  return options;
}

/**
 * An undici connector (`new Agent({ connect: tlsConnector(context) })`, or a `Pool`/`Client`)
 * that opens each connection through tlskit, verified by `context`. It dials `https:` origins
 * only and offers ALPN `http/1.1`; a failed dial goes to undici as the error itself.
 */
export function tlsConnector(context: ClientContext, options?: HttpsDialOptions): buildConnector.connector {
  const open = dialer('tlsConnector', context, checkOptions('tlsConnector', options));
  return (request, callback) => {
    const refusal = refuse(request);
    if (refusal) {
      callback(refusal, null);
      return;
    }
    const target: Target = {
      host: request.hostname,
      port: Number(request.port) || 443,
      serverName: request.servername || request.hostname,
      path: request.socketPath ?? undefined,
    };
    open(target).then(
      // undici's types name a net.Socket; it uses only what a Duplex has, and `alpnProtocol`.
      (duplex) => callback(null, duplex as unknown as Socket),
      (error: Error) => callback(error, null),
    );
  };
}

function refuse(request: buildConnector.Options): Error | null {
  if (request.protocol !== 'https:') {
    return new InvalidArgumentError(
      `tlsConnector: ${request.protocol}//${request.host ?? request.hostname} is not HTTPS; a tlskit dispatcher ` +
        'only dials TLS, so it refuses to send this request in plaintext (use an https:// URL)',
    );
  }
  if (request.httpSocket) {
    return new InvalidArgumentError(
      'tlsConnector: TLS through a proxy tunnel (`httpSocket`) is not supported yet; connect to the origin directly',
    );
  }
  return null;
}

/**
 * An undici `Agent` whose connections dial through tlskit: pass it as `dispatcher` to `fetch`
 * (Node's global one or undici's) or to undici's `request`. `options.agent` goes to the Agent.
 */
export function tlsDispatcher(context: ClientContext, options?: TlsDispatcherOptions): Agent {
  const { agent = {}, ...dialing } = checkOptions('tlsDispatcher', options);
  if (typeof agent !== 'object' || agent === null) {
    throw new InvalidArgumentError(
      `tlsDispatcher: \`agent\` must be undici Agent options, got ${String(agent)}`,
    );
  }
  if ('connect' in agent) {
    throw new InvalidArgumentError(
      'tlsDispatcher: `agent.connect` would replace the tlskit connector; to combine them, build your own ' +
        'Agent with `connect: tlsConnector(context)`',
    );
  }
  const ignored = Object.keys(agent).find((name) => name in IGNORED_WITH_CONNECTOR);
  if (ignored !== undefined) {
    throw new InvalidArgumentError(
      `tlsDispatcher: \`agent.${ignored}\` would be ignored (undici leaves it to its own connector, which tlskit's replaces); ${IGNORED_WITH_CONNECTOR[ignored]}`,
    );
  }
  const connect = tlsConnector(context, dialing);
  return new (undici().Agent)({ ...agent, connect });
}

/** undici Agent options that only its own connector reads, and what to do instead. */
const IGNORED_WITH_CONNECTOR: Record<string, string> = {
  connectTimeout: "pass tlsDispatcher's own `connectTimeout` (and `handshakeTimeout`)",
  tls: 'TLS settings come from the clientContext()',
  maxCachedSessions: 'the clientContext() keeps the sessions',
  allowH2: 'tlskit offers HTTP/1.1 to undici; leave it out',
  useH2c: 'tlskit offers HTTP/1.1 to undici; leave it out',
  autoSelectFamily: 'leave it out: tlskit dials the address the host name gives',
  autoSelectFamilyAttemptTimeout: 'leave it out: tlskit dials the address the host name gives',
  localAddress: 'leave it out: tlskit does not bind the local address of its connections',
  socketPath: 'leave it out',
};

/**
 * undici, loaded when the first dispatcher is made: loading it is about 85 ms of start-up and
 * 16 MB of memory, most of what importing tlskit would cost a program that never calls `fetch`
 * through it. (undici is one CommonJS module, so this is the instance `import 'undici'` gives.)
 */
function undici(): typeof import('undici') {
  loadedUndici ??= createRequire(import.meta.url)('undici') as typeof import('undici');
  return loadedUndici;
}
let loadedUndici: typeof import('undici') | null = null;

/** Dialing options an `https.Agent` passes to the connection it makes, which tlskit makes instead. */
const AGENT_DIAL_OPTIONS = ['localAddress', 'localPort', 'family', 'lookup', 'hints', 'autoSelectFamily'];

/** TLS settings an `https.Agent` takes that tlskit's context decides instead. */
const CONTEXT_DECIDES = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'crl',
  'ciphers',
  'ecdhCurve',
  'minVersion',
  'maxVersion',
  'secureContext',
  'secureOptions',
  'rejectUnauthorized',
  'checkServerIdentity',
  'ALPNProtocols',
  'servername',
  'session',
  'maxCachedSessions',
];

/**
 * An `https.Agent` whose connections dial through tlskit, verified by the context: for
 * `https.request(url, { agent })`, and for `http.request` of an `https:` URL. Keep-alive and socket
 * pooling are Node's; make one with `tlsAgent(context, options)`.
 */
export class TlsAgent extends https.Agent {
  readonly #open: (target: Target) => Promise<TransportDuplex>;

  /** @internal Use `tlsAgent(context, options)`. */
  constructor(open: (target: Target) => Promise<TransportDuplex>, agent: https.AgentOptions) {
    super(agent);
    this.#open = open;
  }

  /**
   * Called by Node's Agent for each new socket: dials, then hands the socket (or the error) to
   * `callback`. Returning nothing tells the Agent the socket comes later.
   */
  override createConnection(
    options: https.RequestOptions,
    callback?: (error: Error | null, socket: Duplex) => void,
  ): undefined {
    if (typeof callback !== 'function') {
      throw new InvalidArgumentError(
        'TlsAgent.createConnection: a tlskit connection opens asynchronously, so it needs the callback Node passes',
      );
    }
    const host = options.host ?? options.hostname ?? 'localhost';
    const target: Target = {
      host,
      port: Number(options.port) || 443,
      serverName: options.servername || host,
      path: options.socketPath,
    };
    const { timeout } = options;
    this.#open(target).then(
      (socket) => {
        // As net.createConnection does: Node's Agent leaves its `timeout` to the socket's maker.
        if (typeof timeout === 'number' && timeout > 0) socket.setTimeout(timeout);
        callback(null, socket);
      },
      (error: Error) => callback(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** An `https.Agent` that dials through tlskit; see `TlsAgent`. `options.agent` goes to the Agent. */
export function tlsAgent(context: ClientContext, options?: TlsAgentOptions): TlsAgent {
  const { agent = {}, ...dialing } = checkOptions('tlsAgent', options);
  if (typeof agent !== 'object' || agent === null) {
    throw new InvalidArgumentError(`tlsAgent: \`agent\` must be http.Agent options, got ${String(agent)}`);
  }
  const unused = AGENT_DIAL_OPTIONS.find((name) => name in agent);
  if (unused !== undefined) {
    throw new InvalidArgumentError(
      `tlsAgent: \`agent.${unused}\` would be ignored: tlskit dials the connections itself (the host and port come from the URL)`,
    );
  }
  const decided = CONTEXT_DECIDES.find((name) => name in agent);
  if (decided !== undefined) {
    throw new InvalidArgumentError(
      `tlsAgent: \`agent.${decided}\` would be ignored: trust, certificates, versions and verification ` +
        'come from the clientContext(), and the server name from the URL',
    );
  }
  return new TlsAgent(dialer('tlsAgent', context, dialing), agent);
}
