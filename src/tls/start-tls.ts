import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import {
  BaseTransport,
  kHandOver,
  kOwnerView,
  kPendingBytes,
  kUpgradedTo,
  type TransportOwner,
} from '../transport/base.js';
import {
  AbortError,
  ConnectionError,
  InvalidArgumentError,
  StateError,
  TimeoutError,
} from '../transport/errors.js';
import { checkMilliseconds, checkOptionNames, checkSignal } from '../transport/options.js';
import type { Protocol } from '../transport/protocol.js';
import { kDetachStream, StreamTransport } from '../transport/stream.js';
import type { Transport } from '../transport/transport.js';
import { ClientContext, type SavedSession } from './client-context.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from './defaults.js';
import { EngineBridge } from './engine-bridge.js';
import { watchTlsEof } from './eof.js';
import { StartTlsError } from './errors.js';
import { checkHostname, sniName } from './hostname.js';
import { derChain, LazyChain, readTlsInfo } from './info.js';
import { attachKeyLog } from './keylog.js';
import { tlsErrorFrom } from './openssl-errors.js';
import { OPTION_NAMES } from './option-names.js';
import { ServerContext } from './server-context.js';
import { TlsTransport } from './tls-transport.js';
import { verifyClient, verifyServer } from './verify.js';

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

const noop = () => {};

/**
 * The connected socket under `transport`, when node:tls can take it directly: OpenSSL then reads
 * and writes the descriptor itself. Any other stream goes through our bridge, which also guards
 * node:tls against streams whose methods throw (Node #29678). A TLS transport is never taken this
 * way: two TLS engines stacked directly would hide the outer end of stream (see the design notes).
 */
function socketOf(transport: Transport): net.Socket | null {
  if (!(transport instanceof StreamTransport) || transport instanceof TlsTransport) return null;
  const stream = transport.stream;
  if (!(stream instanceof net.Socket) || stream instanceof tls.TLSSocket) return null;
  return stream.destroyed || stream.connecting ? null : stream;
}

function checkOptions(transport: Transport, options: StartTlsOptions): void {
  if (typeof transport !== 'object' || transport === null || typeof transport.setProtocol !== 'function') {
    throw new InvalidArgumentError('startTls: the first argument must be a tlskit Transport');
  }
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
  checkMilliseconds('startTls', 'handshakeTimeout', options.handshakeTimeout);
  checkSignal('startTls', options.signal);
  if (transport.closing) {
    throw new StateError('ERR_TRANSPORT_CLOSED', 'startTls: the transport is already closing');
  }
}

/** What the client side learns during its handshake. */
interface ClientCheck {
  readonly serverName: string | null;
  /**
   * The host name check's verdict, made while Node has the server's certificate parsed anyway;
   * `null` until made (Node makes it on every full handshake whose chain OpenSSL accepted).
   */
  hostMatches: boolean | null;
  /** The saved session offered for resumption. */
  readonly offered: SavedSession | undefined;
  /** The server's chain from the identity check, when Node made one (a full, verified handshake). */
  peerChain: LazyChain | null;
  /**
   * Set once the server passed verification. Until then, sessions the server hands out are not
   * saved: Node announces them even for a connection our verification just refused, and a saved
   * session is resumed without verification.
   */
  verifiedChain: LazyChain | null;
}

/**
 * Starts the client side. The callbacks handed to node:tls live as long as the socket, so they are
 * made here, capturing only what they need, not the whole handshake.
 */
function connectClient(
  stream: Duplex,
  context: ClientContext,
  check: ClientCheck,
  alpnWire = context.alpnWire,
): TLSSocket {
  const { serverName } = check;
  const socket = tls.connect({
    socket: stream,
    secureContext: context.secureContext,
    servername: serverName !== null ? sniName(serverName) : undefined,
    ALPNProtocols: alpnWire,
    session: check.offered?.session,
    rejectUnauthorized: false, // verified after the handshake, with precise errors
    checkServerIdentity: (_host, certificate) => {
      if (serverName !== null) check.hostMatches = checkHostname(serverName, certificate);
      check.peerChain = new LazyChain(derChain(certificate as DetailedPeerCertificate));
      return undefined;
    },
  });
  if (context.resumesSessions && serverName !== null) {
    socket.on('session', (session: Buffer) => {
      if (check.verifiedChain) context.saveSession(serverName, { session, chain: check.verifiedChain });
    });
  }
  return socket;
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

  const role = context.role;
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
  const check: ClientCheck | null =
    context instanceof ClientContext
      ? {
          serverName,
          hostMatches: null,
          offered: serverName !== null ? context.session(serverName) : undefined,
          peerChain: null,
          verifiedChain: null,
        }
      : null;
  const socket =
    context instanceof ClientContext
      ? connectClient(stream, context, check!, options.alpnWire)
      : new tls.TLSSocket(stream, {
          isServer: true,
          secureContext: context.secureContext,
          requestCert: context.clientAuth !== 'none',
          rejectUnauthorized: context.clientAuth === 'required',
          ALPNProtocols: options.alpnWire ?? context.alpnWire,
          SNICallback: context.usesSni ? context.sniCallback : undefined,
        });
  attachKeyLog(socket, context);
  const eof = watchTlsEof(socket, bridge);

  const timeout = options.handshakeTimeout ?? context.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const { signal } = options;
  return new Promise<TlsTransport>((resolve, reject) => {
    let settled = false;
    /**
     * Ends the attempt. A TLS failure closes gracefully, so whatever alert OpenSSL queued still
     * reaches the peer; a deadline or a cancellation aborts at once.
     */
    const fail = (error: Error, graceful: boolean) => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.on('error', noop);
      base?.[kUpgradedTo](null);
      // Whoever reports this failure may want the addresses, which a closed socket forgets.
      void transport.info.local;
      void transport.info.peer;
      // A failure found as the handshake completes (verification) comes before OpenSSL's last
      // output was written (our Finished, an alert): over a native socket node:tls writes it once
      // this callback returns, over the bridge a turn later, after which it holds further output.
      // A graceful failure lets that flush first; a deadline or a cancellation tears down at once.
      const later = (teardown: () => void) => {
        if (graceful) setImmediate(() => setImmediate(teardown));
        else teardown();
      };
      if (taken) {
        // The lower transport no longer owns the socket: this ends its connection without
        // touching it. The socket is closed, never reset: Node does not survive its handle
        // disappearing under a live TLS engine.
        transport.abort(error);
        later(() => {
          socket.destroy();
          taken.destroy();
        });
      } else {
        later(() => {
          socket.destroy();
          if (graceful) lowerOwned.close();
          else lowerOwned.abort(error);
        });
        try {
          lowerProtocol?.connectionLost?.(error);
        } catch (thrown) {
          queueMicrotask(() => {
            throw thrown;
          });
        }
      }
      reject(error);
    };
    const owner: TransportOwner = {
      get closing() {
        return true;
      },
      close: () => fail(new AbortError('startTls: the connection was closed during the TLS handshake'), true),
      abort: (error) =>
        fail(error ?? new AbortError('startTls: the connection was aborted during the TLS handshake'), false),
    };
    base?.[kUpgradedTo](owner);

    const onError = (error: unknown) => fail(tlsErrorFrom(error, 'handshake'), true);
    const onClose = () =>
      fail(new ConnectionError('ECONNRESET', 'the connection closed during the TLS handshake'), false);
    eof.onEnd = () =>
      fail(new ConnectionError('ECONNRESET', 'the peer ended the connection during the TLS handshake'), true);
    const onAbort = () =>
      fail(new AbortError('startTls: aborted during the TLS handshake', signal?.reason), false);
    const timer = setTimeout(
      () =>
        fail(
          new TimeoutError(`startTls: the TLS handshake did not finish within ${timeout} ms`, timeout),
          false,
        ),
      timeout,
    );
    const onSecure = () => {
      const failure =
        context instanceof ClientContext
          ? context.insecureReason === null
            ? verifyServer(
                socket,
                check!.serverName,
                check!.hostMatches,
                check!.peerChain,
                context.pins,
                context.crls,
              )
            : null
          : context.clientAuth !== 'none'
            ? verifyClient(socket, context.crls)
            : null;
      if (failure) {
        // A saved session that leads to a refused server is not worth offering again.
        if (check?.offered && check.serverName !== null && socket.isSessionReused()) {
          (context as ClientContext).forgetSession(check.serverName);
        }
        fail(failure, true);
        return;
      }
      settled = true;
      cleanup();
      const chain =
        check && socket.isSessionReused() ? (check.offered?.chain ?? null) : (check?.peerChain ?? null);
      const tlsInfo = readTlsInfo(socket, role, serverName, chain);
      if (check) check.verifiedChain = chain ?? new LazyChain([], tlsInfo.peerCertificates);
      // Node hands a server socket's later TLS errors (a peer's fatal alert) to 'error' only once
      // tls.Server releases control of it; a socket made without tls.Server must be released here,
      // or those errors would be swallowed and the end that follows misread as a truncation.
      // Likewise, only tls.Server clears `secureConnecting` on its sockets; left set, node:http2
      // would wait for a 'secureConnect' that a server socket never emits.
      if (role === 'server') {
        (socket as unknown as { _releaseControl?: () => boolean })._releaseControl?.();
        (socket as unknown as { secureConnecting: boolean }).secureConnecting = false;
      }
      const tlsTransport = new TlsTransport(socket, {
        tls: tlsInfo,
        allowTruncation: context.allowTruncation,
        closeTimeout: options.closeTimeout ?? context.closeTimeout,
        lower: transport,
        lowerOwned,
        stream: taken,
        eof,
      });
      if (taken) (transport as StreamTransport)[kHandOver](tlsTransport);
      else base?.[kUpgradedTo](tlsTransport);
      const protocol = options.protocol ?? lowerProtocol;
      if (protocol) tlsTransport.setProtocol(protocol);
      resolve(tlsTransport);
    };
    const cleanup = () => {
      eof.onEnd = null;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off(role === 'client' ? 'secureConnect' : 'secure', onSecure);
    };
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.once(role === 'client' ? 'secureConnect' : 'secure', onSecure);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
