/**
 * `tlskit connect`: s_client done right. Parses the command line, runs the tlskit handshake whose
 * verdict is the exit status, gathers the facts around it (probe.ts, scan.ts), prints the report
 * (connect-print.ts or `--json`), and then, for a trusted server only, may carry bytes both ways.
 *
 * Order matters: servers such as `openssl s_server` serve one connection at a time, so each
 * connection is closed before the next starts: the verdict connection (closed gracefully, which
 * also reads the TLS 1.3 session tickets it needs for resumption), the probe, the scan, then the
 * resumption connection, which stays open and is the one bytes are carried over.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { Connection } from '../stream/connection.js';
import { connect } from '../stream/open.js';
import { type ClientContext, clientContext } from '../tls/client-context.js';
import { CIPHERS, GROUPS, type TlsVersion } from '../tls/defaults.js';
import { CertificateError, ContextError, TlsError } from '../tls/errors.js';
import { TlskitError } from '../transport/errors.js';
import { UsageError } from './cert.js';
import { CONNECT_HELP } from './connect-help.js';
import { printReport } from './connect-print.js';
import { relay, stdinIsPiped } from './connect-relay.js';
import { buildReport, type ConnectReport, describeChain, type Verdict } from './connect-report.js';
import { hintFor } from './hints.js';
import { type ProbeResult, probe } from './probe.js';
import { scanVersions } from './scan.js';
import { styleFor } from './style.js';

export { CONNECT_HELP };

const OPTIONS = {
  ca: { type: 'string' },
  'system-ca': { type: 'boolean' },
  crl: { type: 'string' },
  servername: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  alpn: { type: 'string' },
  'tls1.2': { type: 'boolean' },
  'tls1.3': { type: 'boolean' },
  starttls: { type: 'string' },
  versions: { type: 'boolean' },
  json: { type: 'boolean' },
  interactive: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where to connect, from `host:port` or `[v6]:port`. */
export function parseTarget(value: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (!match) {
    const fix =
      (value.match(/:/g)?.length ?? 0) > 1 && !value.startsWith('[')
        ? `write an IPv6 address in brackets: [${value.replace(/:\d+$/, '')}]:443`
        : /:\d*$/.test(value) || value.includes(':')
          ? 'write it as host:port, e.g. example.com:443'
          : `add the port: ${value}:443`;
    throw new UsageError(`HOST:PORT '${value}' is not host:port or [v6]:port; ${fix}`, {
      usage: CONNECT_HELP,
    });
  }
  const port = Number(match[2]);
  if (port < 1 || port > 65535) {
    throw new UsageError(`the port in '${value}' must be from 1 to 65535, got ${match[2]}`, { help: false });
  }
  if (value.startsWith('[') && net.isIPv6(match[1]!) === false) {
    throw new UsageError(`'${match[1]}' in brackets is not an IPv6 address`, { help: false });
  }
  return { host: match[1]!, port };
}

const FILE_FIXES: Record<string, string> = {
  ca: "pass the PEM file of the CA that issued the server's certificate, or --system-ca",
  crl: 'pass a PEM file with the CRLs of the CAs in the chain',
  cert: 'pass the PEM file of your client certificate chain, leaf first',
  key: 'pass the PEM file of the private key of --cert',
};

function readFlagFile(flag: keyof typeof FILE_FIXES, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const what =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new UsageError(`--${flag} '${file}': ${what}; ${FILE_FIXES[flag]}`, { help: false });
  }
}

/** Which flag a ContextError's field came from. */
const FLAG_OF_FIELD: Record<string, string> = {
  trust: 'ca',
  cert: 'cert',
  key: 'key',
  crl: 'crl',
  alpn: 'alpn',
};

function seconds(value: string | undefined): number {
  if (value === undefined) return 10_000;
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(number > 0) || number > 3600) {
    throw new UsageError(`--timeout must be a number of seconds above 0 and at most 3600, got '${value}'`, {
      help: false,
    });
  }
  return Math.round(number * 1000);
}

/** Everything the command line decided. */
interface Plan {
  host: string;
  port: number;
  serverName: string;
  caFile: string | null;
  context: ClientContext;
  version: TlsVersion | undefined;
  alpn: string[] | undefined;
  cert: string | undefined;
  key: string | undefined;
  timeout: number;
  json: boolean;
  interactive: boolean;
  versions: boolean;
  starttls: string | undefined;
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw error;
    const option = /'(-[^']*)'/.exec((error as Error).message)?.[1]?.split(/[ ,]/)[0] ?? '';
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${option}`
        : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
          ? `option ${option} needs a value`
          : (error as Error).message,
      { usage: CONNECT_HELP },
    );
  }
}

function plan(values: ReturnType<typeof parse>['values'], positionals: string[]): Plan {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'needs HOST:PORT, e.g. tlskit connect example.com:443 --system-ca'
        : `takes one HOST:PORT, got ${positionals.map((p) => `'${p}'`).join(' ')}`,
      { usage: CONNECT_HELP },
    );
  }
  const { host, port } = parseTarget(positionals[0]!);
  if (values.ca && values['system-ca'])
    throw new UsageError('give --ca FILE or --system-ca, not both: --ca trusts only that file', {
      help: false,
    });
  if (!values.ca && !values['system-ca'])
    throw new UsageError(
      "no trust given: pass --ca FILE (the PEM file of the CA that issued the server's certificate) or --system-ca (the system's CA store); tlskit never trusts by default",
      { help: false },
    );
  if (values['tls1.2'] && values['tls1.3'])
    throw new UsageError('give --tls1.2 or --tls1.3, not both (without either, both are offered)', {
      help: false,
    });
  if (Boolean(values.cert) !== Boolean(values.key))
    throw new UsageError(
      values.cert ? '--cert needs --key FILE, its private key' : '--key needs --cert FILE',
      {
        help: false,
      },
    );
  if (values.json && values.interactive)
    throw new UsageError('--json and --interactive do not mix: --json prints only the report on stdout', {
      help: false,
    });
  if (values.starttls !== undefined)
    throw new UsageError(
      `--starttls ${values.starttls}: not available in this build yet; connect to the port that speaks TLS from the start`,
      { help: false },
    );
  const alpn = values.alpn?.split(',').map((name) => name.trim());
  if (alpn?.some((name) => name === ''))
    throw new UsageError(`--alpn '${values.alpn}' has an empty name; list names with commas: h2,http/1.1`, {
      help: false,
    });
  const version: TlsVersion | undefined = values['tls1.2']
    ? 'TLSv1.2'
    : values['tls1.3']
      ? 'TLSv1.3'
      : undefined;
  const cert = values.cert ? readFlagFile('cert', values.cert) : undefined;
  const key = values.key ? readFlagFile('key', values.key) : undefined;
  const timeout = seconds(values.timeout);
  let context: ClientContext;
  try {
    context = clientContext({
      trust: values.ca ? readFlagFile('ca', values.ca) : 'system',
      ...(values.crl ? { crl: readFlagFile('crl', values.crl) } : {}),
      ...(cert && key ? { cert, key } : {}),
      ...(alpn ? { alpn } : {}),
      ...(version ? { minVersion: version, maxVersion: version } : {}),
      sessionCache: true,
      handshakeTimeout: timeout,
      closeTimeout: timeout,
    });
  } catch (error) {
    if (!(error instanceof ContextError)) throw error;
    const flag = FLAG_OF_FIELD[error.field];
    const file = flag ? (values as Record<string, unknown>)[flag] : undefined;
    const message = error.message.replace(/^clientContext: /, '');
    throw new UsageError(flag ? `--${flag}${file ? ` '${file}'` : ''}: ${message}` : message, {
      help: false,
    });
  }
  return {
    host,
    port,
    serverName: values.servername ?? host,
    caFile: values.ca ?? null,
    context,
    version,
    alpn,
    cert,
    key,
    timeout,
    json: values.json === true,
    interactive: values.interactive === true,
    versions: values.versions === true,
    starttls: values.starttls,
  };
}

/** Opens a tlskit connection to the plan's server: the verdict comes from here. */
async function openTls(p: Plan): Promise<Connection> {
  return connect({
    host: p.host,
    port: p.port,
    tls: p.context,
    serverName: p.serverName,
    timeout: p.timeout,
    handshakeTimeout: p.timeout,
    closeTimeout: p.timeout,
  });
}

/** A connection failure that is not a verdict: the command exits 2. */
function couldNotConnect(error: unknown): boolean {
  return !(error instanceof TlsError);
}

function verdictOf(error: TlsError | null, p: Plan, probed: ProbeResult | null): Verdict {
  if (!error)
    return { trusted: true, code: null, depth: null, subject: null, alert: null, message: null, hint: null };
  const chain = probed?.chain ?? [];
  const leafNames = chain[0] ? describeChain([chain[0]]).chain[0]!.subjectAltNames : [];
  const certificate = error instanceof CertificateError;
  return {
    trusted: false,
    code: error.code,
    depth: certificate ? error.depth : null,
    subject: certificate ? error.subject : null,
    alert: error.alert ?? null,
    message: error.message,
    hint: hintFor({
      code: error.code,
      depth: certificate ? error.depth : null,
      sent: chain.length,
      endsWithRoot: chain.length > 0 && chain.at(-1)!.checkIssued(chain.at(-1)!),
      serverName: p.serverName,
      names: leafNames.map((name) => name.replace(/^(DNS|IP):/, '')),
      alert: error.alert,
      opensslCode: error.opensslCode,
      caFile: p.caFile !== null,
    }),
  };
}

function probeBase(p: Plan) {
  return {
    host: p.host,
    port: p.port,
    serverName: p.serverName,
    alpn: p.alpn,
    cert: p.cert,
    key: p.key,
    timeout: p.timeout,
  };
}

/** Runs `tlskit connect ...`; returns the exit code. */
export async function connectCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    out(CONNECT_HELP);
    return 0;
  }
  const p = plan(values, positionals);
  const where = `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
  let first: Connection | null = null;
  let failure: TlsError | null = null;
  try {
    first = await openTls(p);
  } catch (error) {
    if (couldNotConnect(error)) return cannotConnect(where, error);
    failure = error as TlsError;
  }
  const verified = first?.info.tls ?? null;
  if (first) await first.close().catch(() => {});
  const probed = await probe({
    ...probeBase(p),
    minVersion: p.version,
    maxVersion: p.version,
    ciphers: CIPHERS,
    groups: GROUPS,
  }).catch(() => null);
  const versions = p.versions ? await scanVersions(probeBase(p)) : null;
  // Node keeps no session over 10 KiB: then there is nothing to offer, which is not the server's doing.
  const saved = first !== null && p.context.session(p.serverName) !== undefined;
  let second: Connection | null = null;
  if (first) second = await openTls(p).catch(() => null);
  const facts = verified ?? probed;
  const report: ConnectReport = buildReport({
    target: { host: p.host, port: p.port, serverName: p.serverName },
    trust: { caFile: p.caFile, system: p.caFile === null },
    starttls: null,
    verdict: verdictOf(failure, p, probed),
    tls: facts && {
      protocol: facts.protocol,
      cipher: verified ? verified.cipher : probed!.cipher.standardName,
      group: probed?.group ?? null,
      alpn: verified ? verified.alpnProtocol : probed!.alpn,
      ocspStapled: probed?.ocspStaple != null,
      source: verified ? 'verified' : 'probe',
    },
    resumption: !first
      ? 'not-tried'
      : !saved
        ? 'no-session'
        : second?.info.tls?.resumed
          ? 'works'
          : 'refused',
    ...describeChain(probed?.chain ?? []),
    versions,
  });
  const code = report.verdict.trusted ? 0 : 1;
  const carry = second !== null && !p.json && (p.interactive || stdinIsPiped());
  if (p.json) out(JSON.stringify(report, null, 2));
  else {
    // While bytes are carried, stdout is the server's: the report goes to stderr.
    const stream = carry ? process.stderr : process.stdout;
    stream.write(`${printReport(report, styleFor(stream))}\n`);
  }
  if (!carry) {
    await second?.close().catch(() => {});
    if (p.interactive && !report.verdict.trusted)
      process.stderr.write('tlskit connect: not carrying data: the server is not trusted\n');
    return code;
  }
  await relay(second!, process.stdin, process.stdout).catch((error: unknown) => {
    process.stderr.write(`tlskit connect: the connection ended with an error: ${(error as Error).message}\n`);
  });
  return code;
}

function cannotConnect(where: string, error: unknown): number {
  const code = error instanceof TlskitError ? error.code : ((error as { code?: string }).code ?? 'ERR');
  const message = error instanceof Error ? error.message : String(error);
  const hint = hintFor({ code, sent: 0, endsWithRoot: false, serverName: '', names: [], caFile: false });
  process.stderr.write(`tlskit connect: could not connect to ${where}: ${message}\n  hint: ${hint}\n`);
  return 2;
}
