import type { X509Certificate } from 'node:crypto';
import { spkiPin } from '../tls/client-context.js';
import { certificateFacts } from '../tls/der.js';
import { formatIp, ipBytes } from '../transport/ip.js';
import { x509 } from './keys.js';
import { readCertificates, readPeculiar } from './parse.js';

/** What `inspect` reports about a certificate. */
export interface CertificateReport {
  /**
   * The subject as `C=…, O=…, CN=…`, in certificate order, with values escaped as RFC 4514 does
   * (`\,`, `\"`, `\+`, a leading `\#` or space…) so that any value reads back unambiguously.
   * Empty (`''`) for a certificate whose names are only in subjectAltName.
   */
  subject: string;
  /** The issuer, written as `subject` is. */
  issuer: string;
  /** Serial number in hex. */
  serialNumber: string;
  subjectAltNames: { dns: string[]; ip: string[]; email: string[]; uri: string[] };
  notBefore: Date;
  notAfter: Date;
  key: { type: 'ecdsa' | 'rsa' | 'ed25519' | 'ed448' | 'other'; bits: number; curve?: string };
  /** E.g. `'ecdsa-with-SHA256'`, `'sha256WithRSAEncryption'`, `'Ed25519'`, or the OID when unknown. */
  signatureAlgorithm: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprintSha256: string;
  /** The SPKI pin, as `clientContext({ pins })` takes it: `'sha256/…'`. */
  spkiPin: string;
  isCA: boolean;
  /** basicConstraints path length, or `null` when unset. */
  pathLength: number | null;
  keyUsage: string[];
  extendedKeyUsage: string[];
  selfSigned: boolean;
}

const SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Every certificate in PEM text, in order. */
export function parseCertificates(where: string, pem: string | Uint8Array): X509Certificate[] {
  return readCertificates(where, 'the PEM text', pem);
}

function keyOf(certificate: X509Certificate): CertificateReport['key'] {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return { type: 'rsa', bits: details.modulusLength ?? 0 };
    case 'ec': {
      const curve = CURVES[details.namedCurve ?? ''] ?? details.namedCurve ?? 'unknown';
      return { type: 'ecdsa', bits: Number(/\d+/.exec(curve)?.[0] ?? 0), curve };
    }
    case 'ed25519':
      return { type: 'ed25519', bits: 256 };
    case 'ed448':
      return { type: 'ed448', bits: 456 };
    default:
      return { type: 'other', bits: 0 };
  }
}

/** Reports what a certificate says: names, validity, key, signature, fingerprints, constraints. */
export function inspect(pem: string | Uint8Array): CertificateReport {
  const certificates = parseCertificates('inspect', pem);
  return report('inspect', certificates[0]!, 0, certificates.length);
}

/** `inspect` for every certificate in the PEM text. */
export function inspectAll(pem: string | Uint8Array): CertificateReport[] {
  return parseCertificates('inspectAll', pem).map((certificate, index, all) =>
    report('inspectAll', certificate, index, all.length),
  );
}

/** Node's multi-line name as one line; Node gives `undefined` for an empty name. */
function nameText(name: string | undefined): string {
  return (name ?? '').split('\n').filter(Boolean).join(', ');
}

function report(
  where: string,
  certificate: X509Certificate,
  index: number,
  count: number,
): CertificateReport {
  const parsed = readPeculiar(where, `certificate ${index + 1} of ${count} in the PEM text`, certificate.raw);
  const names: CertificateReport['subjectAltNames'] = { dns: [], ip: [], email: [], uri: [] };
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type === 'dns') names.dns.push(name.value);
    else if (name.type === 'ip') {
      // @peculiar/x509 prints IPv4-mapped addresses as hex; report them as RFC 5952 writes them.
      const bytes = ipBytes(name.value);
      names.ip.push(bytes ? formatIp(bytes) : name.value);
    } else if (name.type === 'email') names.email.push(name.value);
    else if (name.type === 'url') names.uri.push(name.value);
  }
  const usage = parsed.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  const keyUsage = Object.entries(x509.KeyUsageFlags)
    .filter(([name, flag]) => typeof flag === 'number' && Number.isNaN(Number(name)) && usage & flag)
    .map(([name]) => name);
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  const constraints = parsed.getExtension(x509.BasicConstraintsExtension);
  const facts = certificateFacts(certificate.raw);
  return {
    subject: nameText(certificate.subject),
    issuer: nameText(certificate.issuer),
    serialNumber: certificate.serialNumber.toLowerCase(),
    subjectAltNames: names,
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    key: keyOf(certificate),
    signatureAlgorithm: SIGNATURES[facts.signatureAlgorithm ?? ''] ?? facts.signatureAlgorithm ?? 'unknown',
    fingerprintSha256: certificate.fingerprint256,
    spkiPin: `sha256/${spkiPin(certificate)}`,
    isCA: constraints?.ca ?? false,
    pathLength: constraints?.pathLength ?? null,
    keyUsage,
    extendedKeyUsage: eku.map((oid) => EKU_NAMES[String(oid)] ?? String(oid)),
    // Signed by its own key: not `checkIssued`, which also wants keyCertSign, so a self-signed
    // leaf (no CA key usage) would not count.
    selfSigned: certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey),
  };
}

/**
 * Checks that a chain is in the order servers must send it: each certificate issued (and signed)
 * by the next, no duplicates. Returns the problems found, in words, naming each certificate by its
 * depth (0 is the first, the leaf), as verifiers and `tlskit connect` number a chain.
 */
export function checkChainOrder(pem: string | Uint8Array): { ok: boolean; problems: string[] } {
  const chain = parseCertificates('checkChainOrder', pem);
  const problems: string[] = [];
  const seen = new Set<string>();
  chain.forEach((certificate, index) => {
    if (seen.has(certificate.fingerprint256))
      problems.push(`the certificate at depth ${index} was sent before`);
    seen.add(certificate.fingerprint256);
    const next = chain[index + 1];
    const name = nameText(certificate.subject);
    if (next && !(certificate.checkIssued(next) && certificate.verify(next.publicKey))) {
      problems.push(
        `the certificate at depth ${index} (${name}) is not issued by the one at depth ${index + 1}`,
      );
    }
    if (next && certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey)) {
      problems.push(`the certificate at depth ${index} (${name}) is a self-signed root but is not last`);
    }
  });
  return { ok: problems.length === 0, problems };
}
