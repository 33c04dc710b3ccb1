import { createHash, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import {
  alpnWire,
  CIPHERS,
  checkAlpn,
  checkKnownOptions,
  checkMilliseconds,
  checkVersions,
  GROUPS,
  SECURE_OPTIONS,
  type TlsVersion,
} from './defaults.js';
import { ContextError } from './errors.js';
import type { LazyChain } from './info.js';
import { OPTION_NAMES } from './option-names.js';
import { crlDer, type PemInput, pemList, readCredentials, readCrls, readTrust } from './pem.js';

/** Whom a client trusts: `'system'` (Node's default CA store) or CA certificates in PEM. */
export type TrustInput = 'system' | PemInput | PemInput[];

/** Options of `clientContext`. Only `trust` is required. */
export interface ClientContextOptions {
  /**
   * Required, with no default: `'system'` for Node's default store (Mozilla's CA list, plus
   * `NODE_EXTRA_CA_CERTS`), or CA certificates as PEM (a string, a Buffer, or an array of them).
   */
  trust: TrustInput;
  /** Our certificate chain (PEM, leaf first), for servers that ask for one (mutual TLS). */
  cert?: PemInput;
  /** The private key of `cert` (PEM). */
  key?: PemInput;
  /** Opens an encrypted `key`. */
  passphrase?: string;
  /** ALPN protocols to offer, most preferred first, e.g. `['h2', 'http/1.1']`. */
  alpn?: string[];
  /**
   * SPKI pins: base64 SHA-256 digests of a public key (`'sha256/…'` or the bare base64). The chain
   * must contain a certificate with one of these keys, on top of normal verification.
   */
  pins?: string[];
  /** Certificate revocation lists (PEM). Every CA in the chain then needs a current CRL. */
  crl?: PemInput | PemInput[];
  /** Lowest version to accept: `'TLSv1.2'` (default) or `'TLSv1.3'`. Lower is refused. */
  minVersion?: TlsVersion;
  /** Highest version to offer: `'TLSv1.3'` (default) or `'TLSv1.2'`. */
  maxVersion?: TlsVersion;
  /** Keep sessions for resumption: `true` keeps 100 (one per server name), a number sets the count. */
  sessionCache?: boolean | number;
  /**
   * Treat an end of stream without the peer's close_notify as a clean end (default `false`).
   * Only for protocols that frame their own messages, such as HTTP with Content-Length.
   */
  allowTruncation?: boolean;
  /** Handshake deadline in milliseconds (default 30000). */
  handshakeTimeout?: number;
  /** How long `close()` waits for the peer's close_notify, in milliseconds (default 5000). */
  closeTimeout?: number;
}

/** @internal A resumable session, with the chain that was verified when it was made. */
export interface SavedSession {
  session: Buffer;
  /** A resumed handshake carries no certificates: `info.tls.peerCertificates` comes from here. */
  chain: LazyChain;
}

/** Guards the constructor: only this package builds contexts. */
export const kContextToken = Symbol('tlskit.contextToken');

/** The SHA-256 SPKI pin of a certificate, as base64. */
export function spkiPin(certificate: X509Certificate): string {
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

function checkPins(where: string, pins: unknown): Set<string> | null {
  if (pins === undefined) return null;
  if (!Array.isArray(pins) || pins.length === 0) {
    throw new ContextError(
      'ERR_CONTEXT_OPTION',
      'pins',
      `${where}: \`pins\` must be a non-empty array of SPKI SHA-256 pins`,
    );
  }
  return new Set(
    pins.map((pin) => {
      const bare = typeof pin === 'string' ? pin.replace(/^sha256\//, '') : '';
      if (!/^[A-Za-z0-9+/]{43}=$/.test(bare)) {
        throw new ContextError(
          'ERR_CONTEXT_OPTION',
          'pins',
          `${where}: \`pins\` entry ${JSON.stringify(pin)} is not a base64 SHA-256 digest ('sha256/' + 44 characters)`,
        );
      }
      return bare;
    }),
  );
}

/** Internal construction options: what `tlskit/danger` may add. */
export interface ClientContextInternals {
  insecureReason?: string;
}

/**
 * Everything a TLS client needs, built and checked once and shared by many connections. Make one
 * with `clientContext(options)`.
 */
export class ClientContext {
  readonly role = 'client' as const;
  /** ALPN protocols offered, or `undefined`. */
  readonly alpn: readonly string[] | undefined;
  /** @internal `alpn` in wire format, for node:tls. */
  readonly alpnWire: Buffer | undefined;
  readonly allowTruncation: boolean;
  readonly handshakeTimeout: number | undefined;
  readonly closeTimeout: number | undefined;
  /** Why verification is off, for contexts made by `tlskit/danger`; otherwise `null`. */
  readonly insecureReason: string | null;
  /** @internal The CRLs in DER, to name the revoked certificate in errors. */
  readonly crls: readonly Uint8Array[] = [];
  readonly #secureContext: tls.SecureContext;
  readonly #pins: Set<string> | null;
  /** With `pins`: the trusted roots as PEM, parsed into `#anchors` when first needed. */
  readonly #trustPems: readonly string[] | null = null;
  #anchors: readonly X509Certificate[] | null = null;
  readonly #sessions: Map<string, SavedSession> | null;
  readonly #sessionLimit: number;

  /** @internal Use `clientContext(options)`. */
  constructor(token: symbol, options: ClientContextOptions, internals: ClientContextInternals = {}) {
    if (token !== kContextToken) throw new TypeError('use clientContext(options) to make a ClientContext');
    const where = internals.insecureReason === undefined ? 'clientContext' : 'insecureClientContext';
    if (typeof options !== 'object' || options === null) {
      throw new ContextError('ERR_CONTEXT_TRUST_REQUIRED', 'trust', trustRequired(where));
    }
    checkKnownOptions(where, options, OPTION_NAMES.clientContext);
    this.insecureReason = internals.insecureReason ?? null;
    const secure: tls.SecureContextOptions = {
      ciphers: CIPHERS,
      ecdhCurve: GROUPS,
      secureOptions: SECURE_OPTIONS,
      ...checkVersions(where, options),
    };
    if (this.insecureReason === null) {
      const trust = options.trust;
      if (trust === undefined || trust === null || (Array.isArray(trust) && trust.length === 0)) {
        throw new ContextError('ERR_CONTEXT_TRUST_REQUIRED', 'trust', trustRequired(where));
      }
      if (typeof trust === 'string' && trust !== 'system' && trust.trim().toLowerCase() === 'system') {
        throw new ContextError(
          'ERR_CONTEXT_OPTION',
          'trust',
          `${where}: \`trust\` is ${JSON.stringify(trust)}; Node's default CA store is spelt 'system'`,
        );
      }
      if (trust !== 'system') {
        secure.ca = readTrust(where, trust);
      }
    }
    if (options.cert !== undefined || options.key !== undefined) {
      if (options.cert === undefined || options.key === undefined) {
        const missing = options.cert === undefined ? 'cert' : 'key';
        throw new ContextError(
          'ERR_CONTEXT_OPTION',
          missing,
          `${where}: mutual TLS needs both \`cert\` and \`key\`; \`${missing}\` is missing`,
        );
      }
      const credentials = readCredentials(where, options.cert, options.key, options.passphrase);
      secure.cert = credentials.cert;
      secure.key = credentials.key;
      secure.passphrase = options.passphrase;
    }
    if (options.crl !== undefined) {
      const crls = pemList(options.crl).flatMap((pem, index) => readCrls(where, `crl[${index}]`, pem));
      secure.crl = crls;
      this.crls = crls.flatMap(crlDer);
    }
    this.alpn = checkAlpn(where, options.alpn);
    this.alpnWire = alpnWire(this.alpn);
    this.#pins = checkPins(where, options.pins);
    if (this.#pins !== null && this.insecureReason === null) {
      this.#trustPems = options.trust === 'system' ? tls.rootCertificates : (secure.ca as string[]);
    }
    this.allowTruncation = options.allowTruncation === true;
    this.handshakeTimeout = checkMilliseconds(where, 'handshakeTimeout', options.handshakeTimeout);
    this.closeTimeout = checkMilliseconds(where, 'closeTimeout', options.closeTimeout);
    const cache = options.sessionCache;
    this.#sessionLimit = cache === true ? 100 : typeof cache === 'number' ? cache : 0;
    if (cache !== undefined && typeof cache !== 'boolean' && !(Number.isInteger(cache) && cache > 0)) {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'sessionCache',
        `${where}: \`sessionCache\` must be true, false or a positive number of sessions, got ${String(cache)}`,
      );
    }
    this.#sessions = this.#sessionLimit > 0 ? new Map() : null;
    try {
      this.#secureContext = tls.createSecureContext(secure);
    } catch (error) {
      throw new ContextError(
        'ERR_CONTEXT_OPENSSL',
        'options',
        `${where}: OpenSSL refused the options: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** @internal The Node secure context shared by connections. */
  get secureContext(): tls.SecureContext {
    return this.#secureContext;
  }

  /** @internal Pins to check after verification, or `null`. */
  get pins(): ReadonlySet<string> | null {
    return this.#pins;
  }

  /** @internal The trusted roots, parsed, for checking pins against a verified path. */
  get trustAnchors(): readonly X509Certificate[] {
    this.#anchors ??= (this.#trustPems ?? []).map((pem) => new X509Certificate(pem));
    return this.#anchors;
  }

  /** @internal A session saved for `serverName`, if resumption is on. */
  session(serverName: string): SavedSession | undefined {
    return this.#sessions?.get(serverName);
  }

  /**
   * @internal Saves a session for `serverName`, dropping the oldest past the limit. Only sessions
   * of connections that passed verification for `serverName` may be saved: resuming one skips
   * verification, since the server proves it holds the session's secret.
   */
  saveSession(serverName: string, saved: SavedSession): void {
    const sessions = this.#sessions;
    if (!sessions) return;
    sessions.delete(serverName);
    sessions.set(serverName, saved);
    if (sessions.size > this.#sessionLimit) sessions.delete(sessions.keys().next().value as string);
  }

  /** @internal Drops the session saved for `serverName`. */
  forgetSession(serverName: string): void {
    this.#sessions?.delete(serverName);
  }

  /** Whether this context keeps sessions for resumption. */
  get resumesSessions(): boolean {
    return this.#sessions !== null;
  }
}

function trustRequired(where: string): string {
  return (
    `${where}: \`trust\` is required: pass 'system' for Node's default CA store, or your CA ` +
    'certificates as PEM (a string, a Buffer, or an array of them). There is no default. To skip ' +
    "verification in a test, use insecureClientContext({ reason }) from 'tlskit/danger'"
  );
}

/**
 * Builds a client context: checked once, shared by many connections. `trust` is required;
 * hostname verification is always on; TLS 1.2 is the minimum and 1.3 is preferred.
 */
export function clientContext(options: ClientContextOptions): ClientContext {
  return new ClientContext(kContextToken, options);
}
