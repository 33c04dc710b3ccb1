import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { BaseTransport, kHandOver, kOwnerView, kPendingBytes, kUpgradedTo } from '../transport/base.js';
import { AbortError, InvalidArgumentError, StateError } from '../transport/errors.js';
import { checkMilliseconds, checkOptionNames, checkSignal } from '../transport/options.js';
import type { Protocol } from '../transport/protocol.js';
import { kDetachStream, StreamTransport } from '../transport/stream.js';
import type { Transport } from '../transport/transport.js';
import { ClientContext } from './client-context.js';
import { EngineBridge } from './engine-bridge.js';
import { watchTlsEof } from './eof.js';
import { StartTlsError } from './errors.js';
import { acceptClient, awaitHandshake, clientCheck, connectClient } from './handshake.js';
import { attachKeyLog } from './keylog.js';
import { OPTION_NAMES } from './option-names.js';
import { ServerContext } from './server-context.js';
import { kNativeEngine, TlsTransport } from './tls-transport.js';

/** Options of `startTls`. */
export interface StartTlsOptions {
  /** The security context; a ClientContext makes us the client, a ServerContext the server. */
  context: ClientContext | ServerContext;
  /** Client: the name the server's certificate must carry (also sent as SNI unless it is an IP). */
  serverName?: string;
  /** Handshake deadline in milliseconds (default: the context's, else 30000). */
  handshakeTimeout?: number;
  /** Cancels the handshake; the promise rejects with an `AbortError` and the connection closes. */
  signal?: AbortSignal;
  /** Protocol to bind to the TLS transport; by default the lower transport's protocol carries over. */
  protocol?: Protocol;
  /** Bytes your plaintext protocol received after the upgrade command and did not consume. */
  unconsumed?: Uint8Array;
  /**
   * Plaintext that arrived before the upgrade and was not consumed (including `unconsumed`):
   * `'reject'` (default) fails with `ERR_STARTTLS_PENDING_PLAINTEXT` and changes nothing;
   * `'handshake'` treats it as the first bytes of the TLS stream, for protocols whose clients send
   * the ClientHello right behind the upgrade command.
   */
  pendingPlaintext?: 'reject' | 'handshake';
}

/**
 * @internal What tlskit's own callers may pass on top: connect() and serve() take a
 * `closeTimeout` for the whole connection, TLS included, which wins over the context's.
 */
export interface UpgradeOptions extends StartTlsOptions {
  closeTimeout?: number;
  /**
   * The ALPN list in wire format, in place of the context's: the HTTP clients offer exactly the
   * protocol they speak (`http/1.1`), whatever else the context lists; `serveHttp` accepts `h2`
   * and `http/1.1` when the server context names no protocols of its own.
   */
  alpnWire?: Buffer;
}

/**
 * The connected socket under `transport`, when node:tls can take it directly: OpenSSL then reads
 * and writes the descriptor itself. That includes the TLS socket of a TLS transport whose own
 * engine is native, so TLS inside TLS stacks one engine on the other in C++ as node:tls does (eof.ts
 * tells the inner layer's clean end from the outer one's). Any other stream goes through our bridge,
 * which also guards node:tls against streams whose methods throw (Node #29678).
 */
function socketOf(transport: Transport): net.Socket | null {
  if (!(transport instanceof StreamTransport)) return null;
  if (transport instanceof TlsTransport && !transport[kNativeEngine]) return null;
  const stream = transport.stream;
  if (!(stream instanceof net.Socket)) return null;
  if (stream instanceof tls.TLSSocket && !(transport instanceof TlsTransport)) return null;
  return stream.destroyed || stream.connecting ? null : stream;
}

function checkOptions(transport: Transport, options: StartTlsOptions): void {
  if (typeof transport !== 'object' || transport === null || typeof transport.setProtocol !== 'function') {
    throw new InvalidArgumentError('startTls: the first argument must be a tlskit Transport');
  }
  checkTlsOptions(options);
  if (
    options.pendingPlaintext !== undefined &&
    options.pendingPlaintext !== 'reject' &&
    options.pendingPlaintext !== 'handshake'
  ) {
    throw new InvalidArgumentError(
      `startTls: \`pendingPlaintext\` must be 'reject' or 'handshake', got ${JSON.stringify(options.pendingPlaintext)}`,
    );
  }
  if (options.unconsumed !== undefined && !(options.unconsumed instanceof Uint8Array)) {
    throw new InvalidArgumentError('startTls: `unconsumed` must be a Uint8Array');
  }
  if (transport.closing) {
    throw new StateError('ERR_TRANSPORT_CLOSED', 'startTls: the transport is already closing');
  }
}

/** @internal Checks what every TLS start needs: the context, the server name, the deadline, the signal. */
export function checkTlsOptions(
  options: Pick<StartTlsOptions, 'context' | 'serverName' | 'handshakeTimeout' | 'signal'>,
): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('startTls: options are required: { context, serverName? }');
  }
  const { context } = options;
  if (!(context instanceof ClientContext) && !(context instanceof ServerContext)) {
    throw new InvalidArgumentError(
      'startTls: `context` must come from clientContext() or serverContext(); there is no TLS without one',
    );
  }
  if (context instanceof ClientContext && context.insecureReason === null) {
    if (typeof options.serverName !== 'string' || options.serverName === '') {
      throw new InvalidArgumentError(
        "startTls: a client needs `serverName`, the name the server's certificate must carry " +
          '(host name verification is always on)',
      );
    }
  }
  if (options.serverName !== undefined && typeof options.serverName !== 'string') {
    throw new InvalidArgumentError('startTls: `serverName` must be a string');
  }
  checkMilliseconds('startTls', 'handshakeTimeout', options.handshakeTimeout);
  checkSignal('startTls', options.signal);
}

/**
 * Layers TLS over `transport` and resolves to the TLS transport once the handshake succeeded and
 * the peer was verified. Works at connection start and mid-stream (STARTTLS); the role comes from
 * the context. Until it settles, the lower transport belongs to the handshake: its `write` throws.
 * If the handshake fails, the connection closes and the lower transport's protocol receives
 * `connectionLost` with the same error the promise rejects with.
 */
export function startTls(transport: Transport, options: StartTlsOptions): Promise<TlsTransport> {
  try {
    checkOptionNames('startTls', options, OPTION_NAMES.startTls);
  } catch (error) {
    return Promise.reject(error);
  }
  return upgrade(transport, options);
}

/** @internal `startTls` for callers inside tlskit, which checked the option names themselves. */
export function upgrade(transport: Transport, options: UpgradeOptions): Promise<TlsTransport> {
  try {
    checkOptions(transport, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const { context } = options;
  const unconsumed = options.unconsumed ?? new Uint8Array(0);
  const base = transport instanceof BaseTransport ? transport : null;
  const pending = (base ? base[kPendingBytes]() : 0) + unconsumed.length;
  if (pending > 0 && options.pendingPlaintext !== 'handshake') {
    return Promise.reject(
      new StartTlsError(
        `startTls: ${pending} bytes of plaintext arrived before the upgrade and were not consumed; they must ` +
          'not be treated as protected by TLS (that is the STARTTLS injection attack). If your protocol lets ' +
          "clients send the ClientHello right behind the upgrade command, pass pendingPlaintext: 'handshake'",
        pending,
      ),
    );
  }
  if (options.signal?.aborted) {
    return Promise.reject(
      new AbortError('startTls: aborted before the handshake started', options.signal.reason),
    );
  }

  const lowerProtocol = transport.protocol;
  const taken = socketOf(transport);
  // Only the bridge writes to the lower transport; the native path hands the socket over.
  const lowerOwned = taken === null && base ? base[kOwnerView] : transport;
  const bridge = taken ? null : new EngineBridge(lowerOwned);
  if (taken) (transport as StreamTransport)[kDetachStream](true);
  // node:tls's types ask for a Duplex; the bridge is the part of one that its shim uses.
  const stream = taken ?? (bridge as unknown as Duplex);
  if (unconsumed.length > 0) stream.unshift(Buffer.from(unconsumed));

  const serverName = options.serverName ?? null;
  const check = context instanceof ClientContext ? clientCheck(context, serverName) : null;
  const socket =
    context instanceof ClientContext
      ? connectClient({ socket: stream }, context, check!, options.alpnWire)
      : acceptClient(stream, context, options.alpnWire);
  attachKeyLog(socket, context);
  const handshake = awaitHandshake({
    socket,
    context,
    check,
    eof: watchTlsEof(socket, bridge),
    timeout: options.handshakeTimeout,
    signal: options.signal,
    closeTimeout: options.closeTimeout,
    protocol: options.protocol ?? lowerProtocol ?? undefined,
    lower: transport,
    lowerOwned: taken ? null : lowerOwned,
    stream: taken,
    failed(error, graceful, later) {
      if (taken) {
        base?.[kUpgradedTo](null);
        // The lower transport no longer owns the socket: this ends its connection without
        // touching it. The socket is closed, never reset: Node does not survive its handle
        // disappearing under a live TLS engine.
        transport.abort(error);
        later(() => {
          socket.destroy();
          taken.destroy();
        });
        return;
      }
      // The teardown waits (see `later`), but the lower transport is done now: until then it
      // reads as closing and refuses writes, and an abort() asked for meanwhile is kept.
      let abortWith: Error | null = graceful ? null : error;
      base?.[kUpgradedTo]({
        failed: error,
        closing: true,
        close: noop,
        abort: (reason) => {
          abortWith ??= reason ?? error;
        },
      });
      later(() => {
        base?.[kUpgradedTo](null);
        socket.destroy();
        if (abortWith) lowerOwned.abort(abortWith);
        else lowerOwned.close();
      });
      try {
        lowerProtocol?.connectionLost?.(error);
      } catch (thrown) {
        queueMicrotask(() => {
          throw thrown;
        });
      }
    },
    established(tlsTransport) {
      if (taken) (transport as StreamTransport)[kHandOver](tlsTransport);
      else base?.[kUpgradedTo](tlsTransport);
    },
  });
  // Until the handshake settles, closing or aborting the lower transport ends the attempt.
  base?.[kUpgradedTo]({
    get closing() {
      return true;
    },
    close: handshake.close,
    abort: handshake.abort,
  });
  return handshake.promise;
}

function noop(): void {}
