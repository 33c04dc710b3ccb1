import net from 'node:net';
import {
  AbortError,
  ConnectionError,
  InvalidArgumentError,
  TimeoutError,
  toTransportError,
} from './errors.js';
import { checkMilliseconds, checkSignal, shown } from './options.js';
import type { Protocol, ProtocolFactory } from './protocol.js';
import type { ProxyInfo } from './proxy-header-wire.js';
import { StreamTransport, type StreamTransportOptions, streamInfo } from './stream.js';
import type { Address, TcpAddress, Transport, TransportInfo, UnixAddress } from './transport.js';

/**
 * Where to connect or listen: a TCP `port` with an optional `host` (default `localhost` to connect,
 * `127.0.0.1` to listen), or a Unix socket `path`.
 */
export type Endpoint = { host?: string; port: number } | UnixAddress;

/** The option names of an endpoint, of opening a socket and of listening. */
export const ENDPOINT_OPTIONS = ['host', 'port', 'path'] as const;
export const SOCKET_CONNECT_OPTIONS = ['signal', 'timeout', 'closeTimeout'] as const;
export const SOCKET_LISTEN_OPTIONS = ['closeTimeout', 'backlog'] as const;

/** Options for opening a connection. */
export interface SocketConnectOptions {
  /** Cancels the attempt; the promise rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the connection; the promise rejects with a `TimeoutError`. */
  timeout?: number;
  /** Milliseconds `close()` waits for the peer to finish (default 5000). */
  closeTimeout?: number;
}

/** Options for listening. */
export interface SocketListenOptions {
  /** Milliseconds `close()` waits for each peer to finish (default 5000). */
  closeTimeout?: number;
  /** Maximum length of the queue of pending connections. */
  backlog?: number;
}

/** The address a server reports for an endpoint: `{ host, port }` for TCP, `{ path }` for Unix. */
export type AddressOf<E> = E extends { path: string } ? UnixAddress : TcpAddress;

/** Checks an endpoint and returns it normalised, or throws an error naming the bad field. */
export function checkEndpoint(
  where: string,
  endpoint: unknown,
  forListen: boolean,
): TcpAddress | UnixAddress {
  const value = (endpoint ?? {}) as Partial<TcpAddress & UnixAddress>;
  if (value.path !== undefined && (value.host !== undefined || value.port !== undefined)) {
    throw new InvalidArgumentError(
      `${where}: give \`path\` (a Unix socket) or \`host\` and \`port\` (TCP), not both: with \`path\`, ` +
        `\`${value.host !== undefined ? 'host' : 'port'}\` would be ignored`,
    );
  }
  if (value.path !== undefined) {
    if (typeof value.path !== 'string' || value.path === '') {
      throw new InvalidArgumentError(
        `${where}: \`path\` must be a non-empty string, got ${String(value.path)}`,
      );
    }
    return { path: value.path };
  }
  const { host, port } = value;
  const lowest = forListen ? 0 : 1;
  if (!Number.isInteger(port) || (port as number) < lowest || (port as number) > 65535) {
    throw new InvalidArgumentError(
      `${where}: \`port\` must be an integer from ${lowest} to 65535, got ${shown(port)}` +
        (forListen ? ' (0 lets the OS choose)' : ''),
    );
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new InvalidArgumentError(`${where}: \`host\` must be a non-empty string, got ${String(host)}`);
  }
  return { host: host ?? (forListen ? '127.0.0.1' : 'localhost'), port: port as number };
}

function checkBacklog(where: string, backlog: unknown): void {
  if (backlog !== undefined && !(Number.isInteger(backlog) && (backlog as number) >= 0)) {
    throw new InvalidArgumentError(
      `${where}: \`backlog\` must be a non-negative integer (pending connections the OS queues), got ${String(backlog)}`,
    );
  }
}

function describe(endpoint: Endpoint): string {
  return 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
}

/**
 * What a connected socket's transport reports about its addresses. `unix` names the Unix socket
 * path, when there is one; `proxy` is what a trusted proxy said in a PROXY header: its addresses
 * replace the socket's.
 */
export function socketAddressing(
  unix: { path: string; side: 'client' | 'server' } | null,
  proxy?: ProxyInfo,
): Omit<StreamTransportOptions, 'closeTimeout'> {
  const kind = unix ? 'unix' : 'tcp';
  if (proxy?.source && proxy.destination) {
    return { kind, local: proxy.destination, peer: proxy.source, proxy };
  }
  if (unix) {
    // A Unix socket has one name: the path the server listens on. The client's end is unnamed.
    const named = { path: unix.path };
    return {
      kind,
      local: unix.side === 'server' ? named : null,
      peer: unix.side === 'client' ? named : null,
      proxy,
    };
  }
  // Addresses cost two system calls; most connections never ask, so they are read on demand.
  return { kind, local: 'socket', peer: 'socket', proxy };
}

/**
 * @internal The info of a socket's own connection without a transport over it (a TLS socket
 * node:tls opened or took as accepted reports it as `info.lower`); see `socketAddressing`.
 */
export function socketInfo(
  socket: net.Socket,
  unix: { path: string; side: 'client' | 'server' } | null,
): TransportInfo {
  return streamInfo(socket, socketAddressing(unix));
}

/**
 * Wraps a connected socket; see `socketAddressing` for `unix` and `proxy`. TCP_NODELAY is the
 * opener's job (`openSocket`, or the listener for the sockets it accepts), done once per socket.
 */
export function socketTransport(
  socket: net.Socket,
  unix: { path: string; side: 'client' | 'server' } | null,
  closeTimeout?: number,
  proxy?: ProxyInfo,
): StreamTransport {
  return new StreamTransport(socket, { ...socketAddressing(unix, proxy), closeTimeout });
}

/** Checks the arguments of a connection attempt and returns the endpoint, normalised. */
export function checkConnect(
  where: string,
  endpointOptions: Endpoint,
  options: SocketConnectOptions,
): TcpAddress | UnixAddress {
  const endpoint = checkEndpoint(where, endpointOptions, false);
  checkMilliseconds(where, 'timeout', options.timeout);
  checkMilliseconds(where, 'closeTimeout', options.closeTimeout);
  checkSignal(where, options.signal);
  return endpoint;
}

/** The error for an attempt whose signal aborted before it began, or `null`. */
export function abortedBeforeConnecting(
  where: string,
  endpoint: Endpoint,
  signal: AbortSignal | undefined,
): AbortError | null {
  return signal?.aborted
    ? new AbortError(`${where}: aborted before connecting to ${describe(endpoint)}`, signal.reason)
    : null;
}

/**
 * Waits for `socket`, just asked to connect to `endpoint`, to connect. A failure, the `timeout` or
 * the `signal` destroys it and rejects with the transport error, `TimeoutError` or `AbortError`;
 * once connected, the promise resolves to what `connected` returns.
 */
export function whenConnected<T>(
  where: string,
  socket: net.Socket,
  endpoint: Endpoint,
  options: SocketConnectOptions,
  connected: () => T | PromiseLike<T>,
): Promise<T> {
  const { signal, timeout } = options;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (error: Error | null) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (error) {
        socket.on('error', () => {});
        socket.destroy();
        reject(error);
      } else {
        resolve(connected());
      }
    };
    const onConnect = () => settle(null);
    const onError = (error: unknown) => settle(toTransportError(error));
    const onAbort = () =>
      settle(new AbortError(`${where}: aborted while connecting to ${describe(endpoint)}`, signal?.reason));
    // `on`: settle removes both the first time either fires (`once` would wrap each per connection).
    socket.on('connect', onConnect);
    socket.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined) {
      timer = setTimeout(
        () =>
          settle(
            new TimeoutError(
              `${where}: no connection to ${describe(endpoint)} within ${timeout} ms`,
              timeout,
            ),
          ),
        timeout,
      );
    }
  });
}

/**
 * Opens a TCP or Unix socket connection and resolves to its transport, with no protocol bound.
 * The socket is connected and paused.
 */
export function openSocket(
  where: string,
  endpointOptions: Endpoint,
  options: SocketConnectOptions = {},
): Promise<StreamTransport> {
  const endpoint = checkConnect(where, endpointOptions, options);
  const aborted = abortedBeforeConnecting(where, endpoint, options.signal);
  if (aborted) return Promise.reject(aborted);
  const socket =
    'path' in endpoint
      ? net.connect({ path: endpoint.path, allowHalfOpen: true })
      : net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
  socket.pause();
  const unix = 'path' in endpoint ? { path: endpoint.path, side: 'client' as const } : null;
  return whenConnected(where, socket, endpoint, options, () => {
    if (!unix) socket.setNoDelay(true);
    return socketTransport(socket, unix, options.closeTimeout);
  });
}

/**
 * Sets TCP_NODELAY on the listening socket itself, where the accepted sockets inherit it (Linux
 * copies the option to each connection it accepts): one system call per server rather than one per
 * connection, a few microseconds of every handshake. `false` where that cannot be relied on (other
 * systems; a node:cluster worker, whose connections the primary accepts): each socket is set then.
 */
function noDelayForAccepted(server: net.Server): boolean {
  if (process.platform !== 'linux') return false;
  const handle = (server as unknown as { _handle?: { setNoDelay?: (on: boolean) => number } })._handle;
  return typeof handle?.setNoDelay === 'function' && handle.setNoDelay(true) === 0;
}

/** Calls the factory and binds its protocol; a throwing factory aborts the transport. */
export function bindNewProtocol(transport: Transport, protocolFactory: ProtocolFactory): Protocol {
  let protocol: Protocol;
  try {
    protocol = protocolFactory();
  } catch (error) {
    transport.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  transport.setProtocol(protocol);
  return protocol;
}

export function checkFactory(where: string, factory: unknown): void {
  if (typeof factory !== 'function') {
    throw new InvalidArgumentError(`${where}: the first argument must be a function that returns a protocol`);
  }
}

/** What to do about the usual reasons a listen fails, by code, for TCP and for a Unix socket. */
const LISTEN_FIXES: Record<string, { tcp: string; unix: string }> = {
  EADDRINUSE: {
    tcp: 'something already listens there; stop it or choose another port (`port: 0` lets the system pick a free one)',
    unix: 'the socket file exists; if no server uses it any more (one that exited without removing it), delete the file',
  },
  EACCES: {
    tcp: 'ports below 1024 need privileges; use a port from 1024 up, or give node the CAP_NET_BIND_SERVICE capability',
    // A directory that does not exist also gives EACCES here (checked on Linux, Node 20-24).
    unix: "no permission to create the socket file there, or its directory does not exist; check the path and the directory's permissions",
  },
  EADDRNOTAVAIL: {
    tcp: "no interface of this machine has that address; use one of this machine's addresses, or omit `host` to listen on all",
    unix: 'that path cannot hold a socket',
  },
  ENOENT: {
    tcp: 'the address does not exist',
    unix: "the socket file's directory does not exist; create it first",
  },
  ENOTDIR: {
    tcp: 'the address does not exist',
    unix: 'a part of the path before the file name is not a directory',
  },
};

/** A failed listen as a ConnectionError that names the address, the code and what to do. */
function listenError(where: string, endpoint: Endpoint, error: unknown): Error {
  const mapped = toTransportError(error);
  const unix = 'path' in endpoint;
  const fix = LISTEN_FIXES[mapped.code]?.[unix ? 'unix' : 'tcp'];
  if (!fix) return mapped;
  const host = unix ? '' : (endpoint.host ?? 'every address');
  const at = unix ? endpoint.path : `${host.includes(':') ? `[${host}]` : host}:${endpoint.port}`;
  return new ConnectionError(mapped.code, `${where}: cannot listen on ${at} (${mapped.code}): ${fix}`, {
    cause: error,
    syscall: 'listen',
  });
}

/** A listening socket, before any server policy: the layer above decides what to do with each socket. */
export interface Listener<A extends Address = Address> {
  /** Where it listens; with `port: 0` this holds the port the OS chose. */
  readonly address: A;
  /** Whether it accepts Unix-socket connections (their peers have no address). */
  readonly unix: boolean;
  /** Stops accepting; resolves once the listening socket is closed (open connections are not touched). */
  close(): Promise<void>;
}

/**
 * Listens on TCP or a Unix socket and hands every accepted socket, paused, to `onSocket`, TCP ones
 * with TCP_NODELAY set. What a server does with them (limits, PROXY headers, TLS, shutdown) is
 * decided above, in src/server/.
 */
export async function listenSockets<E extends Endpoint>(
  where: string,
  endpointOptions: E,
  options: SocketListenOptions,
  onSocket: (socket: net.Socket) => void,
): Promise<Listener<AddressOf<E>>> {
  const endpoint = checkEndpoint(where, endpointOptions, true);
  checkMilliseconds(where, 'closeTimeout', options.closeTimeout);
  checkBacklog(where, options.backlog);
  const tcp = !('path' in endpoint);
  let inherited = false;
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    if (tcp && !inherited) socket.setNoDelay(true);
    onSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(where, endpoint, error)));
    const listenOptions =
      'path' in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port };
    server.listen({ ...listenOptions, backlog: options.backlog }, () => resolve());
  });
  server.on('error', () => {});
  inherited = tcp && noDelayForAccepted(server);
  const bound = server.address();
  const address: Address =
    typeof bound === 'string' || bound === null
      ? { path: 'path' in endpoint ? endpoint.path : String(bound) }
      : { host: bound.address, port: bound.port };
  let closed: Promise<void> | null = null;
  return {
    address: address as AddressOf<E>,
    unix: 'path' in endpoint,
    close() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closed;
    },
  };
}
