import { type KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkOptionNames } from '../transport/options.js';
import { IssuedCertificate, type IssueOptions, issueLeaf } from './issued.js';
import {
  type AnyKeyType,
  type CryptoKeyPair,
  certificatePem,
  checkKeyType,
  generateKeys,
  type HashName,
  type KeyType,
  privateKeyPem,
  signingAlgorithm,
  x509,
} from './keys.js';
import { authorityKeyIdentifier, mint, type Signer, type Validity, validityDates } from './mint.js';
import {
  checkNameConstraints,
  type NameConstraintsOptions,
  type SubjectFields,
  subjectName,
} from './names.js';
import { PKI_OPTION_NAMES } from './option-names.js';
import { readCertificate, readPeculiar, readPrivateKey } from './parse.js';

/** Options of `createCA` and `ca.intermediate`. */
export interface CAOptions {
  /** Key type (default `'ecdsa-p256'`). */
  keyType?: KeyType;
  /** Subject fields, or a common name (default `tlskit test CA <random>`). */
  subject?: SubjectFields | string;
  /**
   * Validity (default: from an hour ago, 10 years for a root, 5 for an intermediate but no longer
   * than its parent).
   */
  validity?: Validity;
  /**
   * How many CA levels may sit below this one (basicConstraints pathLen). A root has no limit by
   * default; an intermediate gets its parent's limit minus one.
   */
  pathLength?: number;
  /** Restrict the names this CA may issue for (a critical nameConstraints extension). */
  nameConstraints?: NameConstraintsOptions;
}

/** Why a certificate was revoked (RFC 5280 reason codes). */
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'caCompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation';

const REASONS: Record<RevocationReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  caCompromise: x509.X509CrlReason.cACompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
};

const kToken = Symbol('tlskit.caToken');
/** @internal The CA's signer, for the defect factory. */
export const kSigner = Symbol('tlskit.signer');

/**
 * A certificate authority for tests: mints intermediates and leaves, revokes, and publishes CRLs.
 * Make one with `createCA()`.
 */
export class CA {
  /** This CA's certificate (PEM, newline-terminated). */
  readonly certPem: string;
  /** This CA's private key (PKCS#8 PEM). */
  readonly keyPem: string;
  /** This CA's certificate, parsed. */
  readonly certificate: X509Certificate;
  /** The serial number of this CA's certificate, lowercase hex: what its parent's `revoke` takes. */
  readonly serial: string;
  readonly keyType: AnyKeyType;
  /** The path length constraint, or `undefined` for none. */
  readonly pathLength: number | undefined;
  /** The CA that issued this one, or `null` for a root. */
  readonly parent: CA | null;
  readonly #signer: Signer;
  /** Revoked serials, normalised by `serialKey`, so one certificate has one entry. */
  readonly #revoked = new Map<string, { date: Date; reason: x509.X509CrlReason }>();
  /** The cRLNumber of the last CRL this object signed (0: none yet). */
  #crlNumber = 0;

  /** @internal Use `createCA()` or `ca.intermediate()`. */
  constructor(
    token: symbol,
    signer: Signer,
    keyPem: string,
    pathLength: number | undefined,
    parent: CA | null,
  ) {
    if (token !== kToken) throw new TypeError('use createCA() to make a CA');
    this.#signer = signer;
    this.certPem = certificatePem(signer.certificate!);
    this.keyPem = keyPem;
    this.certificate = new X509Certificate(this.certPem);
    this.serial = this.certificate.serialNumber.toLowerCase();
    this.keyType = signer.keyType;
    this.pathLength = pathLength;
    this.parent = parent;
  }

  /** The root certificate (PEM) to trust: `clientContext({ trust: ca.trust })`. */
  get trust(): string {
    return this.parent ? this.parent.trust : this.certPem;
  }

  /** This CA's certificate followed by its parents', without the root: what a server sends after its leaf. */
  get chainPem(): string {
    return this.parent ? this.certPem + this.parent.chainPem : '';
  }

  /** @internal */
  get [kSigner](): Signer {
    return this.#signer;
  }

  /** Makes a child CA. Its path length is this CA's minus one unless a smaller one is given. */
  async intermediate(options: CAOptions = {}): Promise<CA> {
    if (this.pathLength === 0) {
      throw new InvalidArgumentError(
        'intermediate: this CA has path length 0, so no CA may sit below it; create the parent with a larger `pathLength`',
      );
    }
    const inherited = this.pathLength === undefined ? undefined : this.pathLength - 1;
    if (options.pathLength !== undefined && inherited !== undefined && options.pathLength > inherited) {
      throw new InvalidArgumentError(
        `intermediate: \`pathLength\` ${options.pathLength} exceeds what the parent allows below it (${inherited})`,
      );
    }
    return makeCA('intermediate', { ...options, pathLength: options.pathLength ?? inherited }, this, 5 * 365);
  }

  /** Issues a leaf certificate for `hosts` (DNS names, wildcards, IP addresses, emails). */
  issue(options: IssueOptions = {}): Promise<IssuedCertificate> {
    return issueLeaf(this, this.#signer, options);
  }

  /**
   * Marks a certificate this CA issued as revoked; the next `crlPem()` lists it. A serial is a
   * number: `'00ab'`, `'AB'` and `'ab'` are the same certificate. Revoking a certificate again
   * changes nothing: the first date and reason stand. The date defaults to now, less the minute a
   * CRL's thisUpdate is set back, so a CRL made at once never lists a revocation in its future.
   */
  revoke(
    certificate: string | { serial: string },
    options: { reason?: RevocationReason; date?: Date } = {},
  ): void {
    checkOptionNames('revoke', options, PKI_OPTION_NAMES.revoke);
    const serial =
      typeof certificate === 'string'
        ? certificate.includes('-----BEGIN CERTIFICATE-----')
          ? serialOfPem(certificate)
          : certificate
        : certificate?.serial;
    if (typeof serial !== 'string' || !/^[0-9a-f]+$/i.test(serial)) {
      const shown =
        typeof serial === 'string' && serial.length > 40
          ? `${JSON.stringify(serial.slice(0, 40))}…`
          : JSON.stringify(serial);
      throw new InvalidArgumentError(
        `revoke: pass an issued certificate, its PEM, or its serial number in hex, got ${shown}`,
      );
    }
    const reason = REASONS[options.reason ?? 'unspecified'];
    if (reason === undefined) {
      throw new InvalidArgumentError(`revoke: \`reason\` must be one of ${Object.keys(REASONS).join(', ')}`);
    }
    const key = serialKey(serial);
    const date = options.date ?? new Date(Date.now() - CLOCK_SKEW_MS);
    if (!this.#revoked.has(key)) this.#revoked.set(key, { date, reason });
  }

  /**
   * A CRL signed by this CA listing every revoked certificate, valid for `days` (a positive number,
   * default 7). Each CRL carries a cRLNumber one higher than the previous one this object signed
   * (RFC 5280 5.2.3); a CA loaded again with `loadCA` counts from 1 again.
   */
  async crlPem(options: { days?: number } = {}): Promise<string> {
    checkOptionNames('crlPem', options, PKI_OPTION_NAMES.crlPem);
    const days = options?.days ?? 7;
    if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0) {
      throw new InvalidArgumentError(
        `crlPem: \`days\` must be a positive number of days, got ${typeof days === 'string' ? JSON.stringify(days) : String(days)}; it sets how long the CRL is valid (nextUpdate)`,
      );
    }
    const thisUpdate = new Date(Date.now() - CLOCK_SKEW_MS);
    const crlNumber = new CRLNumber(++this.#crlNumber);
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.#signer.certificate!.subjectName,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + days * 86_400_000),
      signingAlgorithm: signingAlgorithm(this.keyType),
      signingKey: this.#signer.keys.privateKey,
      extensions: [
        await authorityKeyIdentifier(this.#signer),
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(crlNumber)),
      ],
      entries: [...this.#revoked].map(([serialNumber, { date, reason }]) => ({
        serialNumber,
        revocationDate: date,
        reason,
      })),
    });
    return certificatePem(crl);
  }
}

/**
 * How far a CRL's thisUpdate (and a default revocation date) is set back: a verifier whose clock
 * is a little behind would otherwise see a CRL issued in the future.
 */
const CLOCK_SKEW_MS = 60_000;

/** A hex serial as one key per number: no leading zeros, lowercase, whole bytes. */
function serialKey(serial: string): string {
  const digits = serial.replace(/^0+/, '').toLowerCase() || '0';
  return digits.length % 2 ? `0${digits}` : digits;
}

/** @internal Builds a CA under `parent` (or a root), with checks already done. */
export async function makeCA(
  where: string,
  options: CAOptions,
  parent: CA | null,
  defaultDays: number,
  internal: { keyType?: AnyKeyType; hash?: HashName; keys?: CryptoKeyPair } = {},
): Promise<CA> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`${where}: options must be an object`);
  checkOptionNames(where, options, PKI_OPTION_NAMES.createCA);
  const keyType = internal.keyType ?? checkKeyType(where, options.keyType, 'ecdsa-p256');
  const { pathLength } = options;
  if (pathLength !== undefined && (!Number.isInteger(pathLength) || pathLength < 0)) {
    throw new InvalidArgumentError(
      `${where}: \`pathLength\` must be a non-negative integer, got ${String(pathLength)}`,
    );
  }
  const nameConstraints = checkNameConstraints(where, options.nameConstraints);
  const { notBefore, notAfter } = validityDates(
    where,
    options.validity,
    defaultDays,
    parent?.[kSigner].certificate?.notAfter,
  );
  const keys = internal.keys ?? (await generateKeys(keyType));
  const tag = Math.random().toString(36).slice(2, 8);
  const subject = subjectName(where, options.subject, `tlskit test ${parent ? 'intermediate' : 'CA'} ${tag}`);
  const certificate = await mint({
    subject,
    keys,
    keyType,
    issuer: parent ? parent[kSigner] : null,
    notBefore,
    notAfter,
    basicConstraints: { ca: true, pathLength },
    keyUsage:
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
    nameConstraints,
    hash: internal.hash,
  });
  return new CA(
    kToken,
    { name: subject, keys, keyType, certificate },
    await privateKeyPem(keys.privateKey),
    pathLength,
    parent,
  );
}

/** The key type of a private key, as the PKI names it. */
function keyTypeOf(where: string, key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details.namedCurve === 'secp384r1') return 'ecdsa-p384';
  }
  if (key.asymmetricKeyType === 'rsa' && [2048, 3072, 4096].includes(details.modulusLength ?? 0)) {
    return `rsa-${details.modulusLength}` as KeyType;
  }
  throw new InvalidArgumentError(
    `${where}: the CA key must be ECDSA P-256/P-384, Ed25519 or RSA 2048/3072/4096`,
  );
}

/**
 * Loads a root CA saved earlier (its certificate and private key in PEM), to issue more
 * certificates under it.
 */
export async function loadCA(saved: { certPem: string; keyPem: string }): Promise<CA> {
  const where = 'loadCA';
  if (typeof saved !== 'object' || saved === null || typeof saved.certPem !== 'string') {
    throw new InvalidArgumentError(`${where}: pass { certPem, keyPem }, the CA's certificate and key in PEM`);
  }
  checkOptionNames(where, saved, PKI_OPTION_NAMES.loadCA);
  const certificate = readCertificate(where, '`certPem`', saved.certPem);
  const key = readPrivateKey(where, '`keyPem`', saved.keyPem);
  if (!certificate.checkPrivateKey(key))
    throw new InvalidArgumentError(
      `${where}: \`keyPem\` does not match \`certPem\` (certificate subject ${certificate.subject.split('\n').join(', ')}); pass the key saved with that CA certificate (\`cert ca\` writes ca.pem and ca-key.pem together)`,
    );
  if (!certificate.ca)
    throw new InvalidArgumentError(
      `${where}: the certificate is not a CA: its basicConstraints lack CA:TRUE, or its keyUsage lacks keyCertSign (OpenSSL requires both to sign certificates)`,
    );
  if (!(certificate.subject === certificate.issuer && certificate.checkIssued(certificate))) {
    throw new InvalidArgumentError(
      `${where}: only root CAs can be loaded; this certificate was issued by ${certificate.issuer}`,
    );
  }
  const keyType = keyTypeOf(where, key);
  const peculiar = readPeculiar(where, '`certPem`', certificate.raw);
  const publicKey = await peculiar.publicKey.export();
  const algorithm = publicKey.algorithm as webcrypto.Algorithm;
  const privateKey = await webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    algorithm,
    true,
    ['sign'],
  );
  const pathLength = peculiar.getExtension(x509.BasicConstraintsExtension)?.pathLength;
  return new CA(
    kToken,
    { name: peculiar.subjectName, keys: { publicKey, privateKey }, keyType, certificate: peculiar },
    saved.keyPem,
    pathLength,
    null,
  );
}

/**
 * Creates a root CA for tests: ECDSA P-256 unless `keyType` says otherwise, valid for ten years,
 * with no path length limit unless `pathLength` is given.
 */
export function createCA(options: CAOptions = {}): Promise<CA> {
  return makeCA('createCA', options, null, 10 * 365);
}

export { IssuedCertificate };

/** The serial number of the first certificate in `pem`, in hex. */
function serialOfPem(pem: string): string {
  try {
    return new X509Certificate(pem).serialNumber;
  } catch (error) {
    throw new InvalidArgumentError(
      `revoke: the PEM given cannot be read as a certificate (${(error as Error).message})`,
    );
  }
}
