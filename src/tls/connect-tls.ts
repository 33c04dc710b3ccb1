/**
 * A TLS client at connection start whose socket node:tls opens itself: `tls.connect({ host, port })`
 * (or `{ path }`) rather than a plain socket first and TLS over it. The connection is the same, a
 * native socket read and written by OpenSSL, but one socket object fewer is made, wrapped and
 * handed over per connection, which is most of what a resumed handshake costs on our side. The
 * transport that results is the one `startTls` makes over a native socket; `info.lower` describes
 * the TCP (or Unix) connection as a plain transport over it would.
 */
import type { TLSSocket } from 'node:tls';
import {
  abortedBeforeConnecting,
  checkConnect,
  type Endpoint,
  type SocketConnectOptions,
  socketInfo,
  whenConnected,
} from '../transport/net.js';
import type { TransportInfo } from '../transport/transport.js';
import type { ClientContext } from './client-context.js';
import { type EofWatch, watchTlsEof } from './eof.js';
import {
  awaitHandshake,
  type ClientCheck,
  type ClientUnderlay,
  clientCheck,
  connectClient,
} from './handshake.js';
import { attachKeyLog } from './keylog.js';
import { checkTlsOptions } from './start-tls.js';
import type { TlsTransport } from './tls-transport.js';

/** @internal Options of `connectTls`, as `connect()` passes them. */
export interface ConnectTlsOptions extends SocketConnectOptions {
  context: ClientContext;
  serverName: string;
  handshakeTimeout?: number;
  /** The ALPN list in wire format, in place of the context's (see `UpgradeOptions`). */
  alpnWire?: Buffer;
}

/**
 * @internal Connects to `endpointOptions` and completes a TLS handshake as the client. Rejects with
 * the same errors as opening a socket (while connecting) and `startTls` (during the handshake),
 * whose deadline starts once the connection is made.
 */
export function connectTls(
  where: string,
  endpointOptions: Endpoint,
  options: ConnectTlsOptions,
): Promise<TlsTransport> {
  const endpoint = checkConnect(where, endpointOptions, options);
  checkTlsOptions(options);
  const aborted = abortedBeforeConnecting(where, endpoint, options.signal);
  if (aborted) return Promise.reject(aborted);
  const { context } = options;
  const check = clientCheck(context, options.serverName);
  const underlay: ClientUnderlay =
    'path' in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port };
  const socket = connectClient(underlay, context, check, options.alpnWire);
  // Half-close is part of the contract, as on every transport (node:tls would end our side).
  socket.allowHalfOpen = true;
  attachKeyLog(socket, context);
  const eof = watchTlsEof(socket, null);
  const unix = 'path' in endpoint ? { path: endpoint.path, side: 'client' as const } : null;
  const lower = { info: socketInfo(socket, unix) };
  return whenConnected(where, socket, endpoint, options, () => {
    // Once connected: asked before, Node would set it now and again when the connection is made.
    if (!unix) socket.setNoDelay(true);
    return handshake(socket, options, check, eof, lower);
  });
}

/** The handshake, once connected: its deadline starts now. */
function handshake(
  socket: TLSSocket,
  options: ConnectTlsOptions,
  check: ClientCheck,
  eof: EofWatch,
  lower: { readonly info: TransportInfo },
): Promise<TlsTransport> {
  const { context } = options;
  return awaitHandshake({
    socket,
    context,
    check,
    eof,
    timeout: options.handshakeTimeout,
    signal: options.signal,
    closeTimeout: options.closeTimeout,
    protocol: undefined,
    lower,
    lowerOwned: null,
    stream: null,
    // The TLS socket is the connection: closing it (never resetting it under a live engine) is
    // all there is to tear down.
    failed: (_error, _graceful, later) => later(() => socket.destroy()),
    established: () => {},
  }).promise;
}
