/**
 * The option names of connect/createConnection and serve/createServer, and where the names users
 * give them by mistake belong. These objects mix endpoint, socket, TLS and listener options, so
 * each function lists all it takes; the layers below (openSocket, listen, startTls) read only
 * their own and check nothing more, because tlskit's callers hand them the whole object.
 */

import { SERVER_LIMIT_OPTIONS } from '../server/limits.js';
import { WORKER_OPTIONS } from '../server/options.js';
import { CLIENT_CONTEXT_OPTIONS, NO_OPT_OUT, SERVER_CONTEXT_OPTIONS } from '../tls/option-names.js';
import { ENDPOINT_OPTIONS, SOCKET_CONNECT_OPTIONS, SOCKET_LISTEN_OPTIONS } from '../transport/net.js';
import { belongIn, type OptionNames } from '../transport/options.js';

const CONNECT_OPTIONS = [
  ...ENDPOINT_OPTIONS,
  ...SOCKET_CONNECT_OPTIONS,
  'tls',
  'serverName',
  'handshakeTimeout',
  'proxyHeader',
] as const;

const LISTEN_OPTIONS = [
  ...ENDPOINT_OPTIONS,
  ...SOCKET_LISTEN_OPTIONS,
  ...SERVER_LIMIT_OPTIONS,
  ...WORKER_OPTIONS,
  'tls',
  'proxyProtocol',
  'onHandshakeError',
  'signal',
] as const;

/** Options of the context, put on the connection by mistake. */
function contextHints(context: 'clientContext' | 'serverContext', names: readonly string[]) {
  const mine: readonly string[] = [...CONNECT_OPTIONS, ...LISTEN_OPTIONS];
  return belongIn(
    names.filter((name) => !mine.includes(name) && name !== 'trust'),
    (name) => `\`${name}\` belongs in ${context}({ ${name} }), passed as \`tls\``,
  );
}

const STARTTLS_ONLY = belongIn(
  ['protocol', 'unconsumed', 'pendingPlaintext'],
  (name) => `\`${name}\` is an option of startTls()`,
);

const CONNECT: OptionNames = {
  known: CONNECT_OPTIONS,
  elsewhere: {
    ...contextHints('clientContext', CLIENT_CONTEXT_OPTIONS),
    ...belongIn(['trust', 'ca'], () => 'trust belongs in clientContext({ trust }), passed as `tls`'),
    context: 'the context goes in `tls`',
    rejectUnauthorized: NO_OPT_OUT,
    checkServerIdentity: NO_OPT_OUT,
    ...belongIn(
      [
        'backlog',
        'onHandshakeError',
        'onError',
        'proxyProtocol',
        'maxConnections',
        'idleTimeout',
        ...WORKER_OPTIONS,
      ],
      (name) =>
        `\`${name}\` is an option of ${name === 'onError' ? 'serve()' : 'createServer() and serve()'}`,
    ),
    ...STARTTLS_ONLY,
  },
};

const CREATE_SERVER: OptionNames = {
  known: LISTEN_OPTIONS,
  elsewhere: {
    ...contextHints('serverContext', SERVER_CONTEXT_OPTIONS),
    ...belongIn(
      ['trust', 'ca'],
      () => 'trust for client certificates belongs in serverContext({ clientAuth, trust }), passed as `tls`',
    ),
    ...belongIn(
      ['requestCert', 'rejectUnauthorized'],
      () => 'ask for client certificates with serverContext({ clientAuth, trust }), passed as `tls`',
    ),
    context: 'the context goes in `tls`',
    serverName: '`serverName` is an option of connect() and createConnection()',
    proxyHeader:
      '`proxyHeader` is sent by connect() and createConnection(); a server reads headers with `proxyProtocol`',
    timeout:
      '`timeout` is the connect deadline of connect(); a server bounds its handshakes with `handshakeTimeout`',
    onError: '`onError` is an option of serve(); a createServer protocol hears errors in connectionLost',
    ...STARTTLS_ONLY,
  },
};

const { onError: _takenByServe, ...notForServe } = CREATE_SERVER.elsewhere!;

const SERVE: OptionNames = {
  known: [...LISTEN_OPTIONS, 'onError'],
  elsewhere: notForServe,
};

const SERVE_HTTP: OptionNames = {
  // node:http keeps its own timer on each socket (keepAliveTimeout), which an idleTimeout on the
  // same socket would fight with; the HTTP servers' own settings are the ones that apply.
  known: [...LISTEN_OPTIONS.filter((name) => name !== 'idleTimeout'), 'http2'],
  elsewhere: {
    ...CREATE_SERVER.elsewhere,
    idleTimeout:
      '`idleTimeout` is not a serveHttp option: node:http closes idle keep-alive connections after `keepAliveTimeout` (pass http.createServer({ keepAliveTimeout }, handler) as the app), an HTTP/2 server after http2Server.setTimeout(ms)',
    onError:
      '`onError` is an option of serve(); HTTP errors reach the app: the request emits `error`, the http.Server `clientError`',
    ...belongIn(
      ['keepAliveTimeout', 'headersTimeout', 'requestTimeout', 'maxHeaderSize'],
      (name) =>
        `\`${name}\` is a node:http server option: pass http.createServer({ ${name} }, handler) as the app`,
    ),
  },
};

export const OPEN_OPTION_NAMES = {
  connect: CONNECT,
  createConnection: CONNECT,
  createServer: CREATE_SERVER,
  serve: SERVE,
  serveHttp: SERVE_HTTP,
} as const satisfies Record<string, OptionNames>;

const HTTPS_DIAL_OPTIONS = ['connectTimeout', 'handshakeTimeout', 'closeTimeout'] as const;

/** Names a user of an HTTPS client might reach for, and where they belong instead. */
const HTTPS_CLIENT_HINTS = {
  timeout: 'the connect deadline is `connectTimeout`',
  ...belongIn(['trust', 'ca'], () => 'trust belongs in clientContext({ trust }), the first argument'),
  ...belongIn(
    ['pins', 'crl', 'alpn', 'cert', 'key'],
    (name) => `\`${name}\` belongs in clientContext({ ${name} })`,
  ),
  rejectUnauthorized: NO_OPT_OUT,
  checkServerIdentity: NO_OPT_OUT,
  serverName: 'the server name comes from the URL',
} as const;

/** The options of the HTTPS clients: tlsConnector, tlsDispatcher, tlsAgent. */
export const HTTP_CLIENT_OPTION_NAMES = {
  tlsConnector: {
    known: HTTPS_DIAL_OPTIONS,
    elsewhere: { ...HTTPS_CLIENT_HINTS, agent: '`agent` is an option of tlsDispatcher() and tlsAgent()' },
  },
  tlsDispatcher: {
    known: [...HTTPS_DIAL_OPTIONS, 'agent'],
    elsewhere: {
      ...HTTPS_CLIENT_HINTS,
      ...belongIn(
        ['connections', 'keepAliveTimeout', 'pipelining', 'connect'],
        (name) => `\`${name}\` is an undici Agent option: pass it in \`agent: { ${name} }\``,
      ),
      allowH2: 'tlskit offers HTTP/1.1 to undici; leave it out',
    },
  },
  tlsAgent: {
    known: [...HTTPS_DIAL_OPTIONS, 'agent'],
    elsewhere: {
      ...HTTPS_CLIENT_HINTS,
      timeout:
        "the connect deadline is `connectTimeout`; http.Agent's socket timeout goes in `agent: { timeout }`",
      ...belongIn(
        ['keepAlive', 'maxSockets', 'maxFreeSockets', 'keepAliveMsecs'],
        (name) => `\`${name}\` is an http.Agent option: pass it in \`agent: { ${name} }\``,
      ),
    },
  },
} as const satisfies Record<string, OptionNames>;
