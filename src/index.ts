/**
 * tlskit: one transport/protocol contract over TCP, Unix sockets, Node streams, memory pairs and
 * TLS, with an async Connection API on top.
 */

export { Connection, DEFAULT_READ_LIMIT, type ReadLimitOptions } from './stream/connection.js';
export {
  type ConnectionHandler,
  type ConnectOptions,
  connect,
  type ServeOptions,
  serve,
} from './stream/serve.js';
export { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HIGH_WATER_MARK } from './transport/base.js';
export { fromDuplex, TransportDuplex, toDuplex } from './transport/duplex.js';
export {
  AbortError,
  ConnectionError,
  IncompleteReadError,
  InvalidArgumentError,
  LimitExceededError,
  StateError,
  TimeoutError,
  TlskitError,
} from './transport/errors.js';
export {
  type AddressOf,
  createConnection,
  createServer,
  type Endpoint,
  type Server,
  type SocketConnectOptions,
  type SocketListenOptions,
} from './transport/net.js';
export type { Protocol, ProtocolFactory } from './transport/protocol.js';
export type {
  Address,
  TcpAddress,
  TlsInfo,
  Transport,
  TransportInfo,
  TransportKind,
  UnixAddress,
} from './transport/transport.js';
