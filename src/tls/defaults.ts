import { constants } from 'node:crypto';
import {
  checkOptionNames,
  checkMilliseconds as checkPositiveMilliseconds,
  type OptionError,
  type OptionNames,
} from '../transport/options.js';
import { ContextError } from './errors.js';

/**
 * TLS 1.2 suites tlskit allows: ECDHE key exchange with AEAD ciphers only. No CBC (LUCKY13), no
 * static RSA (no forward secrecy), no 3DES, no DHE (slow, often weak parameters).
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** TLS 1.3 suites (all AEAD). */
export const TLS13_CIPHERSUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/**
 * The cipher string given to OpenSSL. Security level 2 also rejects RSA keys under 2048 bits and
 * SHA-1 certificate signatures, in our own configuration and in the peer's chain.
 */
export const CIPHERS = [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS, '@SECLEVEL=2'].join(':');

/** Key-exchange groups, in order of preference. */
export const GROUPS = 'X25519:P-256:P-384';

/**
 * OpenSSL options: refuse renegotiation (client-initiated renegotiation is a denial-of-service lever
 * and TLS 1.3 removed renegotiation), never compress (CRIME).
 */
export const SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION;

/** The server also picks the suite by its own preference order. */
export const SERVER_SECURE_OPTIONS = SECURE_OPTIONS | constants.SSL_OP_CIPHER_SERVER_PREFERENCE;

/** Default handshake deadline, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Checks a version option; TLS 1.0 and 1.1 (and SSL) are refused with the fix in the message. */
export function checkVersion(where: string, field: string, value: unknown, fallback: TlsVersion): TlsVersion {
  if (value === undefined) return fallback;
  if (value === 'TLSv1.2' || value === 'TLSv1.3') return value;
  if (value === 'TLSv1' || value === 'TLSv1.1' || value === 'SSLv3') {
    throw new ContextError(
      'ERR_CONTEXT_VERSION',
      field,
      `${where}: \`${field}\` '${value}' is not allowed; tlskit speaks TLS 1.2 and 1.3 only. ` +
        "Use 'TLSv1.2' (the default minimum) or 'TLSv1.3'",
    );
  }
  throw new ContextError(
    'ERR_CONTEXT_VERSION',
    field,
    `${where}: \`${field}\` must be 'TLSv1.2' or 'TLSv1.3', got ${JSON.stringify(value)}`,
  );
}

/** Checks `minVersion` and `maxVersion` together: defaults TLS 1.2 to 1.3, never inverted. */
export function checkVersions(
  where: string,
  options: { minVersion?: unknown; maxVersion?: unknown },
): { minVersion: TlsVersion; maxVersion: TlsVersion } {
  const minVersion = checkVersion(where, 'minVersion', options.minVersion, 'TLSv1.2');
  const maxVersion = checkVersion(where, 'maxVersion', options.maxVersion, 'TLSv1.3');
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') {
    throw new ContextError(
      'ERR_CONTEXT_VERSION',
      'minVersion',
      `${where}: \`minVersion\` 'TLSv1.3' is above \`maxVersion\` 'TLSv1.2', so no version is left; ` +
        'lower minVersion or raise maxVersion',
    );
  }
  return { minVersion, maxVersion };
}

/** A refused context option: a ContextError with the field, ERR_CONTEXT_OPTION. */
export const contextOption: OptionError = (field, message) =>
  new ContextError('ERR_CONTEXT_OPTION', field, message);

/** Checks an optional positive number of milliseconds, as a context option. */
export function checkMilliseconds(where: string, field: string, value: unknown): number | undefined {
  return checkPositiveMilliseconds(where, field, value, contextOption);
}

/** Checks an ALPN list: non-empty strings of at most 255 bytes. */
export function checkAlpn(where: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    throw new ContextError(
      'ERR_CONTEXT_OPTION',
      'alpn',
      `${where}: \`alpn\` must be a non-empty array of protocol names`,
    );
  }
  for (const name of value) {
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > 255) {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'alpn',
        `${where}: \`alpn\` entries must be names of 1 to 255 bytes, such as 'h2' or 'http/1.1', got ${JSON.stringify(name)}`,
      );
    }
  }
  return [...value];
}

/**
 * An ALPN list in wire format (each name prefixed by its length), as node:tls takes it: built once
 * per context instead of once per connection.
 */
export function alpnWire(names: readonly string[] | undefined): Buffer | undefined {
  if (names === undefined) return undefined;
  return Buffer.concat(
    names.map((name) => Buffer.concat([Buffer.of(Buffer.byteLength(name)), Buffer.from(name)])),
  );
}

/** Rejects options this context does not know, saying where they belong (see option-names.ts). */
export function checkKnownOptions(where: string, options: object, names: OptionNames): void {
  checkOptionNames(where, options, names, contextOption);
}
