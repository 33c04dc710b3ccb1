/**
 * tlskit: one transport/protocol contract over TCP, Unix sockets, Node streams, memory pairs and
 * TLS, with an async Connection API on top, and security contexts that cannot be built unsafe.
 */

export type { CloseOptions, CloseResult } from './server/close-result.js';
export type { Server, ServerStats } from './server/handle.js';
export type { ServerLimits } from './server/limits.js';
export type { ProxyProtocolOptions } from './server/proxy-protocol.js';
export type {
  ConnectionCloseMessage,
  ConnectionOpenMessage,
  HandshakeEndMessage,
  HandshakeErrorMessage,
  HandshakeStartMessage,
  LimitMessage,
  LimitName,
} from './server/tracing.js';
export {
  Connection,
  DEFAULT_READ_LIMIT,
  type ReadLimitOptions,
  type ReadOptions,
} from './stream/connection.js';
export {
  type HttpsDialOptions,
  TlsAgent,
  type TlsAgentOptions,
  type TlsDispatcherOptions,
  tlsAgent,
  tlsConnector,
  tlsDispatcher,
} from './stream/http-client.js';
export {
  connectionInfo,
  type HttpApp,
  type HttpHandler,
  type HttpProtocolFactory,
  type HttpProtocolOptions,
  type HttpRequest,
  type HttpRequestCounts,
  type HttpResponse,
  type HttpServers,
  httpProtocol,
} from './stream/http-protocol.js';
export {
  type HttpCloseResult,
  type HttpServer,
  type ServeHttpOptions,
  serveHttp,
} from './stream/http-server.js';
export {
  type ConnectionHandler,
  type ConnectOptions,
  connect,
  createConnection,
  createServer,
  type ListenOptions,
  type ServeOptions,
  serve,
} from './stream/open.js';
export {
  type ClientContext,
  type ClientContextOptions,
  clientContext,
  spkiPin,
  type TrustInput,
} from './tls/client-context.js';
export type { TlsVersion } from './tls/defaults.js';
export {
  CertificateError,
  type CertificateErrorCode,
  ContextError,
  StartTlsError,
  TlsError,
} from './tls/errors.js';
export type { PemInput } from './tls/pem.js';
export {
  type ReloadOptions,
  type ServerContext,
  type ServerContextOptions,
  type ServerCredentials,
  type SniResolver,
  serverContext,
} from './tls/server-context.js';
export { type StartTlsOptions, startTls } from './tls/start-tls.js';
export type { TlsTransport } from './tls/tls-transport.js';
export { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HIGH_WATER_MARK } from './transport/base.js';
export {
  type DatagramAddress,
  type DatagramInfo,
  type DatagramKind,
  type DatagramProtocol,
  type DatagramTransport,
  MAX_UDP4_PAYLOAD,
  MAX_UDP6_PAYLOAD,
} from './transport/datagram.js';
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
export type {
  AddressOf,
  Endpoint,
  SocketConnectOptions,
  SocketListenOptions,
} from './transport/net.js';
export type { Protocol, ProtocolFactory } from './transport/protocol.js';
export {
  type ProxyHeader,
  ProxyHeaderError,
  type ProxyHeaderErrorCode,
  ProxyHeaderParser,
  type ProxyInfo,
  type ProxyParse,
  type ProxyParserOptions,
  type ProxySslTlv,
  type ProxyTlvs,
  type ProxyTransport,
} from './transport/proxy-header.js';
export { encodeProxyHeader, type ProxyHeaderInit } from './transport/proxy-header-encode.js';
export type {
  Address,
  TcpAddress,
  TlsInfo,
  TlsTransportInfo,
  Transport,
  TransportInfo,
  TransportKind,
  UnixAddress,
} from './transport/transport.js';
export { createDatagramEndpoint, type DatagramEndpointOptions, UdpTransport } from './transport/udp.js';
