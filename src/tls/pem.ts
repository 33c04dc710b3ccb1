import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { ContextError } from './errors.js';

/** PEM text, as a string or the bytes of a file. */
export type PemInput = string | Uint8Array;

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const CRL_BLOCK = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/;

/** Formats a certificate's subject as `CN=example.com, O=Example`. */
export function subjectOf(certificate: X509Certificate): string {
  return certificate.subject.split('\n').filter(Boolean).join(', ');
}

function asText(where: string, field: string, input: unknown): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return Buffer.from(input).toString('latin1');
  throw new ContextError(
    'ERR_CONTEXT_PEM',
    field,
    `${where}: \`${field}\` must be PEM text (a string or a Buffer), got ${input === null ? 'null' : typeof input}`,
  );
}

function preview(text: string): string {
  const start = text.trim().slice(0, 24).replace(/\s+/g, ' ');
  const hint = /^[./~]|\.pem$|\.crt$|\.key$/.test(text.trim())
    ? '; it looks like a file path: pass the file contents (fs.readFileSync(path))'
    : '';
  return `got ${text.length} characters starting with '${start}'${hint}`;
}

/** Parses every certificate in PEM text, leaf first, or throws naming the field. */
export function readCertificates(where: string, field: string, input: unknown): X509Certificate[] {
  const text = asText(where, field, input);
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new ContextError(
      'ERR_CONTEXT_PEM',
      field,
      `${where}: \`${field}\` holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----'); ${preview(text)}`,
    );
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ContextError(
        'ERR_CONTEXT_PEM',
        field,
        `${where}: certificate ${index + 1} in \`${field}\` is not valid PEM/DER (${(error as Error).message})`,
        { cause: error },
      );
    }
  });
}

/** Checks that PEM text holds at least one CRL and returns each CRL as its own PEM block. */
export function readCrls(where: string, field: string, input: unknown): string[] {
  const text = asText(where, field, input);
  // One entry per CRL: Node reads only the first block of a string that holds several.
  const blocks = text.match(new RegExp(CRL_BLOCK.source, 'g'));
  if (!blocks) {
    throw new ContextError(
      'ERR_CONTEXT_PEM',
      field,
      `${where}: \`${field}\` holds no PEM CRL (expected '-----BEGIN X509 CRL-----'); ${preview(text)}`,
    );
  }
  return blocks;
}

/** The DER bytes of every CRL in PEM text. */
export function crlDer(text: string): Uint8Array[] {
  const blocks = text.match(new RegExp(CRL_BLOCK.source, 'g')) ?? [];
  return blocks.map((block) =>
    Buffer.from(block.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, ''), 'base64'),
  );
}

/** Parses a private key (PEM, optionally encrypted with `passphrase`), or throws naming the field. */
export function readPrivateKey(where: string, field: string, input: unknown, passphrase?: string): KeyObject {
  const text = asText(where, field, input);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new ContextError(
      'ERR_CONTEXT_PEM',
      field,
      `${where}: \`${field}\` holds no PEM private key (expected '-----BEGIN PRIVATE KEY-----'); ${preview(text)}`,
    );
  }
  try {
    return createPrivateKey({ key: text, passphrase });
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(text);
    const fix = encrypted
      ? passphrase === undefined
        ? ': the key is encrypted; pass its `passphrase`'
        : ': the key is encrypted and `passphrase` does not open it'
      : `: ${(error as Error).message}`;
    throw new ContextError('ERR_CONTEXT_PEM', field, `${where}: \`${field}\` cannot be read${fix}`, {
      cause: error,
    });
  }
}

/** Throws unless `key` is the private key of the first certificate in `chain`. */
export function checkKeyMatches(where: string, chain: X509Certificate[], key: KeyObject): void {
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) {
    throw new ContextError(
      'ERR_CONTEXT_KEY_MISMATCH',
      'key',
      `${where}: \`key\` does not match \`cert\` (certificate subject ${subjectOf(leaf)}); ` +
        'pass the private key that was issued with this certificate',
    );
  }
}

/** Warns once per certificate when a certificate we will present is outside its validity window. */
export function warnIfNotCurrent(where: string, field: string, certificate: X509Certificate): void {
  const now = Date.now();
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  if (now > to) {
    process.emitWarning(
      `${where}: \`${field}\` expired on ${new Date(to).toISOString()} (subject ${subjectOf(certificate)}); ` +
        'peers will reject it. Issue a fresh certificate.',
      { code: 'TLSKIT_CERT_EXPIRED' },
    );
  } else if (now < from) {
    process.emitWarning(
      `${where}: \`${field}\` is not valid before ${new Date(from).toISOString()} (subject ${subjectOf(certificate)}); ` +
        'peers will reject it until then. Check the clock or the certificate.',
      { code: 'TLSKIT_CERT_NOT_YET_VALID' },
    );
  }
}

/** Normalises a PEM input or list of them to a list. */
export function pemList(input: PemInput | PemInput[]): PemInput[] {
  return Array.isArray(input) ? input : [input];
}

/** PEM input as text, for Node's context options. */
export function pemString(input: PemInput): string {
  return typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
}

/**
 * Checks a `trust` option (PEM, or a list of PEM inputs) and returns each certificate re-encoded:
 * chains glued without a newline between blocks are a classic way to make OpenSSL fail.
 */
export function readTrust(where: string, trust: PemInput | PemInput[]): string[] {
  return pemList(trust).flatMap((pem, index) =>
    readCertificates(where, Array.isArray(trust) ? `trust[${index}]` : 'trust', pem).map((certificate) =>
      certificate.toString(),
    ),
  );
}

/** Checks a certificate chain and its key, and returns them ready for Node. */
export function readCredentials(
  where: string,
  cert: PemInput,
  key: PemInput,
  passphrase: string | undefined,
): { cert: string; key: string; chain: X509Certificate[] } {
  const chain = readCertificates(where, 'cert', cert);
  const privateKey = readPrivateKey(where, 'key', key, passphrase);
  checkKeyMatches(where, chain, privateKey);
  return { cert: chain.map((certificate) => certificate.toString()).join(''), key: pemString(key), chain };
}
