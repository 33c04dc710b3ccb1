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
import os from 'node:os';
import type { Duplex } from 'node:stream';
import type { Connection } from '../stream/connection.js';
import { connect } from '../stream/open.js';
import { CIPHERS, GROUPS } from '../tls/defaults.js';
import { CertificateError, TlsError } from '../tls/errors.js';
import { toDuplex } from '../transport/duplex.js';
import { TlskitError } from '../transport/errors.js';
import { CONNECT_HELP } from './connect-help.js';
import { type Plan, parse, plan } from './connect-plan.js';
import { printReport } from './connect-print.js';
import { relay, stdinIsPiped } from './connect-relay.js';
import { buildReport, type ConnectReport, describeChain, type Verdict } from './connect-report.js';
import { hintFor } from './hints.js';
import { type ProbeResult, probe } from './probe.js';
import { scanVersions } from './scan.js';
import { requestStartTls } from './starttls.js';
import { styleFor } from './style.js';

export { CONNECT_HELP };

/** Opens a tlskit connection to the plan's server: the verdict comes from here. */
async function openTls(p: Plan, dialogue?: { greeting: string | null }): Promise<Connection> {
  if (!p.starttls) {
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
  const { connection, greeting } = await openStartTls(p);
  if (dialogue) dialogue.greeting = greeting;
  await connection.startTls({ context: p.context, serverName: p.serverName, handshakeTimeout: p.timeout });
  return connection;
}

/** A plain connection that has spoken `--starttls`'s prelude: ready for the handshake. */
async function openStartTls(p: Plan): Promise<{ connection: Connection; greeting: string }> {
  const connection = await connect({
    host: p.host,
    port: p.port,
    timeout: p.timeout,
    closeTimeout: p.timeout,
  });
  try {
    // SMTP's EHLO names us; XMPP's stream names the server.
    const hostname = p.starttls === 'smtp' ? os.hostname() : p.serverName;
    const { greeting } = await requestStartTls(p.starttls!, connection, { hostname, timeout: p.timeout });
    return { connection, greeting: Buffer.from(greeting).toString('latin1').trimEnd() };
  } catch (error) {
    connection.abort();
    throw error;
  }
}

/** Where the probe handshakes: the server's port, or a stream that already spoke STARTTLS. */
async function probeSocket(p: Plan): Promise<{ socket?: Duplex }> {
  if (!p.starttls) return {};
  const { connection } = await openStartTls(p);
  return { socket: toDuplex(connection.transport) };
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
      lastIssuer: chain.at(-1)?.issuer.split('\n').join(', ') ?? null,
      serverName: p.serverName,
      names: leafNames.map((name) => name.replace(/^(DNS|IP):/, '')),
      alert: error.alert,
      opensslCode: error.opensslCode,
      caFile: p.caFile !== null,
      clientCertificate: p.cert !== undefined && p.cert !== null,
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

/** The report, and the trusted connection left open for carrying bytes (none when untrusted). */
interface Gathered {
  report: ConnectReport;
  open: Connection | null;
}

/**
 * Makes every connection the report needs, in turn: verdict, probe, scan, resumption. Returns
 * `null` when the server could not be reached at all (the message is already on stderr).
 */
async function gather(p: Plan): Promise<Gathered | null> {
  let first: Connection | null = null;
  let failure: TlsError | null = null;
  const dialogue: { greeting: string | null } = { greeting: null };
  try {
    first = await openTls(p, dialogue);
  } catch (error) {
    if (couldNotConnect(error)) return cannotConnect(p, error);
    failure = error as TlsError;
  }
  if (first) {
    const refusal = await closeAndHearRefusal(first);
    if (refusal) {
      failure = refusal;
      first = null;
    }
  }
  const verified = first?.info.tls ?? null;
  const tuned = { minVersion: p.version, maxVersion: p.version, ciphers: CIPHERS, groups: GROUPS };
  const probed = await probeSocket(p)
    .then((where) => probe({ ...probeBase(p), ...tuned, ...where }))
    .catch(() => null);
  const versions = p.versions ? await scanVersions(probeBase(p)) : null;
  // Node keeps no session over 10 KiB: then there is nothing to offer, which is not the server's doing.
  const saved = first !== null && p.context.session(p.serverName) !== undefined;
  const second = first ? await openTls(p).catch(() => null) : null;
  const facts = verified ?? probed;
  const report = buildReport({
    target: { host: p.host, port: p.port, serverName: p.serverName },
    trust: { caFile: p.caFile, system: p.caFile === null },
    starttls: p.starttls && { protocol: p.starttls, greeting: dialogue.greeting ?? '' },
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
  return { report, open: second };
}

/** Alerts about the client's certificate: the server refusing us, not the end of a connection. */
const CLIENT_REFUSALS = new Set([
  'certificate_required',
  'bad_certificate',
  'unsupported_certificate',
  'certificate_revoked',
  'certificate_expired',
  'certificate_unknown',
  'unknown_ca',
  'access_denied',
]);

/**
 * Closes the verdict connection and returns the server's refusal of us, if that is how it ended.
 * In TLS 1.3 our side of the handshake is over before the server has judged our certificate (or
 * its absence), so a server that requires one says so in an alert after the handshake: the
 * connection could never carry data, and the verdict must say so, as it does over TLS 1.2, where
 * the same refusal fails the handshake itself.
 */
async function closeAndHearRefusal(connection: Connection): Promise<TlsError | null> {
  await connection.close().catch(() => {});
  const ended = await connection.closed;
  return ended instanceof TlsError && CLIENT_REFUSALS.has(ended.alert ?? '') ? ended : null;
}

/** Runs `tlskit connect ...`; returns the exit code. */
export async function connectCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    out(CONNECT_HELP);
    return 0;
  }
  const p = plan(values, positionals);
  const gathered = await gather(p);
  if (!gathered) return 2;
  const { report, open } = gathered;
  const code = report.verdict.trusted ? 0 : 1;
  const carry = open !== null && !p.json && (p.interactive || stdinIsPiped());
  if (p.json) out(JSON.stringify(report, null, 2));
  else {
    // While bytes are carried, stdout is the server's: the report goes to stderr.
    const stream = carry ? process.stderr : process.stdout;
    stream.write(`${printReport(report, styleFor(stream))}\n`);
  }
  if (!carry) {
    await open?.close().catch(() => {});
    if (p.interactive && !report.verdict.trusted) {
      const refused = CLIENT_REFUSALS.has(report.verdict.alert ?? '');
      const why = refused ? 'the server refused this client' : 'the server is not trusted';
      process.stderr.write(`tlskit connect: not carrying data: ${why}\n`);
    }
    return code;
  }
  await relay(open!, process.stdin, process.stdout).catch((error: unknown) => {
    process.stderr.write(`tlskit connect: the connection ended with an error: ${(error as Error).message}\n`);
  });
  return code;
}

function cannotConnect(p: Plan, error: unknown): null {
  const where = `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
  const code = error instanceof TlskitError ? error.code : ((error as { code?: string }).code ?? 'ERR');
  const message = error instanceof Error ? error.message : String(error);
  const hint = hintFor({ code, sent: 0, endsWithRoot: false, serverName: '', names: [], caFile: false });
  process.stderr.write(`tlskit connect: no TLS connection to ${where}: ${message}\n  hint: ${hint}\n`);
  return null;
}
