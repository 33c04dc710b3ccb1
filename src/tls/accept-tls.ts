/**
 * A TLS server's side of a socket it just accepted, handed to node:tls as the listener gave it:
 * no plain transport is made first and then detached, which is what `tls.Server` does too. The
 * transport that results is the one `startTls` makes over a native socket; `info.lower`
 * describes the TCP (or Unix) connection as a plain transport over it would. Servers that read a
 * PROXY header first still go through a plain transport and `startTls`, since the header's bytes
 * and the addresses it names live there.
 */
import type net from 'node:net';
import type { TransportInfo } from '../transport/transport.js';
import { watchTlsEof } from './eof.js';
import { acceptClient, awaitHandshake } from './handshake.js';
import { attachKeyLog } from './keylog.js';
import type { ServerContext } from './server-context.js';
import type { TlsTransport } from './tls-transport.js';

/** @internal How a server runs the handshake on each accepted socket. */
export interface AcceptTlsOptions {
  context: ServerContext;
  handshakeTimeout?: number;
  closeTimeout?: number;
  /** The ALPN list in wire format, in place of the context's (see `UpgradeOptions`). */
  alpnWire?: Buffer;
}

/** @internal A handshake under way on an accepted socket. */
export interface Accepting {
  /** Resolves to the verified TLS transport; rejects as `startTls` does, the socket closed. */
  readonly promise: Promise<TlsTransport>;
  /** Ends the attempt at once (a server dropping its pending handshakes). */
  abort(error?: Error): void;
}

/**
 * @internal Starts the server's handshake on `socket`, fresh from the listener; `info` is its
 * `socketInfo`, which the TLS transport reports as `info.lower`.
 */
export function acceptTls(socket: net.Socket, info: TransportInfo, options: AcceptTlsOptions): Accepting {
  const { context } = options;
  // Errors reach the TLS socket; one left on the accepted socket must not be uncaught.
  socket.on('error', noop);
  const tlsSocket = acceptClient(socket, context, options.alpnWire);
  attachKeyLog(tlsSocket, context);
  const handshake = awaitHandshake({
    socket: tlsSocket,
    context,
    check: null,
    eof: watchTlsEof(tlsSocket, null),
    timeout: options.handshakeTimeout,
    signal: undefined,
    closeTimeout: options.closeTimeout,
    protocol: undefined,
    lower: { info },
    lowerOwned: null,
    stream: socket,
    // Closed, never reset: Node does not survive its handle disappearing under a live engine.
    failed: (_error, _graceful, later) =>
      later(() => {
        tlsSocket.destroy();
        socket.destroy();
      }),
    established: noop,
  });
  return { promise: handshake.promise, abort: handshake.abort };
}

function noop(): void {}
