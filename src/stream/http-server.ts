/**
 * `serveHttp`: an HTTP/1.1 and HTTP/2 server on tlskit's production server. The listening,
 * limits, PROXY header, TLS and shutdown are `createServer`'s; what HTTP adds (routing by ALPN,
 * handing sockets to node:http and node:http2, closing keep-alive connections gracefully) is
 * `httpProtocol`'s (http-protocol.ts, whose notes explain each choice).
 */
import type { CloseOptions, CloseResult } from '../server/close-result.js';
import { closeOnAbort, type Server, withClose } from '../server/handle.js';
import { alpnWire } from '../tls/defaults.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { type AddressOf, bindNewProtocol, type Endpoint } from '../transport/net.js';
import { checkOptionsObject } from '../transport/options.js';
import type { Address } from '../transport/transport.js';
import { checkHttp2Option, type HttpApp } from './http-app.js';
import { type HttpRequestCounts, httpProtocol } from './http-protocol.js';
import { accept, type ListenOptions } from './open.js';
import { OPEN_OPTION_NAMES } from './option-names.js';

/** Options of `serveHttp`: those of `createServer`, and which HTTP versions to speak. */
export type ServeHttpOptions = ListenOptions & {
  /** With a handler: serve HTTP/2 (ALPN `h2`) as well as HTTP/1.1 (default `true`). */
  http2?: boolean;
};

/** What closing an HTTP server did: the connections, and the requests that were in flight. */
export interface HttpCloseResult extends CloseResult {
  /** Requests in flight during the shutdown: answered in full, or cut at the deadline. */
  requests: HttpRequestCounts;
}

/** A listening HTTP server; `close` finishes requests in flight before the connections close. */
export interface HttpServer<A extends Address = Address> extends Omit<Server<A>, 'close'> {
  /**
   * Stops accepting, lets requests in flight finish (HTTP/1.1 answers them with
   * `Connection: close`; HTTP/2 sends GOAWAY), closes idle keep-alive connections with
   * close_notify, aborts what is still open after `timeout` ms, and resolves with the counts.
   */
  close(options?: CloseOptions): Promise<HttpCloseResult>;
}

/**
 * Serves HTTP on TCP (`{ host, port }`) or a Unix socket (`{ path }`), over TLS when `tls` is
 * given: HTTP/2 to clients that negotiate `h2`, HTTP/1.1 to the rest. `app` is a request handler
 * (used for both versions), an `http.Server`, an `http2.Http2Server`, or `{ http1, http2 }`.
 * A server context without `alpn` gets `h2` and `http/1.1` here; one with `alpn` keeps its own.
 */
export async function serveHttp<E extends Endpoint>(
  options: E & ServeHttpOptions,
  app: HttpApp,
): Promise<HttpServer<AddressOf<E>>> {
  checkOptionsObject('serveHttp', options, '{ port: 8443, tls: serverContext(...) }');
  const { http2 } = options;
  checkHttp2Option('serveHttp', app, http2);
  const factory = httpProtocol(app, { http2 });
  checkOfferedAlpn(options.tls, factory.alpn);
  const ownAlpn = options.tls && options.tls.alpn === undefined ? alpnWire(factory.alpn) : undefined;
  // Run as the server closes, here or in a worker (whose close the primary may ask for directly):
  // the requests are counted where they were served, and the primary sums them.
  const finish = (result: CloseResult): HttpCloseResult => {
    factory.release();
    return { ...result, requests: (result as Partial<HttpCloseResult>).requests ?? { ...factory.shutdown } };
  };
  const server = await accept(
    'serveHttp',
    options,
    OPEN_OPTION_NAMES.serveHttp,
    (transport) => {
      try {
        bindNewProtocol(transport, factory);
      } catch {
        // The transport was aborted with the error (a protocol no server here speaks).
      }
    },
    ownAlpn,
    finish,
  );
  let closing: Promise<HttpCloseResult> | null = null;
  let forgetSignal = (): void => {};
  const close = (closeOptions?: CloseOptions): Promise<HttpCloseResult> => {
    const closed = server.close(closeOptions); // checks the options on every call: throws first
    forgetSignal();
    closing ??= closed.then(finish);
    return closing;
  };
  // The server below closes on `signal` by itself; this releases the node:http servers as well.
  forgetSignal = closeOnAbort(options.signal, () => void close());
  return withClose(server, close) as HttpServer<AddressOf<E>>;
}

/**
 * A context that brings its own `alpn` may offer only what the app serves: a client that picked
 * `h2` from a context in front of an HTTP/1.1-only app would be accepted, then reset.
 */
function checkOfferedAlpn(tls: unknown, served: readonly string[]): void {
  const offered = (tls as { alpn?: unknown } | undefined)?.alpn;
  if (!Array.isArray(offered)) return;
  const unserved = offered.filter((protocol) => !served.includes(protocol));
  if (unserved.length === 0) return;
  const list = (names: readonly string[]) => names.map((name) => `'${name}'`).join(', ');
  throw new InvalidArgumentError(
    `serveHttp: the server context offers ${list(unserved)} by ALPN, which this app does not serve ` +
      `(it serves ${list(served)}); give the context \`alpn: [${list(served)}]\`, or no \`alpn\` and serveHttp offers what the app serves`,
  );
}
