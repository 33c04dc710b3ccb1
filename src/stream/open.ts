import type net from 'node:net';
import type { FinishClose } from '../server/close-result.js';
import type { Server } from '../server/handle.js';
import { type ServerLimits, serverLimits } from '../server/limits.js';
import type { WorkerOptions } from '../server/options.js';
import { type ProxyProtocolOptions, proxyPolicy } from '../server/proxy-protocol.js';
import { startServer } from '../server/server.js';
import { isShutdownAbort } from '../server/shutdown.js';
import { traceHandshake } from '../server/tracing.js';
import { inWorkers } from '../server/workers.js';
import { acceptTls } from '../tls/accept-tls.js';
import { ClientContext } from '../tls/client-context.js';
import { connectTls } from '../tls/connect-tls.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from '../tls/defaults.js';
import { TlsError } from '../tls/errors.js';
import { ServerContext } from '../tls/server-context.js';
import { upgrade } from '../tls/start-tls.js';
import {
  AbortError,
  ConnectionError,
  IncompleteReadError,
  InvalidArgumentError,
  TimeoutError,
} from '../transport/errors.js';
import {
  type AddressOf,
  bindNewProtocol,
  checkFactory,
  type Endpoint,
  openSocket,
  type SocketConnectOptions,
  type SocketListenOptions,
} from '../transport/net.js';
import {
  checkFunction,
  checkMilliseconds,
  checkOptionNames,
  checkOptionsObject,
  type OptionNames,
} from '../transport/options.js';
import type { ProtocolFactory } from '../transport/protocol.js';
import { encodeProxyHeader, type ProxyHeaderInit } from '../transport/proxy-header-encode.js';
import type { Address, Transport, TransportInfo } from '../transport/transport.js';
import { Connection } from './connection.js';
import { OPEN_OPTION_NAMES } from './option-names.js';

/** Options for opening a connection: where, deadlines, cancellation, and optionally TLS. */
export type ConnectOptions = Endpoint &
  SocketConnectOptions & {
    /** Speak TLS over the connection, verified by this client context. */
    tls?: ClientContext;
    /** The name the server's certificate must carry; defaults to `host`. Required over Unix sockets. */
    serverName?: string;
    /** TLS handshake deadline in milliseconds (default: the context's, else 30000). */
    handshakeTimeout?: number;
    /**
     * Send this PROXY protocol header first, before TLS: for tests of servers behind a proxy,
     * and for proxies written with tlskit.
     */
    proxyHeader?: ProxyHeaderInit;
  };

/** Options for listening, optionally with TLS, and the limits put on each connection. */
export type ListenOptions = Endpoint &
  SocketListenOptions &
  ServerLimits &
  WorkerOptions & {
    /** Speak TLS on every accepted connection, with this server context. */
    tls?: ServerContext;
    /**
     * Read a PROXY protocol header (v1 or v2) from the trusted proxies in front of the server:
     * `info.peer` and `info.local` then hold the client's addresses, `info.proxy` the rest.
     */
    proxyProtocol?: ProxyProtocolOptions;
    /**
     * Called when a client's PROXY header or TLS handshake fails (default: ignored, as scanners
     * cause many). Refusals by a limit are not errors: they are counted in `server.stats`.
     */
    onHandshakeError?: (error: Error, peer: Address | null) => void;
    /** Closes the server gracefully when it aborts, as `server.close()` does. */
    signal?: AbortSignal;
  };

/** Options of `serve`. */
export type ServeOptions = ListenOptions & {
  /**
   * Called when a handler throws or rejects; the connection has already been aborted with that
   * error. By default the error is printed to stderr with the peer's address.
   */
  onError?: (error: unknown, connection: Connection) => void;
};

/** Handles one connection; the connection is closed when the returned promise settles. */
export type ConnectionHandler = (connection: Connection) => unknown;

/** Checks that `tls` holds the context this side needs, naming the one that fits. */
function checkContext(where: string, tls: unknown, role: 'client' | 'server'): void {
  if (tls === undefined) return;
  const wanted = role === 'client' ? ClientContext : ServerContext;
  if (!(tls instanceof wanted)) {
    const got =
      tls instanceof ClientContext || tls instanceof ServerContext ? `a ${tls.role}Context()` : typeof tls;
    const fix =
      role === 'client'
        ? 'a serverContext() is for serve() and createServer()'
        : 'a clientContext() is for connect() and createConnection()';
    throw new InvalidArgumentError(`${where}: \`tls\` must be a ${role}Context(), got ${got} (${fix})`);
  }
}

/** Opens the socket and, with `tls`, completes the handshake. The result has no protocol bound. */
function open(where: 'connect' | 'createConnection', options: ConnectOptions): Promise<Transport> {
  checkOptionsObject(where, options, "{ host: 'example.com', port: 443, tls: clientContext(...) }");
  checkOptionNames(where, options, OPEN_OPTION_NAMES[where]);
  return dial(where, options);
}

/**
 * @internal `open` for callers inside tlskit that checked the option names themselves (the HTTP
 * clients), optionally with their own ALPN offer (`alpnWire`) in place of the context's. Bad
 * options throw; every caller is an async function, so they reach its promise. Not async itself:
 * each promise hop costs a TLS client at connection start a turn of the microtask queue.
 */
export function dial(where: string, options: ConnectOptions, alpnWire?: Buffer): Promise<Transport> {
  checkContext(where, options?.tls, 'client');
  checkMilliseconds(where, 'handshakeTimeout', options?.handshakeTimeout);
  const header = options.proxyHeader;
  if (header !== undefined && (typeof header !== 'object' || header === null)) {
    throw new InvalidArgumentError(
      `${where}: \`proxyHeader\` must be a PROXY header to send, e.g. { version: 2, source, destination }, got ${String(header)}`,
    );
  }
  // Encoded before connecting, so a bad header fails without a connection made for nothing.
  const headerBytes = header === undefined ? null : encodeProxyHeader(header);
  const context = options.tls;
  const serverName = options.serverName ?? ('host' in options ? (options.host ?? 'localhost') : undefined);
  if (context && serverName === undefined) {
    throw new InvalidArgumentError(
      `${where}: TLS over a Unix socket needs \`serverName\`, the name the server's certificate must carry`,
    );
  }
  if (!context) {
    return openSocket(where, options, options).then((transport) => {
      if (headerBytes) transport.write(headerBytes);
      return transport;
    });
  }
  const tls = {
    context,
    serverName: serverName as string,
    signal: options.signal,
    handshakeTimeout: options.handshakeTimeout,
    closeTimeout: options.closeTimeout,
    alpnWire,
    timeout: options.timeout,
  };
  const start = { role: 'client' as const, peer: null, serverName: tls.serverName };
  // TLS from the first byte: node:tls opens the socket itself.
  if (!headerBytes) return traceHandshake(start, connectTls(where, options, tls));
  return openSocket(where, options, options).then((transport) => {
    transport.write(headerBytes);
    return traceHandshake(start, upgrade(transport, tls));
  });
}

/**
 * @internal Accepts connections through a production server (src/server/): limits, the PROXY
 * protocol, with `tls` the handshake, graceful shutdown. `closeTimeout` applies to the TLS
 * connection as well as the socket. `alpnWire` replaces the server context's ALPN list.
 */
export async function accept<E extends Endpoint>(
  where: 'createServer' | 'serve' | 'serveHttp',
  options: E & ListenOptions,
  names: OptionNames,
  onTransport: (transport: Transport) => void,
  alpnWire?: Buffer,
  finishClose?: FinishClose,
): Promise<Server<AddressOf<E>>> {
  checkOptionsObject(where, options, '{ port: 8443, tls: serverContext(...) }');
  checkOptionNames(where, options, names);
  checkContext(where, options?.tls, 'server');
  checkFunction(where, 'onHandshakeError', options?.onHandshakeError);
  checkFunction(where, 'onError', (options as ServeOptions | undefined)?.onError);
  const limits = serverLimits(where, options ?? {});
  const proxy = proxyPolicy(where, options?.proxyProtocol);
  // With `workers` (or `ticketKeyRotation`), this process may fork, or listen as a worker.
  const group = inWorkers(
    where,
    options,
    (here) => accept(where, here, names, onTransport, alpnWire),
    finishClose,
  );
  if (group) return group;
  const { tls: context, closeTimeout, onHandshakeError, signal } = options ?? {};
  // The same for every connection, so made once.
  // Behind a PROXY header, the bytes read with it that follow it are the ClientHello.
  const upgrading = context
    ? {
        context,
        handshakeTimeout: limits.handshakeTimeout,
        closeTimeout,
        pendingPlaintext: proxy ? ('handshake' as const) : undefined,
        alpnWire,
      }
    : null;
  const handshake = upgrading
    ? (transport: Transport) =>
        traceHandshake(
          () => ({ role: 'server' as const, peer: transport.info.peer, serverName: null }),
          upgrade(transport, upgrading),
        )
    : null;
  const secure = upgrading && !proxy ? upgrading : null;
  const acceptingTls = secure
    ? (socket: net.Socket, info: TransportInfo) => {
        const accepting = acceptTls(socket, info, secure);
        const promise = traceHandshake(
          () => ({ role: 'server' as const, peer: info.peer, serverName: null }),
          accepting.promise,
        );
        return { promise, abort: accepting.abort };
      }
    : null;
  return startServer(
    options,
    options ?? {},
    {
      where,
      limits,
      proxy,
      headerTimeout: limits.handshakeTimeout ?? context?.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      closeTimeout,
      handshake,
      acceptTls: acceptingTls,
      onHandshakeError,
      signal,
    },
    onTransport,
  );
}

/**
 * Connects over TCP (`{ host, port }`) or a Unix socket (`{ path }`), with TLS when `tls` is given,
 * binds a protocol made by `protocolFactory`, and resolves to the transport once `connectionMade`
 * has run.
 */
export async function createConnection(
  protocolFactory: ProtocolFactory,
  options: ConnectOptions,
): Promise<Transport> {
  checkFactory('createConnection', protocolFactory);
  const transport = await open('createConnection', options);
  bindNewProtocol(transport, protocolFactory);
  return transport;
}

/**
 * Listens on TCP (`{ host, port }`, port 0 for any) or a Unix socket (`{ path }`), with TLS when
 * `tls` is given, and binds a fresh protocol from `protocolFactory` to every connection.
 */
export function createServer<E extends Endpoint>(
  protocolFactory: ProtocolFactory,
  options: E & ListenOptions,
): Promise<Server<AddressOf<E>>> {
  checkFactory('createServer', protocolFactory);
  return accept('createServer', options, OPEN_OPTION_NAMES.createServer, (transport) => {
    try {
      bindNewProtocol(transport, protocolFactory);
    } catch {
      // The transport was aborted; the factory's error has nowhere else to go.
    }
  });
}

/** Connects (with TLS when `tls` is given) and resolves to a Connection. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  return new Connection(await open('connect', options));
}

/**
 * Listens (with TLS when `tls` is given) and calls `handler(connection)` for every connection.
 * When the handler's promise resolves the connection is closed gracefully; when it rejects, the
 * connection is aborted and the error goes to `onError`. A rejection that is only the server's
 * shutdown reaching a read (an AbortError from `connection.serverClosing`, the handler not
 * catching it) counts as returning: the connection is closed gracefully and nothing is reported.
 */
export function serve<E extends Endpoint>(
  options: E & ServeOptions,
  handler: ConnectionHandler,
): Promise<Server<AddressOf<E>>> {
  if (typeof handler !== 'function') {
    throw new InvalidArgumentError('serve: `handler` must be a function that takes a Connection');
  }
  return accept('serve', options, OPEN_OPTION_NAMES.serve, (transport) =>
    runHandler(transport, handler, options.onError),
  );
}

function runHandler(
  transport: Transport,
  handler: ConnectionHandler,
  onError?: ServeOptions['onError'],
): void {
  const connection = new Connection(transport);
  // The default report names the peer, which a socket forgets once it closed (a reset, say):
  // read it now. A caller's own onError reads what it needs (TransportInfo says when).
  if (!onError) void connection.info.peer;
  Promise.resolve()
    .then(() => handler(connection))
    .then(
      () => connection.close(),
      (error: unknown) => {
        if (isServerClosingAbort(error, connection)) {
          connection.close();
          return;
        }
        connection.abort(error instanceof Error ? error : new Error(String(error)));
        // The server's own shutdown deadline cut the connection: no failure of the handler.
        if (!isShutdownAbort(error)) (onError ?? reportHandlerError)(error, connection);
      },
    );
}

/** Whether `error` is `connection.serverClosing` aborting a read (or thrown as it is). */
function isServerClosingAbort(error: unknown, connection: Connection): boolean {
  if (!(error instanceof AbortError)) return false;
  const signal = connection.serverClosing;
  return signal.aborted && (error === signal.reason || error.cause === signal.reason);
}

/**
 * Prints a failed handler's error with the peer's address: one line for what the network or the
 * peer did (a reset, a timeout, an early end, a TLS alert or truncation), the stack for anything else, which is
 * more likely a bug in the handler.
 */
function reportHandlerError(error: unknown, connection: Connection): void {
  const peer = connection.info.peer;
  const where = peer === null ? 'a connection' : 'path' in peer ? peer.path : `${peer.host}:${peer.port}`;
  const byPeer =
    error instanceof ConnectionError ||
    error instanceof TimeoutError ||
    error instanceof IncompleteReadError ||
    error instanceof TlsError;
  if (byPeer) {
    console.error(`tlskit serve: the handler for ${where} failed: ${error.code}: ${error.message}`);
  } else {
    console.error(`tlskit serve: the handler for ${where} failed:`, error);
  }
}
