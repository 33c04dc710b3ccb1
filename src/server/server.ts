/*
 * A production server: what happens to each accepted socket, and how the server ends
 * ===================================================================================
 *
 * Every socket goes through the same steps, each of which can refuse it without touching the
 * others:
 *
 *   accepted → limits (maxConnections, maxPendingHandshakes) → PROXY header (trusted proxies
 *   only) → per-address limit (on the address the header named) → TLS handshake → handed over
 *
 * A socket is *pending* until it is handed over: it counts against `maxPendingHandshakes`, and
 * closing the server drops it at once (its client has been told nothing yet, so nothing is lost).
 * Refusals close the socket at once, count in `stats.limited`, and publish on `tlskit:limit`;
 * they never become errors anywhere else, because a server's job under attack is to keep serving.
 *
 * Closing (`close({ timeout })`, or the `signal`) is graceful in three steps: the listener stops
 * accepting at once; pending sockets are dropped; every open connection is told, through its
 * protocol's `serverClosing()` (a `Connection` sees its `serverClosing` signal abort), and gets
 * `timeout` ms to finish and close cleanly, with close_notify over TLS. Protocols that do not
 * implement `serverClosing` cannot be told, so they are closed at once (what they wrote is still
 * flushed). At the deadline the rest are aborted. The promise resolves with the counts once every
 * connection is gone, and a second `close()` returns the same promise.
 *
 * The server tracks each connection through its lowest transport's end (`kOnLost`), which fires
 * once whatever layer sits above: TLS here, or a STARTTLS upgrade the protocol made itself. A TLS
 * server without PROXY headers makes no plain transport at all: the accepted socket goes straight
 * to node:tls (`acceptTls`), as in `tls.Server`, and the TLS transport is the lowest one.
 */
import type net from 'node:net';
import type { Accepting } from '../tls/accept-tls.js';
import { kOnLost, kTopmost } from '../transport/base.js';
import { AbortError } from '../transport/errors.js';
import { formatIp, ipBytes, unmappedIp } from '../transport/ip.js';
import {
  type Endpoint,
  type Listener,
  listenSockets,
  socketInfo,
  socketTransport,
} from '../transport/net.js';
import type { ProxyInfo } from '../transport/proxy-header-wire.js';
import type { StreamTransport } from '../transport/stream.js';
import type { Address, TcpAddress, Transport, TransportInfo, UnixAddress } from '../transport/transport.js';
import type { CloseOptions, CloseResult } from './close-result.js';
import { Entry } from './entry.js';
import { checkServerSignal, closeDeadline, closeOnAbort, emptyStats, type Server } from './handle.js';
import { watchIdle } from './idle-watch.js';
import type { CheckedLimits } from './limits.js';
import { isSilentEnd, type ProxyPolicy, readProxyHeader } from './proxy-protocol.js';
import { shutdownAbort, tellClosing } from './shutdown.js';
import { channels, type LimitName, publish, since, startedAt } from './tracing.js';

/** How a server treats each socket, checked when it starts. */
export interface ServerSetup {
  where: string;
  limits: CheckedLimits;
  proxy: ProxyPolicy | null;
  /** Milliseconds a PROXY header may take. */
  headerTimeout: number;
  closeTimeout: number | undefined;
  /** The TLS handshake, when the server speaks TLS; resolves to the TLS transport. */
  handshake: ((transport: StreamTransport) => Promise<Transport>) | null;
  /**
   * The TLS handshake on a socket as accepted, with no plain transport made first (a server
   * without PROXY headers); `null` to use `handshake`.
   */
  acceptTls: ((socket: net.Socket, info: TransportInfo) => Accepting) | null;
  /** Called for a failed PROXY header or handshake (not for refusals by a limit). */
  onHandshakeError: ((error: Error, peer: Address | null) => void) | undefined;
  /** Closes the server when it aborts. */
  signal: AbortSignal | undefined;
}

/** The key under which a peer counts against `maxConnectionsPerAddress`; `null` for none. */
function addressKey(peer: Address | null): string | null {
  if (peer === null || 'path' in peer) return null;
  const bytes = ipBytes(peer.host);
  return bytes ? formatIp(unmappedIp(bytes)) : peer.host;
}

function noop(): void {}

/**
 * Listens and runs every accepted socket through the steps above; `handOver` receives each
 * connection that passed them (bind a protocol, or run a handler).
 */
export async function startServer<E extends Endpoint>(
  endpoint: E,
  listenOptions: { backlog?: number; closeTimeout?: number },
  setup: ServerSetup,
  handOver: (transport: Transport) => void,
): Promise<Server<E extends { path: string } ? UnixAddress : TcpAddress>> {
  const { where, signal } = setup;
  checkServerSignal(where, signal);
  const state = new ServerState(setup, handOver);
  const listener = await listenSockets(where, endpoint, listenOptions, (socket) => state.accept(socket));
  state.listener = listener;
  const server = {
    address: listener.address,
    get connections() {
      return state.entries.size;
    },
    get stats() {
      return state.stats;
    },
    close: (options?: CloseOptions) => state.close(options),
  };
  state.onClose = closeOnAbort(signal, () => void state.close());
  return server;
}

/** The bookkeeping of one server: its entries, counts and shutdown. */
class ServerState {
  readonly entries = new Set<Entry>();
  readonly stats = emptyStats();
  listener: Listener | null = null;
  /** Called once when closing begins (the server forgets its `signal`). */
  onClose: (() => void) | null = null;
  #pending = 0;
  readonly #perAddress = new Map<string, number>();
  #closing: Promise<CloseResult> | null = null;
  /** While closing: the connections being drained, and the counts. */
  #draining: Set<Entry> | null = null;
  readonly #result: CloseResult = { drained: 0, aborted: 0, dropped: 0 };
  #allGone: (() => void) | null = null;
  readonly #setup: ServerSetup;
  readonly #handOver: (transport: Transport) => void;

  /** `#gone` as one function for every entry (see `Entry`). */
  readonly #goneOf = (entry: Entry, error: Error | null): void => this.#gone(entry, error);

  constructor(setup: ServerSetup, handOver: (transport: Transport) => void) {
    this.#setup = setup;
    this.#handOver = handOver;
  }

  get #serverAddress(): Address {
    return this.listener!.address;
  }

  accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.stats.accepted++;
    const refusal = this.#overLimit();
    if (refusal) {
      this.#refuse(socket, refusal, null);
      return;
    }
    const { proxy, handshake } = this.#setup;
    const pending = proxy !== null || handshake !== null;
    const entry = new Entry(socket, pending, this.#goneOf);
    this.entries.add(entry);
    if (pending) this.#pending++;
    const trusted = proxy ? proxy.trusts(socket.remoteAddress) : false;
    // An untrusted peer of a TLS server is peeked at, to refuse a header it should not send.
    if (!proxy || (!trusted && !handshake)) {
      this.#afterHeader(entry, null);
      return;
    }
    readProxyHeader(socket, proxy, trusted, this.#setup.headerTimeout).then(
      (header) => this.#afterHeader(entry, header),
      (error: Error) => this.#headerFailed(entry, error),
    );
  }

  /** The limit a new socket would exceed, if any. */
  #overLimit(): LimitName | null {
    const { limits, proxy, handshake } = this.#setup;
    if (this.entries.size >= limits.maxConnections) return 'maxConnections';
    const pending = proxy !== null || handshake !== null;
    if (pending && this.#pending >= limits.maxPendingHandshakes) return 'maxPendingHandshakes';
    return null;
  }

  #refuse(socket: net.Socket, limit: LimitName, peer: Address | null): void {
    this.stats.limited[limit]++;
    publish(channels.limit, () => ({
      limit,
      value: this.#setup.limits[limit as keyof CheckedLimits] as number,
      server: this.#serverAddress,
      peer: peer ?? socketPeer(socket),
    }));
    socket.on('error', noop);
    if (typeof socket.remotePort === 'number') socket.resetAndDestroy();
    else socket.destroy();
  }

  #headerFailed(entry: Entry, error: Error): void {
    if (entry.dropped) return;
    this.#forget(entry);
    const peer = socketPeer(entry.socket);
    if (isSilentEnd(error)) {
      // No header to refuse (a health check's connect and close): what the same peer costs a
      // server without PROXY headers, a failed handshake over TLS, else nothing.
      entry.socket.on('error', noop);
      entry.socket.destroy();
      if (this.#setup.acceptTls !== null || this.#setup.handshake !== null)
        this.#handshakeFailed(error, peer);
      return;
    }
    this.stats.limited.proxyProtocol++;
    publish(channels.limit, () => ({
      limit: 'proxyProtocol' as const,
      value: (error as { code?: string }).code ?? error.name,
      server: this.#serverAddress,
      peer,
    }));
    entry.socket.on('error', noop);
    entry.socket.destroy();
    this.#setup.onHandshakeError?.(error, peer);
  }

  #afterHeader(entry: Entry, header: ProxyInfo | null): void {
    if (entry.done) return;
    const { socket } = entry;
    const unix = this.listener!.unix ? this.#unixOf() : null;
    const { acceptTls, handshake } = this.#setup;
    if (acceptTls && header === null) {
      this.#acceptTls(entry, acceptTls, unix);
      return;
    }
    const transport = socketTransport(socket, unix, this.#setup.closeTimeout, header ?? undefined);
    entry.transport = transport;
    transport[kOnLost](entry);
    if (!this.#admit(entry, transport.info)) {
      transport.abort();
      return;
    }
    if (!handshake) {
      this.#open(entry, transport);
      return;
    }
    handshake(transport).then(
      (secure) => this.#open(entry, secure),
      (error: Error) => {
        if (entry.dropped) return;
        // A handshake refused before it began leaves the socket to its caller.
        if (!transport.closing) transport.abort();
        this.#handshakeFailed(error, transport.info.peer);
      },
    );
  }

  /** The handshake on the socket itself; the TLS transport becomes the entry's once it exists. */
  #acceptTls(
    entry: Entry,
    acceptTls: NonNullable<ServerSetup['acceptTls']>,
    unix: { path: string; side: 'server' } | null,
  ): void {
    const info = socketInfo(entry.socket, unix);
    if (!this.#admit(entry, info)) return;
    const accepting = acceptTls(entry.socket, info);
    entry.abortHandshake = accepting.abort;
    accepting.promise.then(
      (secure) => {
        entry.abortHandshake = null;
        entry.transport = secure;
        secure[kOnLost](entry);
        this.#open(entry, secure);
      },
      (error: Error) => {
        entry.abortHandshake = null;
        const dropped = entry.dropped;
        this.#gone(entry, error);
        if (!dropped) this.#handshakeFailed(error, info.peer);
      },
    );
  }

  /**
   * The steps that need the connection's addresses: the per-address limit (false when it refused
   * the connection, already forgotten) and the `tlskit:connection:open` message.
   */
  #admit(entry: Entry, info: TransportInfo): boolean {
    if (this.#setup.limits.maxConnectionsPerAddress !== Number.POSITIVE_INFINITY) {
      const key = addressKey(info.peer);
      const count = key === null ? 0 : (this.#perAddress.get(key) ?? 0);
      if (key !== null && count >= this.#setup.limits.maxConnectionsPerAddress) {
        this.#forget(entry);
        this.#refuse(entry.socket, 'maxConnectionsPerAddress', info.peer);
        return false;
      }
      if (key !== null) {
        this.#perAddress.set(key, count + 1);
        entry.addressKey = key;
      }
    }
    if (channels.connectionOpen.hasSubscribers || channels.connectionClose.hasSubscribers) {
      entry.peer = info.peer;
      entry.opened = startedAt(channels.connectionClose);
      publish(channels.connectionOpen, () => ({ server: this.#serverAddress, peer: entry.peer }));
    }
    return true;
  }

  #handshakeFailed(error: Error, peer: Address | null): void {
    this.stats.handshakeFailures++;
    this.#setup.onHandshakeError?.(error, peer);
  }

  #unixOf(): { path: string; side: 'server' } {
    const address = this.listener!.address as UnixAddress;
    return { path: address.path, side: 'server' };
  }

  #open(entry: Entry, transport: Transport): void {
    if (entry.done) {
      transport.abort();
      return;
    }
    if (entry.pending) {
      entry.pending = false;
      this.#pending--;
    }
    const { idleTimeout } = this.#setup.limits;
    if (idleTimeout !== undefined) this.#watchIdle(entry, transport, idleTimeout);
    this.#handOver(transport);
  }

  #watchIdle(entry: Entry, transport: Transport, idleTimeout: number): void {
    const stream = (transport as Partial<StreamTransport>).stream;
    if (stream === undefined) return;
    watchIdle(stream, idleTimeout, () => {
      if (entry.done || transport.closing) return;
      this.stats.limited.idleTimeout++;
      publish(channels.limit, () => ({
        limit: 'idleTimeout' as const,
        value: idleTimeout,
        server: this.#serverAddress,
        peer: transport.info.peer,
      }));
      transport.close();
    });
  }

  /**
   * Stops counting an entry: it is gone, or refused, or dropped. One that was announced on
   * `tlskit:connection:open` is announced closed, with `error`, whichever way it went.
   */
  #forget(entry: Entry, error: Error | null = null): void {
    if (entry.done) return;
    entry.done = true;
    if (entry.opened !== 0) {
      publish(channels.connectionClose, () => ({
        server: this.#serverAddress,
        peer: entry.peer,
        error,
        duration: since(entry.opened),
      }));
    }
    this.entries.delete(entry);
    if (entry.pending) {
      entry.pending = false;
      this.#pending--;
    }
    if (entry.addressKey !== null) {
      const count = (this.#perAddress.get(entry.addressKey) ?? 1) - 1;
      if (count === 0) this.#perAddress.delete(entry.addressKey);
      else this.#perAddress.set(entry.addressKey, count);
    }
  }

  #gone(entry: Entry, error: Error | null): void {
    this.#forget(entry, error);
    if (this.#draining?.delete(entry)) {
      if (entry.cut) this.#result.aborted++;
      else this.#result.drained++;
    }
    if (this.#draining?.size === 0) this.#allGone?.();
  }

  close(options?: CloseOptions): Promise<CloseResult> {
    // Checked on every call (options are never ignored unread); the first call's deadline stands.
    const timeout = closeDeadline(this.#setup.where, options, this.#setup.limits.shutdownTimeout);
    if (this.#closing) return this.#closing;
    this.onClose?.();
    this.onClose = null;
    this.#closing = this.#drain(timeout);
    return this.#closing;
  }

  async #drain(timeout: number): Promise<CloseResult> {
    const listenerClosed = this.listener!.close();
    const draining = new Set<Entry>();
    this.#draining = draining;
    for (const entry of [...this.entries]) {
      if (entry.pending) {
        this.#forget(entry, droppedError());
        entry.dropped = true;
        this.#result.dropped++;
        if (entry.transport) entry.transport.abort();
        else if (entry.abortHandshake) entry.abortHandshake();
        else {
          entry.socket.on('error', noop);
          entry.socket.destroy();
        }
      } else draining.add(entry);
    }
    const allGone = new Promise<void>((resolve) => {
      this.#allGone = resolve;
      if (draining.size === 0) resolve();
    });
    for (const entry of draining) tellClosing(entry.transport!);
    const deadline = setTimeout(() => {
      for (const entry of draining) {
        entry.cut = true;
        entry.transport![kTopmost]().abort(shutdownAbort(timeout));
      }
    }, timeout);
    await allGone;
    clearTimeout(deadline);
    await listenerClosed;
    return { ...this.#result };
  }
}

/** What `tlskit:connection:close` reports for a connection dropped in its handshake by `close()`. */
function droppedError(): AbortError {
  return new AbortError('server.close: the connection was still in its PROXY header or TLS handshake');
}

function socketPeer(socket: net.Socket): Address | null {
  const { remoteAddress: host, remotePort: port } = socket;
  return host === undefined || port === undefined ? null : { host, port };
}
