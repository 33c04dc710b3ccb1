import { X509Certificate } from 'node:crypto';
import { type ClientContext, type ClientContextOptions, clientContext } from '../tls/client-context.js';
import { checkKnownOptions } from '../tls/defaults.js';
import { type ServerContext, type ServerContextOptions, serverContext } from '../tls/server-context.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkOptionNames } from '../transport/options.js';
import type { CA } from './ca.js';
import {
  type AnyKeyType,
  type CryptoKeyPair,
  certificatePem,
  checkKeyType,
  generateKeys,
  type HashName,
  type KeyType,
  privateKeyPem,
  x509,
} from './keys.js';
import { mint, type Signer, type Validity, validityDates } from './mint.js';
import {
  classifyHost,
  generalName,
  type HostName,
  MAX_COMMON_NAME,
  type SubjectFields,
  subjectName,
} from './names.js';
import { PKI_OPTION_NAMES } from './option-names.js';
import { exportPkcs12, type Pkcs12Options } from './pkcs12.js';

/** Options of `ca.issue`. */
export interface IssueOptions {
  /** Names the certificate is valid for: DNS names, `*.` wildcards, IPv4/IPv6 addresses, emails. */
  hosts?: string[];
  /**
   * Subject fields, or a common name. The default common name is the first host short enough for
   * one (64 characters); when none is, the subject is left empty and subjectAltName is marked
   * critical, as RFC 5280 requires.
   */
  subject?: SubjectFields | string;
  /** `'server'`, `'client'` or `'both'` (default): the extended key usages. */
  usage?: 'server' | 'client' | 'both';
  /** More extended key usage OIDs, e.g. `'1.3.6.1.5.5.7.3.3'` (code signing). */
  extendedKeyUsages?: string[];
  /** Key type (default `'ecdsa-p256'`). */
  keyType?: KeyType;
  /** Validity (default: from an hour ago, for a year, or until the issuing CA expires if sooner). */
  validity?: Validity;
}

/** @internal Extra knobs for deliberately broken certificates. */
export interface IssueInternals {
  keyType?: AnyKeyType;
  hash?: HashName;
  basicConstraints?: { ca: boolean; pathLength?: number } | null;
  keyUsage?: x509.KeyUsageFlags;
  /** A key pair of `keyType` to use instead of a fresh one (where a case is not about the key). */
  keys?: CryptoKeyPair;
  /**
   * subjectAltName entries written as given, unchecked (a wildcard in the middle, an address in a
   * DNS name, upper case); they replace the entries `hosts` would give.
   */
  altNames?: x509.JsonGeneralName[];
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A leaf certificate with its key, and shortcuts to use it. */
export class IssuedCertificate {
  /** The certificate (PEM, newline-terminated). */
  readonly certPem: string;
  /** Its private key (PKCS#8 PEM). */
  readonly keyPem: string;
  /** The certificate followed by the intermediates up to (not including) the root. */
  readonly chainPem: string;
  /** Serial number, in hex. */
  readonly serial: string;
  /** The names it was issued for. */
  readonly hosts: readonly string[];
  /** The certificate, parsed. */
  readonly certificate: X509Certificate;
  /** The CA that issued it. */
  readonly issuer: CA;

  /** @internal Use `ca.issue()`. */
  constructor(issuer: CA, certificate: x509.X509Certificate, keyPem: string, hosts: readonly string[]) {
    this.issuer = issuer;
    this.certPem = certificatePem(certificate);
    this.keyPem = keyPem;
    this.chainPem = this.certPem + issuer.chainPem;
    this.serial = certificate.serialNumber.toLowerCase();
    this.hosts = hosts;
    this.certificate = new X509Certificate(this.certPem);
  }

  /** A server context presenting this certificate and its chain. */
  serverContext(
    options: Omit<ServerContextOptions, 'cert' | 'key' | 'pfx' | 'passphrase'> = {},
  ): ServerContext {
    checkKnownOptions(
      'IssuedCertificate.serverContext',
      options,
      PKI_OPTION_NAMES['IssuedCertificate.serverContext'],
    );
    return serverContext({ ...options, cert: this.chainPem, key: this.keyPem });
  }

  /** A client context presenting this certificate (mutual TLS); `trust` is still yours to give. */
  clientContext(options: Omit<ClientContextOptions, 'cert' | 'key'>): ClientContext {
    checkKnownOptions(
      'IssuedCertificate.clientContext',
      options,
      PKI_OPTION_NAMES['IssuedCertificate.clientContext'],
    );
    return clientContext({ ...options, cert: this.chainPem, key: this.keyPem });
  }

  /** This certificate, its chain and key as a password-protected PKCS#12 bundle. */
  toPkcs12(password: string, options?: Pkcs12Options): Buffer {
    checkOptionNames('toPkcs12', options, PKI_OPTION_NAMES.toPkcs12);
    return exportPkcs12({ certPem: this.chainPem, keyPem: this.keyPem, password, ...options });
  }
}

/** The first host that fits in a common name; `undefined` (no CN) if none does; a label if no hosts. */
function defaultCommonName(names: readonly HostName[]): string | undefined {
  if (names.length === 0) return 'tlskit leaf';
  return names.find((name) => name.value.length <= MAX_COMMON_NAME)?.value;
}

/** @internal Mints a leaf under `signer`. */
export async function issueLeaf(
  ca: CA,
  signer: Signer,
  options: IssueOptions,
  internals: IssueInternals = {},
): Promise<IssuedCertificate> {
  const where = 'issue';
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`${where}: options must be an object`);
  checkOptionNames(where, options, PKI_OPTION_NAMES.issue);
  const hosts = options.hosts ?? [];
  if (!Array.isArray(hosts)) throw new InvalidArgumentError(`${where}: \`hosts\` must be an array of names`);
  // The same name twice (`a.example`, `A.example`) is one entry: classified names are canonical.
  const names = [
    ...new Map(
      hosts.map((host) => classifyHost(where, host)).map((name) => [`${name.type} ${name.value}`, name]),
    ).values(),
  ];
  const usage = options.usage ?? 'both';
  if (usage !== 'server' && usage !== 'client' && usage !== 'both') {
    throw new InvalidArgumentError(
      `${where}: \`usage\` must be 'server', 'client' or 'both', got ${JSON.stringify(usage)}`,
    );
  }
  const extra = options.extendedKeyUsages ?? [];
  if (!Array.isArray(extra) || !extra.every((oid) => typeof oid === 'string' && /^\d+(\.\d+)+$/.test(oid))) {
    throw new InvalidArgumentError(
      `${where}: \`extendedKeyUsages\` must be dotted OIDs such as '1.3.6.1.5.5.7.3.3'`,
    );
  }
  const keyType = internals.keyType ?? checkKeyType(where, options.keyType, 'ecdsa-p256');
  const { notBefore, notAfter } = validityDates(where, options.validity, 365, signer.certificate?.notAfter);
  const keys = internals.keys ?? (await generateKeys(keyType));
  // One entry per usage: `usage` and `extendedKeyUsages` may both name serverAuth.
  const eku = [
    ...new Set([
      ...(usage === 'client' ? [] : [SERVER_AUTH]),
      ...(usage === 'server' ? [] : [CLIENT_AUTH]),
      ...extra,
    ]),
  ];
  const digital = x509.KeyUsageFlags.digitalSignature;
  const certificate = await mint({
    subject: subjectName(where, options.subject, defaultCommonName(names)),
    keys,
    keyType,
    issuer: signer,
    notBefore,
    notAfter,
    basicConstraints: internals.basicConstraints === undefined ? { ca: false } : internals.basicConstraints,
    keyUsage:
      internals.keyUsage ??
      (keyType.startsWith('rsa') ? digital | x509.KeyUsageFlags.keyEncipherment : digital),
    extendedKeyUsage: eku,
    altNames: internals.altNames ?? names.map(generalName),
    hash: internals.hash,
  });
  return new IssuedCertificate(ca, certificate, await privateKeyPem(keys.privateKey), hosts);
}
