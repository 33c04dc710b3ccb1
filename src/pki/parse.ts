/**
 * Reading certificates someone handed in. Node and @peculiar/x509 throw their own errors on damaged
 * input (`error:0680009B:asn1 encoding routines::too long`), which name neither the argument nor
 * what to do; these wrappers say which certificate is damaged instead.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '../transport/errors.js';
import { x509 } from './keys.js';

const DAMAGED = 'is not a readable X.509 certificate (damaged base64 or DER, or not a certificate)';
const FIX = 'check that it was copied whole and unmodified';

/** `new X509Certificate(input)`, or an InvalidArgumentError naming `what` (e.g. "`certPem`"). */
export function readCertificate(where: string, what: string, input: string | Uint8Array): X509Certificate {
  try {
    return new X509Certificate(input);
  } catch {
    throw new InvalidArgumentError(`${where}: ${what} ${DAMAGED}; ${FIX}`);
  }
}

/**
 * The same certificate parsed by @peculiar/x509, which is stricter than OpenSSL about some
 * encodings; a certificate OpenSSL reads but it cannot gets the same kind of error.
 */
export function readPeculiar(where: string, what: string, raw: Uint8Array): x509.X509Certificate {
  try {
    return new x509.X509Certificate(raw);
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: ${what} cannot be parsed for inspection (${(error as Error).message}); ${FIX}`,
    );
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificate blocks in `pem`, or an error naming `what` when there are none. */
export function pemBlocks(where: string, what: string, pem: unknown): string[] {
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      `${where}: pass PEM text as a string or bytes, got ${pem === null ? 'null' : typeof pem}`,
    );
  }
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1');
  const blocks = text.match(PEM_BLOCK);
  if (!blocks) {
    throw new InvalidArgumentError(
      `${where}: no PEM certificate found in ${what} (expected '-----BEGIN CERTIFICATE-----')`,
    );
  }
  return blocks;
}

/** Every certificate in PEM text, in order, each damaged one named by its position. */
export function readCertificates(where: string, what: string, pem: unknown): X509Certificate[] {
  const blocks = pemBlocks(where, what, pem);
  return blocks.map((block, index) =>
    readCertificate(where, `certificate ${index + 1} of ${blocks.length} in ${what}`, block),
  );
}

/** `createPrivateKey(pem)`, or an InvalidArgumentError naming `what` and the likely cause. */
export function readPrivateKey(where: string, what: string, pem: unknown): KeyObject {
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      `${where}: ${what} must be PEM text, got ${pem === null ? 'null' : typeof pem}`,
    );
  }
  try {
    return createPrivateKey(typeof pem === 'string' ? pem : Buffer.from(pem));
  } catch {
    const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1');
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
      throw new InvalidArgumentError(
        `${where}: ${what} is encrypted; give it unencrypted (e.g. 'openssl pkey -in KEY -out PLAIN')`,
      );
    }
    throw new InvalidArgumentError(
      `${where}: ${what} is not a readable private key (damaged PEM, or not a key); ${FIX}`,
    );
  }
}
