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
import tls from 'node:tls';
import { TransportDuplex } from '../transport/duplex.js';
import { InvalidArgumentError } from '../transport/errors.js';
import type { Protocol, ProtocolFactory } from '../transport/protocol.js';
import { kReleaseStream, StreamTransport } from '../transport/stream.js';
import type { Transport, TransportInfo } from '../transport/transport.js';

/** A request, from HTTP/1.1 or HTTP/2 (Node's compatibility API). */
export type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** A response, to HTTP/1.1 or HTTP/2 (Node's compatibility API). */
export type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;
/**
 * A request handler for both HTTP versions. Declared as a method, so that a handler typed for
 * HTTP/1.1 only (`http.RequestListener`, an Express app) is accepted too: under HTTP/2 it gets
 * Node's compatibility objects, which keep the same surface.
 */
export type HttpHandler = {
  handle(request: HttpRequest, response: HttpResponse): void;
}['handle'];

/** Existing Node servers to hand connections to; at least one. */
export interface HttpServers {
  /** Gets `http/1.1` connections (and plain ones): from `http.createServer()`. */
  http1?: http.Server;
  /** Gets `h2` connections: from `http2.createServer()` (not createSecureServer: TLS is tlskit's). */
  http2?: http2.Http2Server;
}

/**
 * What serves the requests: a handler (served over HTTP/1.1 and, unless `http2: false`, HTTP/2),
 * an `http.Server`, an `http2.Http2Server`, or both as `{ http1, http2 }`.
 */
export type HttpApp = HttpHandler | http.Server | http2.Http2Server | HttpServers;

/** Options of `httpProtocol`. */
export interface HttpProtocolOptions {
  /** With a handler: serve HTTP/2 as well as HTTP/1.1 (default `true`). */
  http2?: boolean;
}

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
  readonly #made: Array<http.Server | http2.Http2Server> = [];
  /** The connection an HTTP/2 session is being made for, while its 'session' event runs. */
  #sessionFor: HttpConnection | null = null;

  constructor(app: HttpApp, options: HttpProtocolOptions) {
    const { http1, http2: h2 } = this.#servers(app, options);
    this.http1 = http1;
    this.http2 = h2;
    this.alpn = [...(h2 ? ['h2'] : []), ...(http1 ? ['http/1.1'] : [])];
    if (http1) {
      if (!http1.listening) http1.emit('listening'); // arms headersTimeout/requestTimeout: see above
      http1.prependListener('request', (request, response) => {
        const connection = connectionOf.get(request.socket);
        connection?.requestStarted(response);
      });
    }
    if (h2) {
      h2.prependListener('session', (session) => {
        const connection = this.#sessionFor;
        if (connection) connection.sessionStarted(session);
      });
      h2.prependListener('stream', (stream) => {
        connectionOf.get(stream.session as object)?.streamStarted(stream);
      });
    }
  }

  #servers(app: HttpApp, options: HttpProtocolOptions) {
    if (typeof app === 'function') {
      const handler = app as HttpHandler;
      const http1 = http.createServer(handler);
      const h2 = options.http2 === false ? null : http2.createServer(handler);
      this.#made.push(http1, ...(h2 ? [h2] : []));
      return { http1, http2: h2 };
    }
    if (app instanceof tls.Server) {
      throw new InvalidArgumentError(
        'httpProtocol: `app` is a TLS server (https.createServer or http2.createSecureServer); pass http.createServer() or http2.createServer() instead: tlskit does the TLS, with the `tls` context',
      );
    }
    if (app instanceof http.Server) return { http1: app, http2: null };
    if (isHttp2Server(app)) return { http1: null, http2: app };
    if (typeof app === 'object' && app !== null && ('http1' in app || 'http2' in app)) {
      const { http1 = null, http2: h2 = null } = app as HttpServers;
      if (http1 !== null && !(http1 instanceof http.Server)) throw badApp('`app.http1`', http1);
      if (h2 !== null && !isHttp2Server(h2)) throw badApp('`app.http2`', h2);
      if (http1 || h2) return { http1, http2: h2 };
    }
    throw badApp('`app`', app);
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
  readonly #responses = new Set<http.ServerResponse>();
  #closing = false;

  constructor(servers: HttpServerSet) {
    this.#servers = servers;
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
    this.#latest = response;
    if (this.#closing) this.#watch(response);
  }

  /** While closing: answers with `Connection: close` if it can, and counts how the response ends. */
  #watch(response: http.ServerResponse): void {
    if (!response.headersSent) response.shouldKeepAlive = false;
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

  serverClosing(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#version === 'h2') {
      if (this.#session) this.#session.close();
      else this.#transport?.close();
      return;
    }
    const latest = this.#latest;
    if (latest && !latest.writableFinished && !latest.destroyed) this.#watch(latest);
    else this.#transport?.close();
  }

  connectionLost(): void {
    this.#latest = null;
    this.#responses.clear();
  }
}

function isHttp2Server(value: unknown): value is http2.Http2Server {
  const name = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name === 'Http2Server';
}

function badApp(what: string, value: unknown): InvalidArgumentError {
  const got =
    value === null
      ? 'null'
      : typeof value === 'object'
        ? (value.constructor?.name ?? 'an object')
        : typeof value;
  return new InvalidArgumentError(
    `httpProtocol: ${what} must be a request handler (req, res) => …, an http.Server, an http2.Http2Server, or { http1, http2 } of them; got ${got}`,
  );
}
