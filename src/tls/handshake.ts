/**
 * One TLS handshake, from a TLS socket that node:tls is driving to a verified TlsTransport. Two
 * callers start it: `startTls` (TLS layered on a transport that already exists, at connection start
 * or mid-stream) and `connectTls` (a TLS client at connection start, whose socket node:tls opens
 * itself). What differs between them, what the connection underneath is and how a failure tears
 * it down, comes in as a `HandshakeSetup`; the rules below are the same for both.
 */
import type { Duplex } from 'node:stream';
import tls, { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { AbortError, ConnectionError, TimeoutError } from '../transport/errors.js';
import type { Protocol } from '../transport/protocol.js';
import type { Transport, TransportInfo } from '../transport/transport.js';
import { ClientContext, type SavedSession } from './client-context.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from './defaults.js';
import { type EofWatch, handshakeWatchDone } from './eof.js';
import { checkHostname, sniName } from './hostname.js';
import { derChain, LazyChain, readTlsInfo } from './info.js';
import { tlsErrorFrom } from './openssl-errors.js';
import type { ServerContext } from './server-context.js';
import { TlsTransport } from './tls-transport.js';
import { verifyClient, verifyServer } from './verify.js';

/** What the client side learns during its handshake. */
export interface ClientCheck {
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

/** A client's check, with the session it will offer to `serverName`. */
export function clientCheck(context: ClientContext, serverName: string | null): ClientCheck {
  return {
    serverName,
    hostMatches: null,
    offered: serverName !== null ? context.session(serverName) : undefined,
    peerChain: null,
    verifiedChain: null,
  };
}

/**
 * Where a client's TLS socket runs: over an existing stream (`socket`), or over a connection
 * node:tls opens itself (`host`/`port` or `path`).
 */
export type ClientUnderlay = { socket: Duplex } | { host: string; port: number } | { path: string };

/**
 * Starts the client side. The callbacks handed to node:tls live as long as the socket, so they are
 * made here, capturing only what they need, not the whole handshake.
 */
export function connectClient(
  underlay: ClientUnderlay,
  context: ClientContext,
  check: ClientCheck,
  alpnWire = context.alpnWire,
): TLSSocket {
  const { serverName } = check;
  const session = check.offered?.session;
  const setLater = session !== undefined && !('socket' in underlay) && canSetSession;
  // Over a socket of its own, node:tls starts the handshake inside `connect`, so the session
  // must go in with the options. Otherwise it is set once the socket exists, before anything was
  // sent: passed as an option, Node sets it twice, and for a client that verifies on its own
  // (`rejectUnauthorized: false`) both times decode it: 0.3 M instructions per resumed handshake on
  // Node 24, 1.5 M on Node 20.
  const socket = tls.connect({
    ...underlay,
    secureContext: context.secureContext,
    servername: serverName !== null ? sniName(serverName) : undefined,
    ALPNProtocols: alpnWire,
    session: setLater ? undefined : session,
    rejectUnauthorized: false, // verified after the handshake, with precise errors
    checkServerIdentity: (_host, certificate) => {
      if (serverName !== null) check.hostMatches = checkHostname(serverName, certificate);
      check.peerChain = new LazyChain(derChain(certificate as DetailedPeerCertificate));
      return undefined;
    },
  });
  if (setLater) (socket as SessionSettable).setSession(session!);
  if (context.resumesSessions && serverName !== null) {
    socket.on('session', (session: Buffer) => {
      if (check.verifiedChain) context.saveSession(serverName, { session, chain: check.verifiedChain });
    });
  }
  return socket;
}

/** node:tls's own way to set a client session (undocumented, and what `tls.connect` calls itself). */
type SessionSettable = TLSSocket & { setSession(session: Buffer): void };
const canSetSession = typeof (tls.TLSSocket.prototype as Partial<SessionSettable>).setSession === 'function';

/** Starts the server side over `stream` (a native socket, or the bridge). */
export function acceptClient(stream: Duplex, context: ServerContext, alpnWire = context.alpnWire): TLSSocket {
  // node:tls keeps a copy of these options for the socket's life: only the ones that are set.
  const options: tls.TLSSocketOptions = { isServer: true, secureContext: context.secureContext };
  if (context.clientAuth !== 'none') {
    options.requestCert = true;
    options.rejectUnauthorized = context.clientAuth === 'required';
  }
  if (alpnWire) options.ALPNProtocols = alpnWire;
  if (context.usesSni) options.SNICallback = context.sniCallback;
  return new tls.TLSSocket(stream, options);
}

/** What a handshake needs to know about the connection it runs on. */
export interface HandshakeSetup {
  socket: TLSSocket;
  context: ClientContext | ServerContext;
  /** The client's check; `null` on a server. */
  check: ClientCheck | null;
  eof: EofWatch;
  /** The deadline in milliseconds, counted from now (default: the context's, else 30000). */
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  closeTimeout: number | undefined;
  /** Bound to the TLS transport once it exists. */
  protocol: Protocol | undefined;
  /** Whose `info` the TLS transport reports as `info.lower` (and whose addresses it has). */
  lower: { readonly info: TransportInfo };
  /** Closed and aborted by the TLS transport when bridged; `null` when its socket is native. */
  lowerOwned: Transport | null;
  /** The native socket under the TLS socket, when there is a separate one. */
  stream: Duplex | null;
  /**
   * Tears the connection down after a failure. `later` runs a teardown at once for an abrupt
   * failure and, for a graceful one, once OpenSSL's last output (an alert) had its turn to leave.
   */
  failed(error: Error, graceful: boolean, later: (teardown: () => void) => void): void;
  /** The handshake succeeded and the TLS transport exists; called before the promise resolves. */
  established(transport: TlsTransport): void;
}

/**
 * Waits for the handshake on `setup.socket`, verifies the peer, and resolves to the TLS transport.
 * On failure (TLS error, verification, the peer leaving, the deadline, the signal) the connection
 * is torn down by `setup.failed` and the promise rejects; the returned `abort`/`close` let the
 * owner of the lower transport end the attempt early.
 */
export function awaitHandshake(setup: HandshakeSetup): {
  promise: Promise<TlsTransport>;
  close(): void;
  abort(error?: Error): void;
} {
  const { socket, context, check, eof, signal } = setup;
  const timeout = setup.timeout ?? context.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const secureEvent = context.role === 'client' ? 'secureConnect' : 'secure';
  // Assigned by the executor, which runs before the constructor returns.
  let close!: () => void;
  let abort!: (error?: Error) => void;
  const promise = new Promise<TlsTransport>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error, graceful: boolean) => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.on('error', noop);
      // Whoever reports this failure may want the addresses, which a closed socket forgets.
      void setup.lower.info.local;
      void setup.lower.info.peer;
      // A failure found as the handshake completes (verification) comes before OpenSSL's last
      // output was written (our Finished, an alert): over a native socket node:tls writes it once
      // this callback returns, over the bridge a turn later, after which it holds further output.
      // A graceful failure lets that flush first; a deadline or a cancellation tears down at once.
      setup.failed(error, graceful, (teardown) => {
        if (graceful) setImmediate(() => setImmediate(teardown));
        else teardown();
      });
      reject(error);
    };
    close = () => fail(new AbortError('startTls: the connection was closed during the TLS handshake'), true);
    abort = (error) =>
      fail(error ?? new AbortError('startTls: the connection was aborted during the TLS handshake'), false);

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
      const failure = verifyPeer(socket, context, check);
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
      const transport = established(setup);
      setup.established(transport);
      if (setup.protocol) transport.setProtocol(setup.protocol);
      resolve(transport);
    };
    const cleanup = () => {
      handshakeWatchDone(socket, eof);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off(secureEvent, onSecure);
    };
    // `on`, not `once`: cleanup removes all three the first time any of them fires (and `once`
    // would wrap each in two more objects per handshake).
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on(secureEvent, onSecure);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, close, abort };
}

const noop = () => {};

/** The verdict on the peer once OpenSSL finished the handshake: `null` when it passed. */
function verifyPeer(socket: TLSSocket, context: ClientContext | ServerContext, check: ClientCheck | null) {
  if (context instanceof ClientContext) {
    if (context.insecureReason !== null) return null;
    return verifyServer(
      socket,
      check!.serverName,
      check!.hostMatches,
      check!.peerChain,
      context.pins,
      context.crls,
      () => context.trustAnchors,
    );
  }
  return context.clientAuth !== 'none' ? verifyClient(socket, context.crls, context.clientAuth) : null;
}

/** Builds the TLS transport of a handshake that passed verification. */
function established(setup: HandshakeSetup): TlsTransport {
  const { socket, context, check } = setup;
  const role = context.role;
  const chain =
    check && socket.isSessionReused() ? (check.offered?.chain ?? null) : (check?.peerChain ?? null);
  const tlsInfo = readTlsInfo(socket, role, check?.serverName ?? null, chain);
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
  return new TlsTransport(socket, {
    tls: tlsInfo,
    allowTruncation: context.allowTruncation,
    closeTimeout: setup.closeTimeout ?? context.closeTimeout,
    lowerInfo: setup.lower.info,
    lowerOwned: setup.lowerOwned,
    stream: setup.stream,
  });
}
