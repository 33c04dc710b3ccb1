import { AsnConvert } from '@peculiar/asn1-schema';
import {
  GeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  id_ce_nameConstraints,
  NameConstraints,
} from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkOptionNames, shown } from '../transport/options.js';
import {
  type AnyKeyType,
  type CryptoKeyPair,
  type HashName,
  keyForHash,
  randomSerial,
  signingAlgorithm,
  x509,
} from './keys.js';
import { resignWithMd5 } from './md5.js';
import type { NameConstraintsOptions } from './names.js';
import { PKI_OPTION_NAMES } from './option-names.js';

/**
 * When a certificate is valid. `days` counts from `notBefore`; the default starts an hour ago. Give
 * `days` or `notAfter`, not both. A certificate may not be valid after its issuer: a default period
 * is cut short to end with the issuer, and an explicit one that ends later is refused.
 */
export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
  days?: number;
}

/** Who signs: a key pair with its name and type. */
export interface Signer {
  name: x509.Name;
  keys: CryptoKeyPair;
  keyType: AnyKeyType;
  certificate: x509.X509Certificate | null;
}

/** Everything that goes into one certificate. */
export interface MintParams {
  subject: x509.Name;
  keys: CryptoKeyPair;
  keyType: AnyKeyType;
  /** `null` for a self-signed certificate. */
  issuer: Signer | null;
  notBefore: Date;
  notAfter: Date;
  serial?: string;
  /** basicConstraints; `null` leaves the extension out. */
  basicConstraints: { ca: boolean; pathLength?: number } | null;
  keyUsage: x509.KeyUsageFlags;
  extendedKeyUsage?: string[];
  altNames?: x509.JsonGeneralName[];
  nameConstraints?: NameConstraintsOptions;
  hash?: HashName;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Resolves a validity option to dates, or throws naming the field. `issuerNotAfter` (absent for a
 * self-signed certificate) caps the period: a default one ends with the issuer; an explicit one that
 * ends later is refused, since a certificate outliving its issuer is a mistake, not a test case.
 * When the issuer has already expired by `notBefore`, the default is left whole: the chain then has
 * one defect (the issuer), which is what a test of an expired CA wants.
 */
export function validityDates(
  where: string,
  validity: Validity | undefined,
  defaultDays: number,
  issuerNotAfter?: Date,
): { notBefore: Date; notAfter: Date } {
  if (validity !== undefined && (typeof validity !== 'object' || validity === null)) {
    throw new InvalidArgumentError(`${where}: \`validity\` must be an object such as { days: 30 }`);
  }
  checkOptionNames(where, validity, PKI_OPTION_NAMES.validity);
  if (validity?.days !== undefined && validity.notAfter !== undefined) {
    throw new InvalidArgumentError(
      `${where}: give \`validity.days\` or \`validity.notAfter\`, not both (got days ${String(validity.days)} and notAfter ${String(validity.notAfter)})`,
    );
  }
  const notBefore = validity?.notBefore ?? new Date(Date.now() - HOUR);
  const days = validity?.days ?? defaultDays;
  checkDate(where, 'notBefore', notBefore);
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0) {
    throw new InvalidArgumentError(
      `${where}: \`validity.days\` must be a positive number, got ${String(days)}`,
    );
  }
  const explicit = validity?.days !== undefined || validity?.notAfter !== undefined;
  let notAfter = validity?.notAfter ?? new Date(notBefore.getTime() + days * DAY);
  if (validity?.notAfter !== undefined) checkDate(where, 'notAfter', notAfter);
  checkRange(where, 'notBefore', notBefore, 'give a date from 1950 on');
  checkRange(
    where,
    'notAfter',
    notAfter,
    validity?.notAfter === undefined ? 'give fewer days' : 'give an earlier date',
  );
  // A certificate holds whole seconds: two instants within one second would be written equal.
  if (Math.floor(notAfter.getTime() / 1000) <= Math.floor(notBefore.getTime() / 1000)) {
    throw new InvalidArgumentError(
      `${where}: \`validity.notAfter\` (${notAfter.toISOString()}) must be after \`validity.notBefore\` (${notBefore.toISOString()}), by a second at least (a certificate holds whole seconds); for an expired certificate give both in the past`,
    );
  }
  if (issuerNotAfter && notAfter > issuerNotAfter) {
    if (explicit) {
      throw new InvalidArgumentError(
        `${where}: \`validity\` ends ${notAfter.toISOString()}, after the issuing CA's notAfter ${issuerNotAfter.toISOString()}; give a period that ends by then, or give the CA a longer one`,
      );
    }
    if (issuerNotAfter > notBefore) notAfter = issuerNotAfter;
  }
  return { notBefore, notAfter };
}

/** The first and last instants a certificate can hold as RFC 5280 writes them (UTCTime from 1950). */
const EARLIEST = Date.UTC(1950, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59);

/** Refuses a date a certificate cannot carry: before 1950 it would be read back a century later. */
function checkRange(where: string, field: 'notBefore' | 'notAfter', value: Date, fix: string): void {
  const time = value.getTime();
  if (time >= EARLIEST && time <= LATEST) return;
  throw new InvalidArgumentError(
    `${where}: \`validity.${field}\` is ${Number.isNaN(time) ? 'beyond any date JavaScript can hold' : value.toISOString()}, which a certificate cannot hold; dates run from 1950-01-01 to 9999-12-31 (RFC 5280: UTCTime reads a year before 1950 as 20xx); ${fix}`,
  );
}

/** Throws unless `value` is a Date that holds a time, naming what it got and how to make one. */
function checkDate(where: string, field: 'notBefore' | 'notAfter', value: unknown): asserts value is Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return;
  const got =
    value instanceof Date
      ? 'an Invalid Date'
      : typeof value === 'string' || typeof value === 'number'
        ? `the ${typeof value} ${JSON.stringify(value)}; use new Date(${JSON.stringify(value)})`
        : value === null || typeof value !== 'object'
          ? shown(value)
          : `an object (${value.constructor?.name ?? 'no prototype'})`;
  throw new InvalidArgumentError(`${where}: \`validity.${field}\` must be a Date, got ${got}`);
}

function subtree(entry: string): GeneralSubtree {
  // asn1-x509 encodes 'address/prefix' as the address-and-mask form name constraints use; the
  // address arrives already in a form it parses correctly (checkNameConstraints).
  const base = entry.includes('/')
    ? new GeneralName({ iPAddress: entry })
    : new GeneralName({ dNSName: entry });
  return new GeneralSubtree({ base });
}

function nameConstraintsExtension(options: NameConstraintsOptions): x509.Extension {
  const constraints = new NameConstraints({
    permittedSubtrees: options.permitted?.length
      ? new GeneralSubtrees(options.permitted.map(subtree))
      : undefined,
    excludedSubtrees: options.excluded?.length
      ? new GeneralSubtrees(options.excluded.map(subtree))
      : undefined,
  });
  return new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(constraints));
}

/**
 * The authority key identifier of what `signer` signs: its certificate's subject key identifier
 * as written there. A CA made elsewhere (`loadCA`) may have any identifier, not the SHA-1 of its
 * key that tlskit writes, and a verifier matches the two byte for byte.
 */
export async function authorityKeyIdentifier(signer: Signer): Promise<x509.AuthorityKeyIdentifierExtension> {
  const own = signer.certificate?.getExtension(x509.SubjectKeyIdentifierExtension);
  return own
    ? new x509.AuthorityKeyIdentifierExtension(own.keyId)
    : x509.AuthorityKeyIdentifierExtension.create(signer.keys.publicKey);
}

/** Signs one certificate. Everything the PKI makes, good or broken, goes through here. */
export async function mint(params: MintParams): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [];
  if (params.basicConstraints) {
    extensions.push(
      new x509.BasicConstraintsExtension(
        params.basicConstraints.ca,
        params.basicConstraints.pathLength,
        true,
      ),
    );
  }
  extensions.push(new x509.KeyUsagesExtension(params.keyUsage, true));
  if (params.extendedKeyUsage?.length)
    extensions.push(new x509.ExtendedKeyUsageExtension(params.extendedKeyUsage, false));
  if (params.altNames?.length) {
    // RFC 5280 4.2.1.6: with an empty subject, the names live only here, so the extension is critical.
    const critical = params.subject.toJSON().length === 0;
    extensions.push(new x509.SubjectAlternativeNameExtension(params.altNames, critical));
  }
  if (params.nameConstraints) extensions.push(nameConstraintsExtension(params.nameConstraints));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(params.keys.publicKey));
  const signer = params.issuer;
  if (signer) extensions.push(await authorityKeyIdentifier(signer));
  const signing = signer ?? { name: params.subject, keys: params.keys, keyType: params.keyType };
  const md5 = params.hash === 'MD5';
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: params.serial ?? randomSerial(),
    subject: params.subject,
    // The issuer's name as its certificate holds it: its string form would be parsed again, and
    // @peculiar/x509's parser mangles quotes, backslashes and a leading '#'.
    issuer: signer?.certificate ? signer.certificate.subjectName : signing.name,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    publicKey: params.keys.publicKey,
    signingKey: await keyForHash(signing.keys.privateKey, signing.keyType, params.hash),
    signingAlgorithm: signingAlgorithm(signing.keyType, md5 ? undefined : params.hash),
    extensions,
  });
  return md5 ? resignWithMd5(certificate, signing.keys.privateKey, signing.keyType) : certificate;
}
