import { ClientContext } from '../tls/client-context.js';
import { ServerContext } from '../tls/server-context.js';
import { upgrade } from '../tls/start-tls.js';
import { InvalidArgumentError } from '../transport/errors.js';
import {
  type AddressOf,
  bindNewProtocol,
  checkFactory,
  type Endpoint,
  listen,
  openSocket,
  type Server,
  type SocketConnectOptions,
  type SocketListenOptions,
} from '../transport/net.js';
import {
  checkFunction,
  checkMilliseconds,
  checkOptionNames,
  type OptionNames,
} from '../transport/options.js';
import type { ProtocolFactory } from '../transport/protocol.js';
import type { Address, Transport } from '../transport/transport.js';
import { Connection } from './connection.js';
import { OPEN_OPTION_NAMES } from './option-names.js';
import { type ServerLimits, serverLimits } from './server-limits.js';

/** Options for opening a connection: where, deadlines, cancellation, and optionally TLS. */
export type ConnectOptions = Endpoint &
  SocketConnectOptions & {
    /** Speak TLS over the connection, verified by this client context. */
    tls?: ClientContext;
    /** The name the server's certificate must carry; defaults to `host`. Required over Unix sockets. */
    serverName?: string;
    /** TLS handshake deadline in milliseconds (default: the context's, else 30000). */
    handshakeTimeout?: number;
  };

/** Options for listening, optionally with TLS, and the limits put on each connection. */
export type ListenOptions = Endpoint &
  SocketListenOptions &
  ServerLimits & {
    /** Speak TLS on every accepted connection, with this server context. */
    tls?: ServerContext;
    /** Called when a client's TLS handshake fails (default: ignored, as scanners cause many). */
    onHandshakeError?: (error: Error, peer: Address | null) => void;
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
async function open(where: 'connect' | 'createConnection', options: ConnectOptions): Promise<Transport> {
  checkOptionNames(where, options, OPEN_OPTION_NAMES[where]);
  checkContext(where, options?.tls, 'client');
  checkMilliseconds(where, 'handshakeTimeout', options?.handshakeTimeout);
  const transport = await openSocket(where, options, options);
  if (!options.tls) return transport;
  const serverName = options.serverName ?? ('host' in options ? (options.host ?? 'localhost') : undefined);
  if (serverName === undefined) {
    transport.abort();
    throw new InvalidArgumentError(
      `${where}: TLS over a Unix socket needs \`serverName\`, the name the server's certificate must carry`,
    );
  }
  return upgrade(transport, {
    context: options.tls,
    serverName,
    signal: options.signal,
    handshakeTimeout: options.handshakeTimeout,
    closeTimeout: options.closeTimeout,
  });
}

/**
 * Accepts connections; with `tls`, hands each one over only after its handshake succeeded, within
 * the server's limits. `closeTimeout` applies to the TLS connection as well as the socket.
 */
async function accept<E extends Endpoint>(
  where: 'createServer' | 'serve',
  options: E & ListenOptions,
  names: OptionNames,
  onTransport: (transport: Transport) => void,
): Promise<Server<AddressOf<E>>> {
  checkOptionNames(where, options, names);
  checkContext(where, options?.tls, 'server');
  checkFunction(where, 'onHandshakeError', options?.onHandshakeError);
  checkFunction(where, 'onError', (options as ServeOptions | undefined)?.onError);
  const limits = serverLimits(where, options ?? {});
  const { tls: context, closeTimeout, onHandshakeError } = options ?? {};
  // The same for every connection, so made once.
  const upgrading = context ? { context, handshakeTimeout: limits.handshakeTimeout, closeTimeout } : null;
  return listen(where, options, options ?? {}, (transport) => {
    if (!upgrading) {
      onTransport(transport);
      return;
    }
    // startTls reads the peer's address before a failed handshake closes the socket.
    upgrade(transport, upgrading).then(onTransport, (error: Error) =>
      onHandshakeError?.(error, transport.info.peer),
    );
  });
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
 * connection is aborted and the error goes to `onError`.
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

function runHandler(transport: Transport, handler: ConnectionHandler, onError = reportHandlerError): void {
  const connection = new Connection(transport);
  Promise.resolve()
    .then(() => handler(connection))
    .then(
      () => connection.close(),
      (error: unknown) => {
        void connection.info.peer; // for the report: a closed socket forgets its addresses
        connection.abort(error instanceof Error ? error : new Error(String(error)));
        onError(error, connection);
      },
    );
}

function reportHandlerError(error: unknown, connection: Connection): void {
  const peer = connection.info.peer;
  const where = peer === null ? 'a connection' : 'path' in peer ? peer.path : `${peer.host}:${peer.port}`;
  console.error(`tlskit serve: the handler for ${where} failed:`, error);
}
