/**
 * The option names of the TLS layer's public functions, tlskit/danger's included, and where the
 * names users give them by mistake belong. `checkOptionNames` (src/transport/options.ts) refuses
 * anything else.
 */
import { belongIn, type OptionNames } from '../transport/options.js';

export const CLIENT_CONTEXT_OPTIONS = [
  'trust',
  'cert',
  'key',
  'passphrase',
  'alpn',
  'pins',
  'crl',
  'minVersion',
  'maxVersion',
  'sessionCache',
  'allowTruncation',
  'handshakeTimeout',
  'closeTimeout',
] as const;

export const SERVER_CONTEXT_OPTIONS = [
  'cert',
  'key',
  'passphrase',
  'pfx',
  'sni',
  'resolveSni',
  'clientAuth',
  'trust',
  'crl',
  'alpn',
  'ticketKeys',
  'minVersion',
  'maxVersion',
  'allowTruncation',
  'handshakeTimeout',
  'closeTimeout',
] as const;

/** What `serverContext.reload` replaces: certificates and client CAs, nothing else. */
export const RELOAD_OPTIONS = ['cert', 'key', 'passphrase', 'pfx', 'sni', 'trust'] as const;

export const START_TLS_OPTIONS = [
  'context',
  'serverName',
  'handshakeTimeout',
  'signal',
  'protocol',
  'unconsumed',
  'pendingPlaintext',
] as const;

export const NO_OPT_OUT =
  'verification cannot be configured away here. For a test against a server you cannot trust, use ' +
  "insecureClientContext({ reason }) from 'tlskit/danger'";

const SERVER_ONLY = ['pfx', 'sni', 'resolveSni', 'clientAuth', 'ticketKeys'] as const;
const CLIENT_ONLY = ['pins', 'sessionCache'] as const;

/** Node's names for what tlskit either names differently or decides itself. */
const NODE_NAMES = {
  ...belongIn(['ALPNProtocols', 'alpnProtocols'], () => 'tlskit calls it `alpn`'),
  ...belongIn(
    ['ciphers', 'ecdhCurve', 'secureOptions', 'honorCipherOrder', 'secureProtocol'],
    (name) =>
      `tlskit chooses suites, groups and OpenSSL options itself (ECDHE with AEAD only, no renegotiation), so \`${name}\` cannot be set`,
  ),
};

const CLIENT_CONTEXT: OptionNames = {
  known: CLIENT_CONTEXT_OPTIONS,
  elsewhere: {
    ...NODE_NAMES,
    ca: "CA certificates go in `trust` (PEM, or 'system')",
    rejectUnauthorized: NO_OPT_OUT,
    checkServerIdentity: NO_OPT_OUT,
    ...belongIn(SERVER_ONLY, (name) => `\`${name}\` is an option of serverContext()`),
    ...belongIn(
      ['serverName', 'servername'],
      () =>
        'the name to verify is given per connection: connect({ serverName }) or startTls(transport, { serverName })',
    ),
    ...belongIn(
      ['host', 'port', 'path', 'timeout', 'signal'],
      (name) => `\`${name}\` is an option of connect() and createConnection()`,
    ),
  },
};

const SERVER_CONTEXT: OptionNames = {
  known: SERVER_CONTEXT_OPTIONS,
  elsewhere: {
    ...NODE_NAMES,
    ca: 'CA certificates for client certificates go in `trust`, with `clientAuth`',
    ...belongIn(
      ['requestCert', 'rejectUnauthorized'],
      () => "ask for client certificates with `clientAuth: 'optional'` or `'required'`, and `trust`",
    ),
    SNICallback: 'did you mean `resolveSni`? It returns { cert, key } for a server name',
    ...belongIn(CLIENT_ONLY, (name) => `\`${name}\` is an option of clientContext()`),
    ...belongIn(
      ['host', 'port', 'path', 'backlog', 'workers', 'ticketKeyRotation'],
      (name) => `\`${name}\` is an option of serve() and createServer()`,
    ),
  },
};

const RELOAD: OptionNames = {
  known: RELOAD_OPTIONS,
  elsewhere: belongIn(
    SERVER_CONTEXT_OPTIONS.filter((name) => !(RELOAD_OPTIONS as readonly string[]).includes(name)),
    (name) =>
      `reload replaces certificates only; \`${name}\` is fixed when the context is built, so make a new serverContext() to change it`,
  ),
};

/** What tlskit/danger's insecureClientContext takes: no trust or pins to check, no resumption. */
const INSECURE_CLIENT_CONTEXT: OptionNames = {
  known: [
    'reason',
    ...CLIENT_CONTEXT_OPTIONS.filter((name) => !['trust', 'pins', 'crl', 'sessionCache'].includes(name)),
  ],
  elsewhere: {
    ...CLIENT_CONTEXT.elsewhere,
    ...belongIn(
      ['trust', 'pins', 'crl', 'rejectUnauthorized', 'checkServerIdentity'],
      (name) => `verification is off in an insecure context, so \`${name}\` would do nothing`,
    ),
    sessionCache: 'an insecure context does not resume sessions',
  },
};

/** What tlskit/danger's keyLog takes: the context and the sink are its arguments. */
const KEY_LOG: OptionNames = {
  known: ['reason'],
  elsewhere: {
    ...belongIn(
      ['path', 'file', 'sink'],
      () => "the sink is keyLog's second argument: keyLog(context, 'keys.log', { reason })",
    ),
    context: "the context is keyLog's first argument: keyLog(context, sink, { reason })",
    mode: 'a key-log file is always created with mode 0600, readable by its owner only',
  },
};

/** The context a context option belongs in, as a hint: one of them, or either. */
function contextFor(name: string): string {
  const client = (CLIENT_CONTEXT_OPTIONS as readonly string[]).includes(name);
  const server = (SERVER_CONTEXT_OPTIONS as readonly string[]).includes(name);
  const place = (which: string) => `${which}({ ${name} })`;
  const where =
    client && server
      ? `${place('clientContext')} or ${place('serverContext')}`
      : place(client ? 'clientContext' : 'serverContext');
  return `\`${name}\` belongs in the context: ${where}`;
}

const CONTEXT_OPTIONS = [...new Set([...CLIENT_CONTEXT_OPTIONS, ...SERVER_CONTEXT_OPTIONS])];

const START_TLS: OptionNames = {
  known: START_TLS_OPTIONS,
  elsewhere: {
    tls: 'startTls takes the context as `context`',
    ca: 'trust belongs in the context: clientContext({ trust }), or serverContext({ clientAuth, trust })',
    rejectUnauthorized: NO_OPT_OUT,
    checkServerIdentity: NO_OPT_OUT,
    timeout: 'did you mean `handshakeTimeout`? (`timeout` is the connect deadline of connect())',
    ...belongIn(
      CONTEXT_OPTIONS.filter((name) => name !== 'handshakeTimeout'),
      contextFor,
    ),
    ...belongIn(
      ['host', 'port', 'path', 'backlog'],
      (name) =>
        `startTls upgrades a transport you already have; \`${name}\` is an option of connect() and serve()`,
    ),
  },
};

/** What `Connection.startTls` takes: its own protocol and its own unread bytes are not for the caller. */
const CONNECTION_START_TLS: OptionNames = {
  known: START_TLS_OPTIONS.filter((name) => name !== 'protocol' && name !== 'unconsumed'),
  elsewhere: {
    ...START_TLS.elsewhere,
    protocol:
      'a Connection binds its own protocol to the TLS transport; to bind another, call startTls(transport, { protocol }) on a Transport',
    unconsumed:
      "a Connection hands over the bytes it buffered itself (refused as pending plaintext unless pendingPlaintext: 'handshake')",
  },
};

export const OPTION_NAMES = {
  clientContext: CLIENT_CONTEXT,
  serverContext: SERVER_CONTEXT,
  'serverContext.reload': RELOAD,
  insecureClientContext: INSECURE_CLIENT_CONTEXT,
  keyLog: KEY_LOG,
  startTls: START_TLS,
  'Connection.startTls': CONNECTION_START_TLS,
} as const satisfies Record<string, OptionNames>;
