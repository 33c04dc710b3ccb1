/**
 * Weak server settings: DH groups and probes of what this node:tls can serve. The well-known MODP
 * groups (RFC 2409 group 2, 1024 bits; RFC 3526 group 14, 2048 bits) come from node:crypto, so no
 * prime is generated at start-up; a DHE case is about the group's size, not its freshness.
 */
import { generatePrimeSync, getDiffieHellman } from 'node:crypto';
import tls from 'node:tls';
import { pemEncode } from '../../pki/keys.js';
import type { ServerTls } from './types.js';

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes = Buffer.from(length.toString(16).padStart(length > 0xff ? 4 : 2, '0'), 'hex');
  return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
}

function derInteger(value: Buffer): Buffer {
  const body = value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value;
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

/** PKCS#3 DHParameter { prime, generator 2 } as PEM, the form node:tls reads as `dhparam`. */
export function dhParamsPem(prime: Buffer): string {
  const body = Buffer.concat([derInteger(prime), derInteger(Buffer.from([2]))]);
  const der = Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  return pemEncode('DH PARAMETERS', der);
}

/** A well-known MODP group by size. */
export function modpGroup(bits: 1024 | 2048): string {
  return dhParamsPem(getDiffieHellman(bits === 1024 ? 'modp2' : 'modp14').getPrime());
}

/**
 * Why node:tls cannot serve `settings`, or `null` if it can: a context is built and thrown away.
 * Node refuses DH groups under 1024 bits in its C++ layer, and OpenSSL 3 as Node ships it has no RC4
 * or 3DES suites at all, so such cases are reported as unavailable, never faked.
 */
export function cannotServe(settings: ServerTls): string | null {
  try {
    withQuietDhWarning(() =>
      tls.createSecureContext({ ...settings, ciphers: withLevelZero(settings.ciphers) }),
    );
    return null;
  } catch (error) {
    const message = (error as Error).message.replace(/^error:[0-9A-F]+:SSL routines::/, '');
    return `node:tls ${process.version} (OpenSSL ${process.versions.openssl}) refuses it: ${message}`;
  }
}

/** A 512-bit prime for the refusal probe only: whether Node takes a group depends on its size alone. */
export function probePrime512(): Buffer {
  return Buffer.from(generatePrimeSync(512));
}

/** `ciphers` with OpenSSL security level 0 appended, so weak material loads at all. */
export function withLevelZero(ciphers = 'DEFAULT'): string {
  return /@SECLEVEL=\d/.test(ciphers) ? ciphers : `${ciphers}:@SECLEVEL=0`;
}

/**
 * Runs `build` without Node's "DH parameter is less than 2048 bits" process warning: a lab serving
 * a 1024-bit group does it on purpose, and the warning would land in every `badtls` run's output.
 */
export function withQuietDhWarning<T>(build: () => T): T {
  const original = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (!/DH parameter is less than 2048 bits/.test(text))
      (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return build();
  } finally {
    process.emitWarning = original;
  }
}
