import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type CA,
  type CertificateReport,
  checkChainOrder,
  createCA,
  exportPkcs12,
  importPkcs12,
  inspectAll,
  KEY_TYPES,
  type KeyType,
  loadCA,
} from '../pki/index.js';
import { InvalidArgumentError } from '../transport/errors.js';

export const CERT_HELP = `Usage: tlskit cert <command> [options]

Commands:
  ca --out DIR                 Create a root CA: DIR/ca.pem and DIR/ca-key.pem.
  issue HOST... --ca DIR --out DIR
                               Issue a certificate for HOSTs (DNS names, *.wildcards, IP
                               addresses, emails) under the CA in DIR (ca.pem, or dev-ca.pem
                               from 'cert dev'): OUT/<host>.pem (chain) and OUT/<host>-key.pem.
  inspect FILE                 Describe every certificate in a PEM file (--json for JSON).
  p12 export --cert FILE --key FILE --out FILE
  p12 import FILE --out DIR    Write or read a password-protected PKCS#12 bundle. The password
                               comes from --password-env NAME or --password-file FILE.
  dev [--out DIR]              Create a development CA and a certificate for localhost,
                               127.0.0.1 and ::1 in certs/ (kept if present and valid; --force
                               replaces them).

Options:
  --key-type TYPE              ${KEY_TYPES.join(', ')} (default ecdsa-p256)
  --days N                     Validity in days
  --name NAME                  Subject common name
  --usage server|client|both   Extended key usage of an issued certificate (default both)
  --path-length N              Path length constraint of a CA
`;

/** A command-line mistake: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

function keyTypeOption(value: string | undefined): KeyType | undefined {
  if (value === undefined) return undefined;
  if (!(KEY_TYPES as readonly string[]).includes(value)) {
    throw new UsageError(`--key-type must be one of ${KEY_TYPES.join(', ')}, got '${value}'`);
  }
  return value as KeyType;
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0)
    throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return number;
}

function writeFile(path: string, content: string | Uint8Array, secret: boolean): void {
  writeFileSync(path, content, { mode: secret ? 0o600 : 0o644 });
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} '${path}'`);
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
  );
}

/**
 * Runs `fn`, rewording its InvalidArgumentError for the command line: the API's argument names
 * (`certPem`, 'the PEM text') become the files they were read from, and the API function's name
 * goes, since the user ran a command, not a function.
 */
async function aboutFiles<T>(files: Record<string, string>, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    let message = error.message.replace(/^\w+: /, '');
    for (const [name, file] of Object.entries(files)) message = message.replaceAll(name, `'${file}'`);
    throw new InvalidArgumentError(message);
  }
}

async function loadCaDir(dir: string): Promise<CA> {
  const files = caFiles(dir);
  const certPem = readText(files.cert, 'the CA certificate');
  const keyPem = readText(files.key, 'the CA key');
  return aboutFiles({ '`certPem`': files.cert, '`keyPem`': files.key }, () => loadCA({ certPem, keyPem }));
}

function password(values: { 'password-env'?: string; 'password-file'?: string }): string {
  if (values['password-env']) {
    const value = process.env[values['password-env']];
    if (!value) throw new UsageError(`the environment variable ${values['password-env']} is empty or unset`);
    return value;
  }
  if (values['password-file'])
    return readText(values['password-file'], 'the password file').replace(/\r?\n$/, '');
  throw new UsageError('PKCS#12 needs a password: pass --password-env NAME or --password-file FILE');
}

function describe(report: CertificateReport, index: number): string {
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
  mkdirSync(dir, { recursive: true });
  const paths = {
    ca: join(dir, 'dev-ca.pem'),
    caKey: join(dir, 'dev-ca-key.pem'),
    cert: join(dir, 'localhost.pem'),
    key: join(dir, 'localhost-key.pem'),
  };
  if (!force && Object.values(paths).every((path) => existsSync(path))) {
    const [leaf] = inspectAll(readFileSync(paths.cert));
    if (leaf && leaf.notAfter.getTime() > Date.now() + 7 * 86_400_000) {
      log(
        `tlskit: development certificates in ${dir} are valid until ${leaf.notAfter.toISOString().slice(0, 10)}; kept (use --force to replace)`,
      );
      return;
    }
  }
  const ca = await createCA({ subject: { commonName: 'tlskit development CA', organization: 'tlskit dev' } });
  const leaf = await ca.issue({
    hosts: ['localhost', '127.0.0.1', '::1'],
    usage: 'server',
    validity: { days: 825 },
  });
  writeFile(paths.ca, ca.certPem, false);
  writeFile(paths.caKey, ca.keyPem, true);
  writeFile(paths.cert, leaf.chainPem, false);
  writeFile(paths.key, leaf.keyPem, true);
  log(
    `tlskit: wrote ${paths.ca}, ${paths.cert} and their keys (see ${join(dir, 'README.md')} to trust the CA)`,
  );
}

/** Runs `tlskit cert ...`; returns the exit code. */
export async function certCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'key-type': { type: 'string' },
      days: { type: 'string' },
      name: { type: 'string' },
      usage: { type: 'string' },
      'path-length': { type: 'string' },
      'password-env': { type: 'string' },
      'password-file': { type: 'string' },
      json: { type: 'boolean' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    out(CERT_HELP);
    return 0;
  }
  const days = positiveInteger('days', values.days);
  const validity = days === undefined ? undefined : { days };
  switch (command) {
    case 'ca': {
      if (!values.out) throw new UsageError('cert ca needs --out DIR');
      mkdirSync(values.out, { recursive: true });
      const ca = await createCA({
        keyType: keyTypeOption(values['key-type']),
        subject: values.name,
        validity,
        pathLength: positiveInteger('path-length', values['path-length']),
      });
      writeFile(join(values.out, 'ca.pem'), ca.certPem, false);
      writeFile(join(values.out, 'ca-key.pem'), ca.keyPem, true);
      out(`wrote ${join(values.out, 'ca.pem')} and ${join(values.out, 'ca-key.pem')}`);
      return 0;
    }
    case 'issue': {
      if (rest.length === 0) throw new UsageError('cert issue needs at least one HOST');
      if (!values.ca || !values.out) throw new UsageError('cert issue needs --ca DIR and --out DIR');
      const usage = values.usage ?? 'both';
      if (usage !== 'server' && usage !== 'client' && usage !== 'both')
        throw new UsageError('--usage must be server, client or both');
      const ca = await loadCaDir(values.ca);
      const leaf = await ca.issue({
        hosts: rest,
        subject: values.name,
        keyType: keyTypeOption(values['key-type']),
        usage,
        validity,
      });
      mkdirSync(values.out, { recursive: true });
      const base = rest[0]!.replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9.@_-]/g, '_');
      writeFile(join(values.out, `${base}.pem`), leaf.chainPem, false);
      writeFile(join(values.out, `${base}-key.pem`), leaf.keyPem, true);
      out(`wrote ${join(values.out, `${base}.pem`)} and ${join(values.out, `${base}-key.pem`)}`);
      return 0;
    }
    case 'inspect': {
      const file = rest[0];
      if (!file) throw new UsageError('cert inspect needs a FILE');
      const pem = readText(file, 'the certificate file');
      const reports = await aboutFiles({ 'the PEM text': file }, () => inspectAll(pem));
      if (values.json) {
        out(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
        return 0;
      }
      out(reports.map(describe).join('\n\n'));
      if (reports.length > 1) {
        const order = await aboutFiles({ 'the PEM text': file }, () => checkChainOrder(pem));
        out(
          order.ok
            ? '\nChain order: ok'
            : `\nChain order problems:\n${order.problems.map((p) => `  - ${p}`).join('\n')}`,
        );
      }
      return 0;
    }
    case 'p12': {
      const [direction, file] = rest;
      if (direction === 'export') {
        if (!values.cert || !values.key || !values.out)
          throw new UsageError('cert p12 export needs --cert FILE --key FILE --out FILE');
        const certPem = readText(values.cert, 'the certificate file');
        const keyPem = readText(values.key, 'the key file');
        const secret = password(values);
        const bundle = await aboutFiles({ '`certPem`': values.cert, '`keyPem`': values.key }, () =>
          exportPkcs12({ certPem, keyPem, password: secret }),
        );
        writeFile(values.out, bundle, true);
        out(`wrote ${values.out}`);
        return 0;
      }
      if (direction === 'import') {
        if (!file || !values.out) throw new UsageError('cert p12 import needs FILE and --out DIR');
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch {
          throw new UsageError(`cannot read the bundle '${file}'`);
        }
        const secret = password(values);
        const contents = await aboutFiles({ 'the bundle': `the bundle '${file}'` }, () =>
          importPkcs12(bytes, secret),
        );
        mkdirSync(values.out, { recursive: true });
        writeFile(join(values.out, 'cert.pem'), contents.chainPem, false);
        writeFile(join(values.out, 'key.pem'), contents.keyPem, true);
        out(`wrote ${join(values.out, 'cert.pem')} and ${join(values.out, 'key.pem')}`);
        return 0;
      }
      throw new UsageError("cert p12 needs 'export' or 'import'");
    }
    case 'dev': {
      await devCertificates(resolve(values.out ?? 'certs'), values.force === true, out);
      return 0;
    }
    default:
      throw new UsageError(`unknown cert command '${command}'. Run 'tlskit cert --help'.`);
  }
}
