/**
 * Files for `tlskit cert`: reading inputs with errors that name the file, writing outputs only
 * once everything they hold is ready, and the development certificates of `cert dev`.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CA, type CertificateReport, createCA, inspectAll, loadCA } from '../pki/index.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { UsageError } from './usage-error.js';

export { UsageError };

/** All of standard input, as text (for `-` in place of a file name). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} '${path}'`, { help: false });
  }
}

export function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new UsageError(`cannot read ${what} '${path}'`, { help: false });
  }
}

/** Writes one file; a key (`secret`) is readable by its owner only. */
export function writeFile(path: string, content: string | Uint8Array, secret: boolean): void {
  explainWriteError(path, () => {
    writeFileSync(path, content, { mode: secret ? 0o600 : 0o644 });
    // The mode applies only to a new file: a key written over an older, readable file is fixed here.
    if (secret) chmodSync(path, 0o600);
  });
}

const WRITE_FIXES: Record<string, string> = {
  ENOENT: 'its directory does not exist; create it first or choose another path',
  ENOTDIR: 'a part of the path is a file, not a directory; choose another path',
  EISDIR: 'it is a directory; name a file in it',
  EACCES: 'permission denied; choose a path you can write to',
  EPERM: 'permission denied; choose a path you can write to',
  EROFS: 'the file system is read-only; choose another path',
  ENOSPC: 'the disk is full',
};

/** Runs `write`, turning a file system error into a UsageError that names the path and the fix. */
function explainWriteError(path: string, write: () => void): void {
  try {
    write();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const fix = WRITE_FIXES[code];
    if (fix === undefined) throw error;
    throw new UsageError(`cannot write '${path}' (${code}): ${fix}`, { help: false });
  }
}

/**
 * Writes `files` into `dir`, creating it only now: a command that fails before
 * this point leaves no empty directory behind.
 */
export function writeFiles(
  dir: string,
  files: Array<{ name: string; content: string | Uint8Array; secret: boolean }>,
) {
  explainWriteError(dir, () => mkdirSync(dir, { recursive: true }));
  for (const { name, content, secret } of files) writeFile(join(dir, name), content, secret);
}

/**
 * Runs `fn`, rewording its InvalidArgumentError for the command line: the API's argument names
 * (`` `certPem` ``, 'the PEM text') become what the user gave (a file name), and the API function's
 * name goes, since the user ran a command, not a function.
 */
export async function aboutFiles<T>(names: Record<string, string>, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    let message = error.message.replace(/^\w+: /, '');
    for (const [name, replacement] of Object.entries(names)) message = message.replaceAll(name, replacement);
    throw new InvalidArgumentError(message);
  }
}

/**
 * The CA files in `dir`: `ca.pem`/`ca-key.pem` as `cert ca` writes them, else
 * `dev-ca.pem`/`dev-ca-key.pem` as `cert dev` writes them (so `--ca certs` works after `cert dev`).
 * `ca.pem` wins when both are there, since `cert ca` is the explicit choice.
 */
function caFiles(dir: string): { cert: string; key: string } {
  for (const base of ['ca', 'dev-ca']) {
    const cert = join(dir, `${base}.pem`);
    if (existsSync(cert)) return { cert, key: join(dir, `${base}-key.pem`) };
  }
  throw new UsageError(
    `no CA in '${dir}': expected ca.pem and ca-key.pem, or dev-ca.pem and dev-ca-key.pem ('tlskit cert ca' or 'tlskit cert dev' writes them)`,
    { help: false },
  );
}

/** Loads the CA saved in `dir`; says which certificate file it used. */
export async function loadCaDir(dir: string): Promise<{ ca: CA; file: string }> {
  const files = caFiles(dir);
  const certPem = readText(files.cert, 'the CA certificate');
  const keyPem = readText(files.key, 'the CA key');
  const ca = await aboutFiles({ '`certPem`': `'${files.cert}'`, '`keyPem`': `'${files.key}'` }, () =>
    loadCA({ certPem, keyPem }),
  );
  return { ca, file: files.cert };
}

/** The PKCS#12 password from `--password-env NAME` or `--password-file FILE`. */
export function password(values: { 'password-env'?: string; 'password-file'?: string }): string {
  if (values['password-env']) {
    const value = process.env[values['password-env']];
    if (!value) {
      throw new UsageError(`the environment variable ${values['password-env']} is empty or unset`, {
        help: false,
      });
    }
    return value;
  }
  if (values['password-file'])
    return readText(values['password-file'], 'the password file').replace(/\r?\n$/, '');
  throw new UsageError('PKCS#12 needs a password: pass --password-env NAME or --password-file FILE');
}

/** A certificate report as text for people. */
export function describe(report: CertificateReport, index: number): string {
  const names = [
    ...report.subjectAltNames.dns,
    ...report.subjectAltNames.ip,
    ...report.subjectAltNames.email,
  ];
  const now = Date.now();
  const status =
    now < report.notBefore.getTime()
      ? 'NOT YET VALID'
      : now > report.notAfter.getTime()
        ? 'EXPIRED'
        : 'valid';
  const key = report.key.curve
    ? `${report.key.type.toUpperCase()} ${report.key.curve}`
    : `${report.key.type.toUpperCase()} ${report.key.bits} bits`;
  return [
    `Certificate ${index + 1}`,
    `  Subject:        ${report.subject || '(empty: the names are in subjectAltName)'}`,
    `  Issuer:         ${report.issuer}${report.selfSigned ? ' (self-signed)' : ''}`,
    `  Names:          ${names.length ? names.join(', ') : '(none)'}`,
    `  Valid:          ${report.notBefore.toISOString()} to ${report.notAfter.toISOString()} (${status})`,
    `  Key:            ${key}`,
    `  Signature:      ${report.signatureAlgorithm}`,
    `  CA:             ${report.isCA ? `yes${report.pathLength === null ? '' : `, path length ${report.pathLength}`}` : 'no'}`,
    `  Key usage:      ${report.keyUsage.join(', ') || '(none)'}`,
    `  Extended usage: ${report.extendedKeyUsage.join(', ') || '(none)'}`,
    `  Serial:         ${report.serialNumber}`,
    `  SHA-256:        ${report.fingerprintSha256}`,
    `  SPKI pin:       ${report.spkiPin}`,
  ].join('\n');
}

/** Writes the development CA and localhost certificate, unless valid ones are already there. */
export async function devCertificates(
  dir: string,
  force: boolean,
  log: (line: string) => void,
): Promise<void> {
  const names = {
    ca: 'dev-ca.pem',
    caKey: 'dev-ca-key.pem',
    cert: 'localhost.pem',
    key: 'localhost-key.pem',
  };
  const cert = join(dir, names.cert);
  if (!force && Object.values(names).every((name) => existsSync(join(dir, name)))) {
    const [leaf] = await aboutFiles({ 'the PEM text': `'${cert}'` }, () =>
      inspectAll(readText(cert, 'the development certificate')),
    ).catch((error: unknown) => {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new UsageError(`${error.message}; pass --force to replace the development certificates`, {
        help: false,
      });
    });
    const mismatch = devSetMismatch(dir, names);
    if (mismatch) {
      throw new UsageError(
        `the development certificates in ${dir} do not fit together: ${mismatch}; pass --force to replace them all`,
        { help: false },
      );
    }
    if (leaf && leaf.notAfter.getTime() > Date.now() + 7 * 86_400_000) {
      log(
        `tlskit: development certificates in ${dir} are valid until ${leaf.notAfter.toISOString().slice(0, 10)}; kept (use --force to replace)`,
      );
      log(trustInstructions(join(dir, names.ca), join(dir, names.caKey)));
      return;
    }
  }
  const ca = await createCA({ subject: { commonName: 'tlskit development CA', organization: 'tlskit dev' } });
  const leaf = await ca.issue({
    hosts: ['localhost', '127.0.0.1', '::1'],
    usage: 'server',
    validity: { days: 825 },
  });
  writeFiles(dir, [
    { name: names.ca, content: ca.certPem, secret: false },
    { name: names.caKey, content: ca.keyPem, secret: true },
    { name: names.cert, content: leaf.chainPem, secret: false },
    { name: names.key, content: leaf.keyPem, secret: true },
  ]);
  log(`tlskit: wrote ${join(dir, names.ca)}, ${cert} and their keys`);
  log(trustInstructions(join(dir, names.ca), join(dir, names.caKey)));
}

/**
 * What is wrong with a development set whose files all read (a key or the CA replaced by hand, or
 * by another tool): `null` when each key belongs to its certificate and the CA signed the leaf.
 */
function devSetMismatch(dir: string, names: Record<'ca' | 'caKey' | 'cert' | 'key', string>): string | null {
  const read = (name: string) => readText(join(dir, name), name);
  let ca: X509Certificate;
  let leaf: X509Certificate;
  try {
    ca = new X509Certificate(read(names.ca));
    leaf = new X509Certificate(read(names.cert));
  } catch {
    return `${names.ca} or ${names.cert} is not a readable certificate`;
  }
  const keyOf = (name: string, certificate: X509Certificate): string | null => {
    try {
      return certificate.checkPrivateKey(createPrivateKey(read(name))) ? null : `${name} is not the key of `;
    } catch {
      return `${name} is not a readable private key for `;
    }
  };
  const leafKey = keyOf(names.key, leaf);
  if (leafKey) return `${leafKey}${names.cert}`;
  const caKey = keyOf(names.caKey, ca);
  if (caKey) return `${caKey}${names.ca}`;
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey))
    return `${names.cert} was not issued by ${names.ca}`;
  return null;
}

/** How to make common clients trust the development CA, with the real path filled in. */
export function trustInstructions(caFile: string, caKeyFile: string): string {
  return [
    'To trust the development CA:',
    `  curl      curl --cacert ${caFile} https://localhost:8443/`,
    `  openssl   openssl s_client -connect localhost:8443 -CAfile ${caFile}`,
    `  Node      NODE_EXTRA_CA_CERTS=${caFile} node app.js, or clientContext({ trust: readFileSync('${caFile}') })`,
    `  browsers and the system store: import ${caFile} as a trusted authority, and remove it when done;`,
    `            whoever holds ${caKeyFile} can then mint certificates your machine trusts.`,
  ].join('\n');
}
