import { InvalidArgumentError } from '../transport/errors.js';
import {
  type AddressOf,
  type Endpoint,
  listen,
  openSocket,
  type Server,
  type SocketConnectOptions,
  type SocketListenOptions,
} from '../transport/net.js';
import type { Transport } from '../transport/transport.js';
import { Connection } from './connection.js';

/** Options of `connect`: where to connect, plus deadlines and cancellation. */
export type ConnectOptions = Endpoint & SocketConnectOptions;

/** Options of `serve`. */
export type ServeOptions = Endpoint &
  SocketListenOptions & {
    /**
     * Called when a handler throws or rejects; the connection has already been aborted with that
     * error. By default the error is printed to stderr with the peer's address.
     */
    onError?: (error: unknown, connection: Connection) => void;
  };

/** Handles one connection; the connection is closed when the returned promise settles. */
export type ConnectionHandler = (connection: Connection) => unknown;

/** Connects over TCP (`{ host, port }`) or a Unix socket (`{ path }`) and resolves to a Connection. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  return new Connection(await openSocket('connect', options, options));
}

/**
 * Listens and calls `handler(connection)` for every connection. When the handler's promise
 * resolves the connection is closed gracefully; when it rejects, the connection is aborted and the
 * error goes to `onError`.
 */
export function serve<E extends Endpoint>(
  options: E & ServeOptions,
  handler: ConnectionHandler,
): Promise<Server<AddressOf<E>>> {
  if (typeof handler !== 'function') {
    throw new InvalidArgumentError('serve: `handler` must be a function that takes a Connection');
  }
  return listen('serve', options, options, (transport) => runHandler(transport, handler, options.onError));
}

/** Runs a handler over a fresh Connection. Shared with the TLS-aware `serve`. */
export function runHandler(
  transport: Transport,
  handler: ConnectionHandler,
  onError: ServeOptions['onError'] = reportHandlerError,
): void {
  const connection = new Connection(transport);
  Promise.resolve()
    .then(() => handler(connection))
    .then(
      () => connection.close(),
      (error: unknown) => {
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
