/**
 * `tlskit cert`: parses the command line, checks that every option given applies to the
 * subcommand, and runs it. Files are read and written in cert-files.ts.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkChainOrder,
  createCA,
  exportPkcs12,
  importPkcs12,
  inspectAll,
  KEY_TYPES,
  type KeyType,
} from '../pki/index.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { exportDefects } from './cert-defects.js';
import {
  aboutFiles,
  describe,
  devCertificates,
  loadCaDir,
  password,
  readBytes,
  readStdin,
  readText,
  UsageError,
  writeFile,
  writeFiles,
} from './cert-files.js';
import { CERT_HELP, COMMANDS, commandUsage } from './cert-help.js';

export { CERT_HELP, devCertificates, UsageError };

const OPTIONS = {
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
} as const;

/** Which options each subcommand uses (from its help); any other is refused, not ignored. */
const APPLIES: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(COMMANDS).map(([name, help]) => [name, help.options]),
);

function checkApplies(command: string, given: string[]): void {
  const allowed = APPLIES[command];
  if (!allowed) return;
  for (const option of given) {
    if (option === 'help' || allowed.includes(option)) continue;
    const users = Object.keys(APPLIES).filter((name) => APPLIES[name]!.includes(option));
    throw new UsageError(
      `--${option} does not apply to 'cert ${command}'; it is for ${users.map((name) => `'cert ${name}'`).join(', ')}`,
      { usage: commandUsage(command) },
    );
  }
}

/**
 * parseArgs reads `--days -3` as an option followed by another option and reports it as
 * "ambiguous"; joining such a pair into `--days=-3` lets the value reach the check below, which
 * says what is wrong with it.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--') return [...joined, ...argv.slice(i)];
    const option = arg.startsWith('--') ? OPTIONS[arg.slice(2) as keyof typeof OPTIONS] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function keyTypeOption(value: string | undefined): KeyType | undefined {
  if (value === undefined) return undefined;
  if (!(KEY_TYPES as readonly string[]).includes(value)) {
    throw new UsageError(`--key-type must be one of ${KEY_TYPES.join(', ')}, got '${value}'`);
  }
  return value as KeyType;
}

function wholeNumber(name: string, value: string | undefined, min: 0 | 1): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    throw new UsageError(
      min === 1
        ? `--${name} must be a positive whole number of days, got '${value}'`
        : `--${name} must be a whole number, 0 or more, got '${value}'`,
    );
  }
  return number;
}

/** Refuses to write over any of `paths` unless --force was given. */
function refuseExisting(paths: string[], force: boolean): void {
  const existing = paths.find((path) => existsSync(path));
  if (existing && !force)
    throw new UsageError(`'${existing}' already exists; pass --force to replace it`, { help: false });
}

/**
 * Runs `make`, naming --days in a refusal of the validity it set (a period past the issuing CA's,
 * or past the dates a certificate can hold) instead of the library's `validity`.
 */
async function aboutDays<T>(days: string | undefined, make: () => Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (error) {
    if (days === undefined || !(error instanceof InvalidArgumentError) || !/`validity/.test(error.message))
      throw error;
    const message = error.message.replace(/^(createCA|issue): /, '');
    throw new UsageError(`--days ${days}: ${message}`, { help: false });
  }
}

/** The subcommand named in `argv` (the first word that is not an option or an option's value). */
function subcommandOf(argv: readonly string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('-')) words.push(arg);
    else if (!arg.includes('=') && OPTIONS[arg.slice(2) as keyof typeof OPTIONS]?.type === 'string') i++;
  }
  return words[0] === 'p12' && words[1] ? `p12 ${words[1]}` : words[0];
}

/** parseArgs, with its mistakes reworded for people and the subcommand's usage attached. */
function parse(argv: string[]) {
  try {
    return parseArgs({ args: joinNegativeValues(argv), allowPositionals: true, options: OPTIONS });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw error;
    const command = subcommandOf(argv);
    const where = command ? `'tlskit cert ${command}'` : "'tlskit cert'";
    const option = /'(-[^']*)'/.exec((error as Error).message)?.[1];
    const message =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${option ?? ''} for ${where}`
        : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
          ? `option ${option?.split(/[ ,]/)[0] ?? ''} of ${where} needs a value`
          : `${(error as Error).message} (${where})`;
    throw new UsageError(message, { usage: command ? commandUsage(command) : CERT_HELP });
  }
}

/** Runs `tlskit cert ...`; returns the exit code. */
export async function certCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (command === undefined || command === 'help') {
    out(rest[0] && COMMANDS[rest[0]] ? commandUsage(rest[0]) : CERT_HELP);
    return 0;
  }
  const subcommand = command === 'p12' && rest[0] ? `p12 ${rest[0]}` : command;
  if (values.help) {
    out(commandUsage(subcommand));
    return 0;
  }
  checkApplies(subcommand, Object.keys(values));
  try {
    return await runSubcommand(command, rest, values, out);
  } catch (error) {
    // A mistake within a subcommand shows that subcommand's usage, not the whole page.
    if (!(error instanceof UsageError) || !error.help || error.usage || !COMMANDS[subcommand]) throw error;
    throw new UsageError(error.message, { usage: commandUsage(subcommand) });
  }
}

async function runSubcommand(
  command: string,
  rest: string[],
  values: ReturnType<typeof parse>['values'],
  out: (line: string) => void,
): Promise<number> {
  const days = wholeNumber('days', values.days, 1);
  const validity = days === undefined ? undefined : { days };
  switch (command) {
    case 'ca': {
      if (!values.out) throw new UsageError('cert ca needs --out DIR');
      const files = { cert: join(values.out, 'ca.pem'), key: join(values.out, 'ca-key.pem') };
      const existing = [files.key, files.cert].find((file) => existsSync(file));
      if (existing && !values.force) {
        throw new UsageError(
          `'${existing}' already exists: replacing a CA leaves the certificates it issued without their issuer; pass --force to replace it`,
          { help: false },
        );
      }
      const ca = await aboutDays(values.days, () =>
        createCA({
          keyType: keyTypeOption(values['key-type']),
          subject: values.name,
          validity,
          pathLength: wholeNumber('path-length', values['path-length'], 0),
        }),
      );
      writeFiles(values.out, [
        { name: 'ca.pem', content: ca.certPem, secret: false },
        { name: 'ca-key.pem', content: ca.keyPem, secret: true },
      ]);
      out(`wrote ${files.cert} and ${files.key}`);
      return 0;
    }
    case 'issue': {
      if (rest.length === 0) throw new UsageError('cert issue needs at least one HOST');
      if (!values.ca || !values.out) throw new UsageError('cert issue needs --ca DIR and --out DIR');
      const usage = values.usage ?? 'both';
      if (usage !== 'server' && usage !== 'client' && usage !== 'both')
        throw new UsageError(`--usage must be server, client or both, got '${usage}'`, { help: false });
      const keyType = keyTypeOption(values['key-type']);
      const { ca, file } = await loadCaDir(values.ca);
      const leaf = await aboutDays(values.days, () =>
        ca.issue({ hosts: rest, subject: values.name, keyType, usage, validity }),
      );
      const base = rest[0]!.replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9.@_-]/g, '_');
      refuseExisting(
        [`${base}.pem`, `${base}-key.pem`].map((name) => join(values.out!, name)),
        values.force === true,
      );
      writeFiles(values.out, [
        { name: `${base}.pem`, content: leaf.chainPem, secret: false },
        { name: `${base}-key.pem`, content: leaf.keyPem, secret: true },
      ]);
      out(
        `wrote ${join(values.out, `${base}.pem`)} and ${join(values.out, `${base}-key.pem`)} (CA: ${file})`,
      );
      return 0;
    }
    case 'inspect': {
      const file = rest[0];
      if (!file) throw new UsageError('cert inspect needs a FILE (or - for standard input)');
      if (file !== '-' && !existsSync(file) && /^(\[[0-9a-f:.]+\]|[\w.-]+):\d+$/i.test(file)) {
        throw new UsageError(
          `cert inspect reads PEM files; '${file}' looks like a server: read its chain with 'tlskit connect ${file} --ca FILE' (or --system-ca)`,
          { help: false },
        );
      }
      const pem = file === '-' ? await readStdin() : readText(file, 'the certificate file');
      const names = { 'the PEM text': file === '-' ? 'standard input' : `'${file}'` };
      const reports = await aboutFiles(names, () => inspectAll(pem));
      if (values.json) {
        out(JSON.stringify(reports, null, 2)); // always an array, however many certificates
        return 0;
      }
      out(reports.map(describe).join('\n\n'));
      if (reports.length > 1) {
        const order = await aboutFiles(names, () => checkChainOrder(pem));
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
        const names = { '`certPem`': `'${values.cert}'`, '`keyPem`': `'${values.key}'` };
        refuseExisting([values.out], values.force === true);
        const bundle = await aboutFiles(names, () =>
          exportPkcs12({ certPem, keyPem, password: secret, friendlyName: values.name }),
        );
        writeFile(values.out, bundle, true);
        out(`wrote ${values.out}`);
        return 0;
      }
      if (direction === 'import') {
        if (!file || !values.out) throw new UsageError('cert p12 import needs FILE and --out DIR');
        refuseExisting(
          ['cert.pem', 'key.pem'].map((name) => join(values.out!, name)),
          values.force === true,
        );
        const bytes = readBytes(file, 'the bundle');
        const secret = password(values);
        const contents = await aboutFiles({ 'the bundle': `the bundle '${file}'` }, () =>
          importPkcs12(bytes, secret),
        );
        writeFiles(values.out, [
          { name: 'cert.pem', content: contents.chainPem, secret: false },
          { name: 'key.pem', content: contents.keyPem, secret: true },
        ]);
        const named =
          contents.friendlyName === null ? '' : ` (the bundle names the key '${contents.friendlyName}')`;
        out(`wrote ${join(values.out, 'cert.pem')} and ${join(values.out, 'key.pem')}${named}`);
        return 0;
      }
      throw new UsageError("cert p12 needs 'export' or 'import'");
    }
    case 'dev': {
      await devCertificates(resolve(values.out ?? 'certs'), values.force === true, out);
      return 0;
    }
    case 'defects': {
      if (!values.out)
        throw new UsageError('cert defects needs --out DIR', { usage: commandUsage('defects') });
      await exportDefects(resolve(values.out), values.force === true, out);
      return 0;
    }
    default:
      throw new UsageError(`unknown cert command '${command}'. Run 'tlskit cert --help'.`);
  }
}
