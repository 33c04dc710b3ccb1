/**
 * Key pairs and signature algorithms for the test PKI, on Node's WebCrypto (which @peculiar/x509
 * signs with). `reflect-metadata` must load before @peculiar/x509, so every pki module imports
 * this one first.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { InvalidArgumentError } from '../transport/errors.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;

/** Key types the PKI can mint. `rsa-1024` and `rsa-512` exist only to build weak-key defects. */
export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
/** @internal Includes deliberately weak keys for defects. */
export type AnyKeyType = KeyType | 'rsa-1024' | 'rsa-512';

export const KEY_TYPES: readonly KeyType[] = [
  'ecdsa-p256',
  'ecdsa-p384',
  'ed25519',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
];

/**
 * Hash for signatures; `SHA-1` and `MD5` exist only for weak-signature defects. WebCrypto has no
 * MD5, so `mint` signs an MD5 certificate itself (RSA only).
 */
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-1' | 'MD5';

function generationAlgorithm(
  type: AnyKeyType,
): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | Algorithm {
  switch (type) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ecdsa-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'ed25519':
      return { name: 'Ed25519' };
    default: {
      const bits = Number(type.slice(4));
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: bits,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
    }
  }
}

/** Checks a key type option, naming the allowed values. */
export function checkKeyType(where: string, value: unknown, fallback: KeyType): AnyKeyType {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value)) return value as KeyType;
  throw new InvalidArgumentError(
    `${where}: \`keyType\` must be one of ${KEY_TYPES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/** A fresh key pair of `type`. */
export async function generateKeys(type: AnyKeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(generationAlgorithm(type) as webcrypto.EcKeyGenParams, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
}

/** A key pair of `type` from a PKCS#8 PEM private key (its public half derived from it). */
export async function keysFromPem(pem: string, type: AnyKeyType): Promise<CryptoKeyPair> {
  const algorithm = generationAlgorithm(type) as webcrypto.RsaHashedImportParams;
  const privateKey = createPrivateKey(pem);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const [publicKey, privateCryptoKey] = await Promise.all([
    webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']),
    webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']),
  ]);
  return { publicKey, privateKey: privateCryptoKey };
}

/** The algorithm a key of `type` signs with, using `hash` where the algorithm takes one. */
export function signingAlgorithm(
  type: AnyKeyType,
  hash: HashName = type === 'ecdsa-p384' ? 'SHA-384' : 'SHA-256',
): Algorithm {
  if (type === 'ed25519') return { name: 'Ed25519' };
  if (type.startsWith('ecdsa')) return { name: 'ECDSA', hash } as webcrypto.EcdsaParams;
  return { name: 'RSASSA-PKCS1-v1_5', hash } as webcrypto.RsaHashedImportParams;
}

/** DER as PEM with `label` (`CERTIFICATE`, `PRIVATE KEY`, ...): 64-column base64, newline-terminated. */
export function pemEncode(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** A private key as PKCS#8 PEM, newline-terminated. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pemEncode('PRIVATE KEY', new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key)));
}

/**
 * A certificate or CRL as PEM, newline-terminated (@peculiar/x509 leaves the newline off and labels
 * CRLs 'CRL', where OpenSSL and Node expect 'X509 CRL').
 */
export function certificatePem(certificate: x509.X509Certificate | x509.X509Crl): string {
  const pem = certificate.toString('pem').replace(/-----(BEGIN|END) CRL-----/g, '-----$1 X509 CRL-----');
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/**
 * The signing key to use for `hash`. WebCrypto binds an RSA key to the hash it was made with, so a
 * different hash (SHA-1 for the weak-signature defect) needs the key imported again.
 */
export async function keyForHash(
  key: CryptoKey,
  type: AnyKeyType,
  hash: HashName | undefined,
): Promise<CryptoKey> {
  if (!hash || hash === 'MD5' || !type.startsWith('rsa')) return key;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash }, false, ['sign']);
}

/** A random positive serial number: 16 bytes of hex, top bit clear. */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

export type { Algorithm, CryptoKey, CryptoKeyPair };
export { x509 };
