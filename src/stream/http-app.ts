/**
 * What serves a tlskit HTTP server's requests (`HttpApp`): a handler, Node servers, or both kinds,
 * and the Node servers made for it. Each mistake is refused with what to pass instead, since a
 * Node server of the wrong kind would otherwise serve nothing, or serve without TLS.
 */
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkBoolean, kindOf, type OptionNames } from '../transport/options.js';

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

export const HTTP_PROTOCOL_OPTIONS: OptionNames = { known: ['http2'] };

/** Refuses an `http2` option that could not act on `app` (httpProtocol's and serveHttp's). */
export function checkHttp2Option(where: string, app: HttpApp, http2: unknown): void {
  checkBoolean(where, 'http2', http2);
  if (http2 === undefined || typeof app === 'function') return;
  throw new InvalidArgumentError(
    http2 === false
      ? `${where}: \`http2: false\` applies to a handler; with servers, pass only \`http1\` to serve HTTP/1.1 alone`
      : `${where}: \`http2: true\` applies to a handler; with servers, pass { http1, http2 } to serve both`,
  );
}

/** The Node servers for `app`; `made` lists those made here, which the caller closes. */
export function serversOf(
  app: HttpApp,
  options: HttpProtocolOptions,
): {
  http1: http.Server | null;
  http2: http2.Http2Server | null;
  made: Array<http.Server | http2.Http2Server>;
} {
  if (typeof app === 'function') {
    const handler = app as HttpHandler;
    const http1 = http.createServer(handler);
    const h2 = options.http2 === false ? null : http2.createServer(handler);
    return { http1, http2: h2, made: [http1, ...(h2 ? [h2] : [])] };
  }
  if (app instanceof tls.Server) throw tlsServer('`app`');
  if (app instanceof http.Server) return { http1: app, http2: null, made: [] };
  if (isHttp2Server(app)) return { http1: null, http2: app, made: [] };
  if (typeof app === 'object' && app !== null && ('http1' in app || 'http2' in app)) {
    const { http1 = null, http2: h2 = null } = app as HttpServers;
    checkSlot('http1', http1);
    checkSlot('http2', h2);
    if (http1 || h2) return { http1, http2: h2, made: [] };
  }
  throw new InvalidArgumentError(
    `httpProtocol: \`app\` must be a request handler (req, res) => …, an http.Server, an http2.Http2Server, or { http1, http2 } of them; got ${kindOf(app)}`,
  );
}

/** Refuses what `{ http1, http2 }` holds in `slot` unless it is a plain Node server of that version. */
function checkSlot(slot: 'http1' | 'http2', value: unknown): void {
  if (value === null) return;
  if (value instanceof tls.Server) throw tlsServer(`\`app.${slot}\``);
  if (slot === 'http1' ? value instanceof http.Server : isHttp2Server(value)) return;
  const wanted =
    slot === 'http1'
      ? 'an http.Server from http.createServer()'
      : 'an http2.Http2Server from http2.createServer()';
  const handler =
    typeof value === 'function'
      ? '; a handler goes in place of the whole `app`, and serves both versions'
      : '';
  throw new InvalidArgumentError(
    `httpProtocol: \`app.${slot}\` must be ${wanted}; got ${kindOf(value)}${handler}`,
  );
}

function tlsServer(what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `httpProtocol: ${what} is a TLS server (https.createServer or http2.createSecureServer); pass http.createServer() or http2.createServer() instead: tlskit does the TLS, with the \`tls\` context`,
  );
}

function isHttp2Server(value: unknown): value is http2.Http2Server {
  const name = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name === 'Http2Server';
}
