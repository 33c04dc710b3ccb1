/*
 * HTTP on tlskit connections: design notes
 * ========================================
 *
 * Node's own servers (node:http for HTTP/1.1, node:http2 for HTTP/2) parse, frame and answer;
 * tlskit gives them connections that went through its server pipeline (limits, PROXY header,
 * TLS with tlskit's contexts) or any transport a test or a STARTTLS protocol made. Each connection
 * goes to the server the negotiated ALPN protocol names: `h2` to the HTTP/2 server, `http/1.1` (or
 * no ALPN at all) to the HTTP/1.1 one. A plain connection is HTTP/1.1, unless only an HTTP/2 server
 * is there (h2c with prior knowledge).
 *
 * Handing over
 * ------------
 * A transport over a Node stream (TCP, Unix, TLS over either, TLS over a memory pair through the
 * bridge) releases its stream (`kReleaseStream`): node:http gets the TLS socket itself, exactly as
 * https.createServer would, so its parser reads the engine's output natively and nothing is
 * copied on the way. The transport stays the record of the connection: the server still counts it
 * against its limits, tells it when it is closing, and forgets it when the socket closes. Any
 * other transport (a memory pair end without TLS, a user's own) is wrapped with `toDuplex`.
 *
 * Truncation
 * ----------
 * HTTP frames its own messages, so the verdict on an end without close_notify is the HTTP
 * parser's, not the TLS layer's: between messages it is a client leaving (fetch and most clients
 * close keep-alive connections that way), which is no error; inside a request it is one, which
 * node:http reports where the application looks: the request emits 'aborted' and an 'error'
 * (`ECONNRESET`, "aborted"), and a request head cut short is a 'clientError'.
 *
 * Timeouts
 * --------
 * node:http checks `headersTimeout` and `requestTimeout` (the defence against slow clients) only
 * for servers that emitted 'listening'. A server given connections instead of a port never does,
 * so for servers it makes, and for a passed http.Server that is not listening itself, this module
 * emits 'listening' once; without it a slowloris client could hold a connection for ever.
 *
 * Graceful shutdown
 * -----------------
 * When the tlskit server closes, each connection's `serverClosing` runs: an HTTP/1.1 connection
 * with no request in flight is closed at once (with close_notify); one with requests in flight
 * answers them with `Connection: close` (when the response has not started yet) and closes once
 * the last has finished, also when its headers already went out with keep-alive. A request that
 * arrives meanwhile on the same connection is served and closes it. An HTTP/2 connection sends
 * GOAWAY (`session.close()`), which lets open streams finish and refuses new ones. The server's
 * shutdown deadline aborts whatever is still open. A request whose head is only partly received
 * when closing begins cannot be told from an idle connection, as with Node's own
 * `closeIdleConnections`; clients retry such requests on a new connection.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { TransportDuplex } from '../transport/duplex.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkOptionNames } from '../transport/options.js';
import type { Protocol, ProtocolFactory } from '../transport/protocol.js';
import { kReleaseStream, StreamTransport } from '../transport/stream.js';
import type { Transport, TransportInfo } from '../transport/transport.js';
import {
  checkHttp2Option,
  HTTP_PROTOCOL_OPTIONS,
  type HttpApp,
  type HttpProtocolOptions,
  type HttpRequest,
  serversOf,
} from './http-app.js';

export type {
  HttpApp,
  HttpHandler,
  HttpProtocolOptions,
  HttpRequest,
  HttpResponse,
  HttpServers,
} from './http-app.js';

/** What a closing server did to the requests in flight: finished, or cut at the deadline. */
export interface HttpRequestCounts {
  /** Requests in flight while the server closed that were answered in full. */
  completed: number;
  /** Requests in flight while the server closed whose response did not finish. */
  cut: number;
}

/** The protocol factory `httpProtocol` returns, with what it knows about its connections. */
export interface HttpProtocolFactory extends ProtocolFactory {
  /** The ALPN protocols it serves, most preferred first: `h2`, `http/1.1`. */
  readonly alpn: readonly string[];
  /** Requests in flight on connections whose server was closing. */
  readonly shutdown: Readonly<HttpRequestCounts>;
  /** Closes the Node servers it made itself, once its connections are gone. */
  release(): void;
}

/** The connection each request came on, by the HTTP/1.1 socket or the HTTP/2 session. */
const connectionInfos = new WeakMap<object, TransportInfo>();

/**
 * The tlskit `info` of the connection a request came on: the client's address behind a PROXY
 * header (`info.peer`, `info.proxy`), the TLS facts (`info.tls`: version, ALPN, client certificate).
 * Also takes the socket node:http was given (its 'connection' event) or an HTTP/2 session.
 * `null` for anything that did not come through tlskit.
 */
export function connectionInfo(of: HttpRequest | Duplex | http2.Http2Session): TransportInfo | null {
  const key =
    of instanceof http2.Http2ServerRequest
      ? of.stream.session
      : of instanceof http.IncomingMessage
        ? of.socket
        : of;
  return (key && connectionInfos.get(key)) ?? null;
}

/**
 * A protocol factory that serves HTTP on every connection it is bound to, over any transport:
 * `createServer(httpProtocol(app), { tls })`, a memory pair end, or the TLS transport a STARTTLS
 * protocol upgraded to. A TLS connection is routed by its ALPN protocol, so its server context
 * should accept `h2` and `http/1.1` (serveHttp sets that when the context names none).
 */
export function httpProtocol(app: HttpApp, options: HttpProtocolOptions = {}): HttpProtocolFactory {
  checkOptionNames('httpProtocol', options, HTTP_PROTOCOL_OPTIONS);
  checkHttp2Option('httpProtocol', app, options.http2);
  const servers = new HttpServerSet(app, options);
  const factory = () => new HttpConnection(servers);
  return Object.defineProperties(factory, {
    alpn: { value: servers.alpn, enumerable: true },
    shutdown: { value: servers.shutdown, enumerable: true },
    release: { value: () => servers.release(), enumerable: false },
  }) as unknown as HttpProtocolFactory;
}

/** The Node servers behind one factory, and the request bookkeeping they share. */
class HttpServerSet {
  readonly http1: http.Server | null;
  readonly http2: http2.Http2Server | null;
  readonly alpn: readonly string[];
  readonly shutdown: HttpRequestCounts = { completed: 0, cut: 0 };
  /** Servers made here, closed by `release`. */
  readonly #made: ReadonlyArray<http.Server | http2.Http2Server>;
  /** The connection an HTTP/2 session is being made for, while its 'session' event runs. */
  #sessionFor: HttpConnection | null = null;
  /** Takes this set's listeners off the Node servers again (`release`), the app's own ones too. */
  readonly #detach: Array<() => void> = [];

  constructor(app: HttpApp, options: HttpProtocolOptions) {
    const { http1, http2: h2, made } = serversOf(app, options);
    this.#made = made;
    this.http1 = http1;
    this.http2 = h2;
    this.alpn = [...(h2 ? ['h2'] : []), ...(http1 ? ['http/1.1'] : [])];
    if (http1) this.#watchHttp1(http1);
    if (h2) {
      this.#listen(h2, 'session', (session: http2.ServerHttp2Session) => {
        const connection = this.#sessionFor;
        if (connection) connection.sessionStarted(session);
      });
      this.#listen(h2, 'stream', (stream: http2.ServerHttp2Stream) => {
        this.#own(connectionOf.get(stream.session as object))?.streamStarted(stream);
      });
    }
  }

  /**
   * Tracks each HTTP/1.1 request: through 'request', and through 'checkContinue' or
   * 'checkExpectation' once the app listens to them (node:http then serves a request with an
   * `Expect` header there instead; listening to them ourselves would turn off its automatic
   * `100 Continue`, so the tracker joins only when the app's own listener does). Likewise
   * 'upgrade' and 'connect': a connection the app took over (a WebSocket, a tunnel) is the app's.
   */
  #watchHttp1(http1: http.Server): void {
    if (!http1.listening) http1.emit('listening'); // arms headersTimeout/requestTimeout: see above
    const track = (request: http.IncomingMessage, response: http.ServerResponse) => {
      this.#own(connectionOf.get(request.socket))?.requestStarted(response);
    };
    const takenOver = (_request: http.IncomingMessage, socket: Duplex) => {
      this.#own(connectionOf.get(socket))?.takenOver();
    };
    this.#listen(http1, 'request', track);
    // The events still to join once the app listens to them; each joins once.
    const waiting = new Map<string | symbol, (...args: never[]) => void>([
      ['checkContinue', track],
      ['checkExpectation', track],
      ['upgrade', takenOver],
      ['connect', takenOver],
    ]);
    const join = (event: string | symbol) => {
      const listener = waiting.get(event);
      if (listener === undefined) return;
      waiting.delete(event);
      this.#listen(http1, event as string, listener);
    };
    for (const event of [...waiting.keys()]) if (http1.listenerCount(event) > 0) join(event);
    http1.on('newListener', join);
    this.#detach.push(() => http1.off('newListener', join));
  }

  /** Puts `listener` first on `server`'s `event`, to be taken off at `release`. */
  #listen(
    server: http.Server | http2.Http2Server,
    event: string,
    listener: (...args: never[]) => void,
  ): void {
    const untyped = listener as (...args: unknown[]) => void;
    server.prependListener(event, untyped);
    this.#detach.push(() => server.off(event, untyped));
  }

  /** `connection` if it is one of this set's: one Node server may serve several tlskit servers. */
  #own(connection: HttpConnection | undefined): HttpConnection | undefined {
    return connection?.servers === this ? connection : undefined;
  }

  /** Hands `stream` to the server for `version`. */
  hand(connection: HttpConnection, stream: Duplex, version: 'h1' | 'h2'): void {
    if (version === 'h1') {
      this.http1!.emit('connection', stream);
      // Released streams come paused, with what arrived after the handshake still buffered;
      // node:http reads through 'data' listeners, now in place.
      stream.resume();
    } else {
      // node:http2 reads the socket's native handle (or wraps a JavaScript stream and resumes it
      // itself) and takes what is already buffered on the next tick.
      this.#sessionFor = connection;
      try {
        this.http2!.emit('connection', stream);
      } finally {
        this.#sessionFor = null;
      }
    }
  }

  /** Which server a connection goes to, from its ALPN protocol. */
  route(transport: Transport): 'h1' | 'h2' {
    const alpn = transport.info.tls?.alpnProtocol ?? null;
    if (alpn === 'h2' && this.http2) return 'h2';
    if ((alpn === null || alpn === 'http/1.1') && this.http1) return 'h1';
    if (alpn === null && this.http2) return 'h2';
    throw new InvalidArgumentError(
      `httpProtocol: the connection negotiated ${alpn === null ? 'no ALPN protocol' : `ALPN '${alpn}'`}, which no server here speaks (serving: ${this.alpn.join(', ')}); set the server context's \`alpn\` to protocols this app serves`,
    );
  }

  release(): void {
    for (const detach of this.#detach.splice(0)) detach();
    for (const server of this.#made) server.close(() => {});
  }
}

/** The HTTP/1.1 socket or HTTP/2 session of each connection, to find it from a request. */
const connectionOf = new WeakMap<object, HttpConnection>();

/** One connection: handed to its Node server when it is made, and told when the server closes. */
class HttpConnection implements Protocol {
  readonly #servers: HttpServerSet;
  #transport: Transport | null = null;
  #version: 'h1' | 'h2' = 'h1';
  #session: http2.ServerHttp2Session | null = null;
  /**
   * The latest HTTP/1.1 response. Pipelined requests are answered in order, so it is the last to
   * finish; nothing more is kept per request until the server closes, when every unfinished
   * response is watched (`#responses`) so the connection closes after the last.
   */
  #latest: http.ServerResponse | null = null;
  /**
   * Responses before the latest that had not finished when the next request came (pipelining),
   * oldest first; `null` while there are none, as on almost every connection. Each is counted
   * when the server closes.
   */
  #earlier: http.ServerResponse[] | null = null;
  readonly #responses = new Set<http.ServerResponse>();
  #closing = false;
  /** The app took the connection over ('upgrade', 'connect'): it is no longer HTTP's to close. */
  #takenOver = false;

  constructor(servers: HttpServerSet) {
    this.#servers = servers;
  }

  /** The server set this connection belongs to. */
  get servers(): HttpServerSet {
    return this.#servers;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#version = this.#servers.route(transport);
    const stream =
      transport instanceof StreamTransport
        ? transport[kReleaseStream]()
        : new TransportDuplex(transport, () => this.serverClosing());
    // node:http2 counts on its socket to close itself at the peer's end of stream, as a socket
    // without half-open does: one that stays half-open after a bare FIN (a client gone without
    // GOAWAY or close_notify) is never noticed, and its requests are never told. node:http
    // handles the end itself, and a client may half-close and still wait for its answer.
    if (this.#version === 'h2') (stream as { allowHalfOpen: boolean }).allowHalfOpen = false;
    connectionOf.set(stream, this);
    connectionInfos.set(stream, transport.info);
    this.#servers.hand(this, stream, this.#version);
  }

  sessionStarted(session: http2.ServerHttp2Session): void {
    this.#session = session;
    connectionOf.set(session, this);
    connectionInfos.set(session, this.#transport!.info);
    if (this.#closing) session.close();
  }

  requestStarted(response: http.ServerResponse): void {
    const previous = this.#latest;
    if (previous && unfinished(previous)) {
      this.#earlier ??= [];
      this.#earlier.push(previous);
    }
    if (this.#earlier) {
      while (this.#earlier.length > 0 && !unfinished(this.#earlier[0]!)) this.#earlier.shift();
      if (this.#earlier.length === 0) this.#earlier = null;
    }
    this.#latest = response;
    if (this.#closing) this.#watch(response);
  }

  /**
   * While closing: counts how the response ends, and closes the connection after the last one.
   * The last (`last`, the default for one that arrives while closing) also answers with
   * `Connection: close` if it can; pipelined ones before it keep the connection for it.
   */
  #watch(response: http.ServerResponse, last = true): void {
    if (last && !response.headersSent) response.shouldKeepAlive = false;
    this.#responses.add(response);
    let finished = false;
    response.once('finish', () => {
      finished = true;
    });
    response.once('close', () => {
      this.#responses.delete(response);
      this.#ended(finished);
      if (this.#responses.size === 0) this.#transport?.close();
    });
  }

  streamStarted(stream: http2.ServerHttp2Stream): void {
    stream.once('close', () => this.#ended(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR));
  }

  #ended(finished: boolean): void {
    if (!this.#closing) return;
    if (finished) this.#servers.shutdown.completed++;
    else this.#servers.shutdown.cut++;
  }

  takenOver(): void {
    this.#takenOver = true;
  }

  serverClosing(): void {
    if (this.#closing) return;
    this.#closing = true;
    // A WebSocket or tunnel: the app closes it (it may owe its peer a closing frame); the
    // server's deadline aborts it otherwise. Cutting it here would race the app's goodbye.
    if (this.#takenOver) return;
    if (this.#version === 'h2') {
      if (this.#session) this.#session.close();
      else this.#transport?.close();
      return;
    }
    const open = [...(this.#earlier ?? []), ...(this.#latest ? [this.#latest] : [])].filter(unfinished);
    this.#earlier = null;
    if (open.length === 0) this.#transport?.close();
    else for (const [index, response] of open.entries()) this.#watch(response, index === open.length - 1);
  }

  connectionLost(): void {
    this.#latest = null;
    this.#earlier = null;
    this.#responses.clear();
  }
}

/** A response still being written (or not yet begun: pipelined behind another). */
function unfinished(response: http.ServerResponse): boolean {
  return !response.writableFinished && !response.destroyed;
}
