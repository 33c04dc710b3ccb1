/**
 * A server's certificates: reading and checking what `serverContext` and `reload` are given (PEM
 * chains with keys, PKCS#12 bundles, the `sni` map, session ticket keys), with errors that name
 * the field and the fix.
 */
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { ContextError } from './errors.js';
import { type PemInput, warnIfNotCurrent } from './pem.js';

/** A certificate chain with its key, in PEM; or a PKCS#12 bundle with its password. */
export type ServerCredentials =
  | { cert: PemInput; key: PemInput; passphrase?: string }
  | { pfx: Uint8Array; passphrase: string };

/**
 * The certificate inside a PKCS#12 bundle is only known once OpenSSL opened it: ask the context
 * for it (an undocumented accessor; without it the check is skipped, never failed).
 */
export function warnIfBundleNotCurrent(where: string, context: tls.SecureContext): void {
  const native = (context as { context?: { getCertificate?: () => Buffer | null } }).context;
  const der = typeof native?.getCertificate === 'function' ? native.getCertificate() : null;
  if (der) warnIfNotCurrent(where, 'pfx', new X509Certificate(der));
}

export function missingCredentials(where: string): ContextError {
  return new ContextError(
    'ERR_CONTEXT_CREDENTIALS',
    'cert',
    `${where}: a server needs a certificate: pass \`cert\` and \`key\` (PEM), or \`pfx\` with its ` +
      '`passphrase`, or `sni`/`resolveSni` for certificates by server name',
  );
}

export function credentialsFrom(options: {
  cert?: PemInput;
  key?: PemInput;
  passphrase?: string;
  pfx?: Uint8Array;
}): ServerCredentials {
  const where = 'serverContext';
  if (options.pfx !== undefined) {
    if (options.cert !== undefined || options.key !== undefined) {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'pfx',
        `${where}: give \`pfx\` or \`cert\` and \`key\`, not both`,
      );
    }
    if (!(options.pfx instanceof Uint8Array)) {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'pfx',
        `${where}: \`pfx\` must be the bytes of a PKCS#12 file`,
      );
    }
    if (typeof options.passphrase !== 'string') {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'passphrase',
        `${where}: \`pfx\` needs its \`passphrase\` (PKCS#12 bundles are password-protected)`,
      );
    }
    return { pfx: options.pfx, passphrase: options.passphrase };
  }
  if (options.cert === undefined || options.key === undefined) {
    const missing = options.cert === undefined ? 'cert' : 'key';
    throw new ContextError(
      'ERR_CONTEXT_OPTION',
      missing,
      `${where}: \`${missing}\` is missing; a server needs both \`cert\` and \`key\``,
    );
  }
  return { cert: options.cert, key: options.key, passphrase: options.passphrase };
}

export function checkSniMap(where: string, sni: unknown): Map<string, ServerCredentials> {
  const map = new Map<string, ServerCredentials>();
  if (sni === undefined) return map;
  if (typeof sni !== 'object' || sni === null) {
    throw new ContextError(
      'ERR_CONTEXT_OPTION',
      'sni',
      `${where}: \`sni\` must map server names to { cert, key }`,
    );
  }
  for (const [name, credentials] of Object.entries(sni)) {
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(name)) {
      throw new ContextError(
        'ERR_CONTEXT_OPTION',
        'sni',
        `${where}: \`sni\` key ${JSON.stringify(name)} is not a DNS name or a '*.' wildcard`,
      );
    }
    map.set(name.toLowerCase(), credentialsFrom(credentials as ServerCredentials));
  }
  return map;
}

export function checkTicketKeys(where: string, keys: unknown): Buffer | undefined {
  if (keys === undefined) return undefined;
  if (!(keys instanceof Uint8Array) || keys.length !== 48) {
    throw new ContextError(
      'ERR_CONTEXT_OPTION',
      'ticketKeys',
      `${where}: \`ticketKeys\` must be 48 bytes (crypto.randomBytes(48)), got ${
        keys instanceof Uint8Array ? `${keys.length} bytes` : typeof keys
      }`,
    );
  }
  return Buffer.from(keys);
}
