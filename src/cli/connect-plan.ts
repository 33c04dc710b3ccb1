/**
 * The command line of `tlskit connect`, turned into a `Plan`: the target, the client context
 * built from the trust files, and the switches. Every mistake becomes a UsageError that names the
 * flag, the value and the fix; nothing here touches the network.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type ClientContext, clientContext } from '../tls/client-context.js';
import type { TlsVersion } from '../tls/defaults.js';
import { CONNECT_HELP } from './connect-help.js';
import { type HostPort, parseHostPort } from './host-port.js';
import { parseStartTlsProtocol, type StartTlsProtocol } from './starttls.js';
import { UsageError, withFlagNames } from './usage-error.js';

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
export function parseTarget(value: string): HostPort {
  return parseHostPort(value, { label: 'HOST:PORT', usage: CONNECT_HELP });
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
export interface Plan {
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
  /** The STARTTLS dialogue to speak first, or `null`. */
  starttls: StartTlsProtocol | null;
}

export function parse(argv: string[]) {
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

export function plan(values: ReturnType<typeof parse>['values'], positionals: string[]): Plan {
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
  const starttls =
    values.starttls === undefined ? null : parseStartTlsProtocol('--starttls', values.starttls);
  if (starttls && values.versions)
    throw new UsageError(
      '--versions does not scan through --starttls (every probe would need its own dialogue); scan the port that speaks TLS from the start',
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
  const context = withFlagNames(
    () =>
      clientContext({
        trust: values.ca ? readFlagFile('ca', values.ca) : 'system',
        ...(values.crl ? { crl: readFlagFile('crl', values.crl) } : {}),
        ...(cert && key ? { cert, key } : {}),
        ...(alpn ? { alpn } : {}),
        ...(version ? { minVersion: version, maxVersion: version } : {}),
        sessionCache: true,
        handshakeTimeout: timeout,
        closeTimeout: timeout,
      }),
    {
      trust: { flag: '--ca', file: values.ca },
      cert: { flag: '--cert', file: values.cert },
      key: { flag: '--key', file: values.key },
      crl: { flag: '--crl', file: values.crl },
      alpn: { flag: '--alpn', file: undefined },
    },
  );
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
    starttls,
  };
}
