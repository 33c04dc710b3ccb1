import { createHash, randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { kContextToken, type TrustInput } from './client-context.js';
import {
  alpnWire,
  CIPHERS,
  checkAlpn,
  checkKnownOptions,
  checkMilliseconds,
  checkVersions,
  GROUPS,
  SERVER_SECURE_OPTIONS,
  type TlsVersion,
} from './defaults.js';
import { ContextError, TlsError } from './errors.js';
import { OPTION_NAMES } from './option-names.js';
import {
  crlDer,
  type PemInput,
  pemList,
  readCredentials,
  readCrls,
  readTrust,
  warnIfNotCurrent,
} from './pem.js';
import {
  checkSniMap,
  checkTicketKeys,
  credentialsFrom,
  missingCredentials,
  type ServerCredentials,
  warnIfBundleNotCurrent,
} from './server-credentials.js';

export type { ServerCredentials };

/** What `reload` takes: a new default certificate, a new `sni` map, new client CAs, or several. */
export interface ReloadOptions {
  cert?: PemInput;
  key?: PemInput;
  passphrase?: string;
  pfx?: Uint8Array;
  sni?: Record<string, ServerCredentials>;
  /** New CAs for client certificates (PEM), replacing `trust`; only where `clientAuth` asks for them. */
  trust?: PemInput | PemInput[];
}

/**
 * @internal What changed in a context: its certificates (`reload`) or its ticket keys
 * (`rotateTicketKeys`). tlskit's workers (src/server/) listen, to pass the change to every process.
 */
export type ContextChange = 'reload' | 'ticketKeys';

/** @internal Adds a listener told after every successful change; returns its removal. */
export const kOnContextChange = Symbol('tlskit.onContextChange');

/** @internal The certificates the context serves now, in the form `reload` takes. */
export const kCurrentCredentials = Symbol('tlskit.currentCredentials');

/** Returns credentials for a server name the static `sni` map does not cover, or nothing. */
export type SniResolver = (
  serverName: string,
) => ServerCredentials | undefined | Promise<ServerCredentials | undefined>;

/** Options of `serverContext`. Give `cert` and `key`, or `pfx`, or `sni`/`resolveSni`. */
export interface ServerContextOptions {
  /** Our certificate chain in PEM, leaf first. */
  cert?: PemInput;
  /** The private key of `cert` (PEM). */
  key?: PemInput;
  /** Opens an encrypted `key`, or the `pfx` bundle. */
  passphrase?: string;
  /** A PKCS#12 bundle with the chain and key, instead of `cert` and `key`. */
  pfx?: Uint8Array;
  /** Certificates by server name: exact names (`api.example.com`) and wildcards (`*.example.com`). */
  sni?: Record<string, ServerCredentials>;
  /** Called for names `sni` does not cover; its answers are cached per credentials object. */
  resolveSni?: SniResolver;
  /** Whether to ask clients for a certificate (default `'none'`). */
  clientAuth?: 'none' | 'optional' | 'required';
  /** CAs that client certificates must chain to; required when `clientAuth` is not `'none'`. */
  trust?: TrustInput;
  /** Revocation lists for client certificates (PEM). */
  crl?: PemInput | PemInput[];
  /** ALPN protocols we accept, most preferred first. */
  alpn?: string[];
  /**
   * Session ticket keys: 48 bytes. Give every process that serves the same name the same keys so
   * tickets resume across them; omitted, fresh random keys are made.
   */
  ticketKeys?: Uint8Array;
  /** Lowest version to accept: `'TLSv1.2'` (default) or `'TLSv1.3'`. */
  minVersion?: TlsVersion;
  /** Highest version to accept: `'TLSv1.3'` (default) or `'TLSv1.2'`. */
  maxVersion?: TlsVersion;
  /** Treat an end of stream without close_notify as clean (default `false`). */
  allowTruncation?: boolean;
  /** Handshake deadline in milliseconds (default 30000). */
  handshakeTimeout?: number;
  /** How long `close()` waits for the peer's close_notify, in milliseconds (default 5000). */
  closeTimeout?: number;
}

type Shared = Pick<tls.SecureContextOptions, 'ca' | 'crl' | 'minVersion' | 'maxVersion'>;

/**
 * Everything a TLS server needs, built and checked once and shared by many connections. Make one
 * with `serverContext(options)`; `reload` swaps the certificate for new handshakes.
 */
export class ServerContext {
  readonly role = 'server' as const;
  readonly alpn: readonly string[] | undefined;
  /** @internal `alpn` in wire format, for node:tls. */
  readonly alpnWire: Buffer | undefined;
  readonly clientAuth: 'none' | 'optional' | 'required';
  readonly allowTruncation: boolean;
  readonly handshakeTimeout: number | undefined;
  readonly closeTimeout: number | undefined;
  /** @internal The CRLs in DER, to name the revoked certificate in errors. */
  readonly crls: readonly Uint8Array[] = [];
  readonly #shared: Shared;
  readonly #resolver: SniResolver | undefined;
  #ticketKeys: Buffer;
  #credentials: ServerCredentials | undefined;
  #sniCredentials: Map<string, ServerCredentials>;
  #default!: tls.SecureContext;
  #byName = new Map<string, tls.SecureContext>();
  #resolved = new WeakMap<object, tls.SecureContext>();
  readonly #changeListeners = new Set<(change: ContextChange) => void>();

  /** @internal Use `serverContext(options)`. */
  constructor(token: symbol, options: ServerContextOptions) {
    if (token !== kContextToken) throw new TypeError('use serverContext(options) to make a ServerContext');
    const where = 'serverContext';
    if (typeof options !== 'object' || options === null) throw missingCredentials(where);
    checkKnownOptions(where, options, OPTION_NAMES.serverContext);
    const clientAuth = options.clientAuth ?? 'none';
    if (clientAuth !== 'none' && clientAuth !== 'optional' && clientAuth !== 'required') {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'clientAuth',
        `${where}: \`clientAuth\` must be 'none', 'optional' or 'required', got ${JSON.stringify(clientAuth)}`,
      );
    }
    this.clientAuth = clientAuth;
    this.#shared = {
      ...checkVersions(where, options),
    };
    if (clientAuth !== 'none' || options.trust !== undefined)
      this.#shared.ca = clientTrust(where, clientAuth, options.trust);
    if (options.crl !== undefined) {
      const crls = pemList(options.crl).flatMap((pem, index) => readCrls(where, `crl[${index}]`, pem));
      this.#shared.crl = crls;
      this.crls = crls.flatMap(crlDer);
    }
    this.alpn = checkAlpn(where, options.alpn);
    this.alpnWire = alpnWire(this.alpn);
    this.allowTruncation = options.allowTruncation === true;
    this.handshakeTimeout = checkMilliseconds(where, 'handshakeTimeout', options.handshakeTimeout);
    this.closeTimeout = checkMilliseconds(where, 'closeTimeout', options.closeTimeout);
    this.#ticketKeys = checkTicketKeys(where, options.ticketKeys) ?? randomBytes(48);
    if (options.resolveSni !== undefined && typeof options.resolveSni !== 'function') {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'resolveSni',
        `${where}: \`resolveSni\` must be a function`,
      );
    }
    this.#resolver = options.resolveSni;
    const hasOwn = options.cert !== undefined || options.key !== undefined || options.pfx !== undefined;
    this.#credentials = hasOwn ? credentialsFrom(options) : undefined;
    this.#sniCredentials = checkSniMap(where, options.sni);
    if (!this.#credentials && this.#sniCredentials.size === 0 && !this.#resolver)
      throw missingCredentials(where);
    this.#rebuild(where);
  }

  /** The session ticket keys (48 bytes), to share with other processes serving the same names. */
  get ticketKeys(): Buffer {
    return Buffer.from(this.#ticketKeys);
  }

  /**
   * Replaces certificates for new handshakes; connections already open keep theirs. Give the
   * default certificate (`cert` and `key`, or `pfx`), the `sni` map, or both; what is not given
   * stays. Throws, and keeps the old certificates, if a new one is unusable.
   */
  reload(update: ReloadOptions): void {
    const where = 'serverContext.reload';
    checkKnownOptions(where, update, OPTION_NAMES['serverContext.reload']);
    const hasOwn = update.cert !== undefined || update.key !== undefined || update.pfx !== undefined;
    if (!hasOwn && update.sni === undefined && update.trust === undefined) {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'cert',
        `${where}: nothing to reload: pass \`cert\` and \`key\` (or \`pfx\`), \`sni\`, \`trust\`, or several`,
      );
    }
    const previous = { credentials: this.#credentials, sni: this.#sniCredentials, ca: this.#shared.ca };
    // Checked before anything changes, so that a bad part leaves the context as it was.
    const ca = update.trust === undefined ? previous.ca : clientTrust(where, this.clientAuth, update.trust);
    if (hasOwn) this.#credentials = credentialsFrom(update);
    if (update.sni !== undefined) this.#sniCredentials = checkSniMap(where, update.sni);
    this.#shared.ca = ca;
    try {
      this.#rebuild(where);
    } catch (error) {
      this.#credentials = previous.credentials;
      this.#sniCredentials = previous.sni;
      this.#shared.ca = previous.ca;
      throw error;
    }
    this.#changed('reload');
  }

  /**
   * Switches to new session ticket keys (random unless given) for new handshakes and returns them.
   * Tickets issued under the old keys no longer resume: those clients do a full handshake.
   */
  rotateTicketKeys(keys?: Uint8Array): Buffer {
    this.#ticketKeys = checkTicketKeys('serverContext.rotateTicketKeys', keys) ?? randomBytes(48);
    this.#rebuild('serverContext.rotateTicketKeys');
    this.#changed('ticketKeys');
    return this.ticketKeys;
  }

  /** @internal See `kOnContextChange`. */
  [kOnContextChange](listener: (change: ContextChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** @internal See `kCurrentCredentials`; `null` when only `resolveSni` gives certificates. */
  [kCurrentCredentials](): ReloadOptions | null {
    const update: ReloadOptions = { ...this.#credentials };
    // An empty map too, with a default certificate: a worker's own `sni` names must go then.
    if (this.#credentials || this.#sniCredentials.size > 0)
      update.sni = Object.fromEntries(this.#sniCredentials);
    if (this.#shared.ca) update.trust = this.#shared.ca;
    return Object.keys(update).length > 0 ? update : null;
  }

  #changed(change: ContextChange): void {
    for (const listener of this.#changeListeners) listener(change);
  }

  /** @internal The secure context for handshakes that name no covered server. */
  get secureContext(): tls.SecureContext {
    return this.#default;
  }

  /** @internal Node's SNICallback: exact names, then wildcards, then the resolver. */
  readonly sniCallback = (
    serverName: string,
    callback: (error: Error | null, context?: tls.SecureContext) => void,
  ) => {
    const name = serverName.toLowerCase();
    const dot = name.indexOf('.');
    // A wildcard covers one label: `*.apps.test` serves `one.apps.test`, never `apps.test`.
    const known = this.#byName.get(name) ?? (dot > 0 ? this.#byName.get(`*${name.slice(dot)}`) : undefined);
    if (known || !this.#resolver) {
      callback(null, known ?? this.#default);
      return;
    }
    Promise.resolve()
      .then(() => this.#resolver!(name))
      .then((credentials) => (credentials ? this.#contextFor(credentials) : this.#default))
      .then(
        (context) => callback(null, context),
        // Fails this handshake only: whatever the resolver threw or answered, the server carries on.
        (error: unknown) =>
          callback(
            new TlsError(
              'ERR_TLS_HANDSHAKE',
              `serverContext.resolveSni failed for ${JSON.stringify(name)}: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error },
            ),
          ),
      );
  };

  /** @internal Whether any certificate depends on the server name (SNI callback needed). */
  get usesSni(): boolean {
    return this.#byName.size > 0 || this.#resolver !== undefined;
  }

  #contextFor(credentials: ServerCredentials): tls.SecureContext {
    let context = this.#resolved.get(credentials);
    if (!context) {
      context = this.#build('serverContext.resolveSni', credentials);
      this.#resolved.set(credentials, context);
    }
    return context;
  }

  #rebuild(where: string): void {
    const byName = new Map<string, tls.SecureContext>();
    for (const [name, credentials] of this.#sniCredentials)
      byName.set(name, this.#build(`${where}: sni['${name}']`, credentials));
    this.#default = this.#build(where, this.#credentials);
    this.#byName = byName;
    this.#resolved = new WeakMap();
  }

  #build(where: string, credentials: ServerCredentials | undefined): tls.SecureContext {
    const options: tls.SecureContextOptions = {
      ...this.#shared,
      ciphers: CIPHERS,
      ecdhCurve: GROUPS,
      secureOptions: SERVER_SECURE_OPTIONS,
      honorCipherOrder: true,
      ticketKeys: this.#ticketKeys,
      sessionIdContext: sessionIdContext(this.clientAuth, this.#shared),
    };
    if (credentials && 'pfx' in credentials) {
      options.pfx = Buffer.from(credentials.pfx);
      options.passphrase = credentials.passphrase;
    } else if (credentials) {
      const checked = readCredentials(where, credentials.cert, credentials.key, credentials.passphrase);
      warnIfNotCurrent(where, 'cert', checked.chain[0]!);
      options.cert = checked.cert;
      options.key = checked.key;
      options.passphrase = credentials.passphrase;
    }
    try {
      const context = tls.createSecureContext(options);
      if (options.pfx) warnIfBundleNotCurrent(where, context);
      return context;
    } catch (error) {
      const message = (error as Error).message;
      const field = credentials && 'pfx' in credentials ? 'pfx' : 'cert';
      const fix = /mac verify failure|bad decrypt/i.test(message)
        ? 'the `passphrase` does not open the PKCS#12 bundle'
        : /too small|too weak|md too weak/i.test(message)
          ? 'the certificate uses a key or signature weaker than tlskit allows (RSA >= 2048, no SHA-1)'
          : message;
      throw new ContextError('ERR_CONTEXT_OPENSSL', field, `${where}: OpenSSL refused \`${field}\`: ${fix}`, {
        cause: error,
      });
    }
  }
}

/**
 * Builds a server context: checked once, shared by many connections. TLS 1.2 minimum, ECDHE+AEAD
 * suites only, no renegotiation, no compression.
 */
export function serverContext(options: ServerContextOptions): ServerContext {
  return new ServerContext(kContextToken, options);
}

/**
 * What a session resumes under: a ticket or session made under one client-certificate policy
 * (`clientAuth`, the CAs, the CRLs) resumes only under the same one. With one fixed value, shared
 * ticket keys let a session from a context that asked for no certificate into one that requires
 * it, and one verified against a CA that `reload({ trust })` removed kept resuming. The same
 * policy gives the same value in every process, so workers still resume each other's sessions.
 * (OpenSSL takes at most 32 bytes.)
 */
function sessionIdContext(clientAuth: ServerContext['clientAuth'], shared: Shared): string {
  const hash = createHash('sha256').update(clientAuth);
  for (const part of [shared.ca, shared.crl]) {
    const items = part === undefined ? [] : Array.isArray(part) ? part : [part];
    hash.update(`\0${items.length}`);
    for (const item of items) hash.update('\0').update(item);
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The CAs client certificates must chain to, checked against `clientAuth`: required when it asks
 * for certificates (never the system store: any public CA could then mint a client identity),
 * refused when it does not.
 */
function clientTrust(
  where: string,
  clientAuth: ServerContext['clientAuth'],
  trust: TrustInput | undefined,
): string[] {
  if (clientAuth === 'none') {
    throw new ContextError(
      'ERR_CONTEXT_OPTION',
      'trust',
      `${where}: \`trust\` only applies to client certificates; set \`clientAuth\` to 'optional' or 'required' too`,
    );
  }
  if (trust === undefined || trust === 'system' || (Array.isArray(trust) && trust.length === 0)) {
    throw new ContextError(
      'ERR_CONTEXT_TRUST_REQUIRED',
      'trust',
      `${where}: \`clientAuth: '${clientAuth}'\` needs \`trust\`: the CA certificates (PEM) that client ` +
        'certificates must chain to',
    );
  }
  return readTrust(where, trust);
}
