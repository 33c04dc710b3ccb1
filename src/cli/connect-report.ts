/**
 * The report of `tlskit connect`: one object that both printers use, so the human output and
 * `--json` can never disagree. `--json` prints it with `JSON.stringify`, and its key order is the
 * order the fields are assigned in `buildReport`, which is the order documented here and in the
 * README; a field that does not apply is `null`, never missing, so a script can rely on every key.
 * `schema` changes only if a field changes meaning or disappears; new fields may be added.
 */
import type { X509Certificate } from 'node:crypto';
import { checkChainOrder, inspectAll } from '../pki/index.js';
import type { VersionResult } from './scan.js';

const DAY = 86_400_000;

/** The JSON printed by `tlskit connect --json`. Every key is always present. */
export interface ConnectReport {
  /** Version of this shape: 1. */
  schema: 1;
  /** Where we connected: the host as given, the port, and the name checked (and sent as SNI). */
  target: { host: string; port: number; serverName: string };
  /** What the verdict trusted: the `--ca` file (path as given), or `null` with `system: true`. */
  trust: { caFile: string | null; system: boolean };
  /** The STARTTLS dialogue before the handshake (`--starttls`), or `null`. */
  starttls: { protocol: string; greeting: string } | null;
  verdict: Verdict;
  /** What was negotiated, or `null` when no handshake completed at all. */
  tls: TlsFacts | null;
  /**
   * Whether a second connection resumed the first one's session: `'works'`; `'refused'` (a session
   * was offered and the server made a full handshake); `'no-session'` (the first connection left
   * none to offer: the server sent no session ticket or ID, or the session was over Node's 10 KiB
   * limit, which a very large certificate chain reaches); `'not-tried'` (the server is not
   * trusted, and tlskit keeps sessions of trusted servers only).
   */
  resumption: Resumption;
  /** The certificates as the server sent them, leaf first; empty when none were seen. */
  chain: ChainCertificate[];
  /** Whether each certificate is issued (and signed) by the next, with the problems in words. */
  chainOrder: { ok: boolean; problems: string[] };
  /** With `--versions`: each of TLS 1.0 to 1.3, accepted or not, with the suites; else `null`. */
  versions: VersionResult[] | null;
}

/** How session resumption fared: see `ConnectReport.resumption`. */
export type Resumption = 'works' | 'refused' | 'no-session' | 'not-tried';

/** The verdict of the tlskit handshake. */
export interface Verdict {
  /** `true` only when the tlskit client handshake, with this trust, verified the server. */
  trusted: boolean;
  /** Why not: a `CertificateError` code (`UNKNOWN_ISSUER`, ...) or a `TlsError` code (`ERR_TLS_HANDSHAKE`); `null` when trusted. */
  code: string | null;
  /** For certificate errors: the failing certificate's depth (0 = the server's own); else `null`. */
  depth: number | null;
  /** For certificate errors: the failing certificate's subject; else `null`. */
  subject: string | null;
  /** The TLS alert the server sent, in RFC 8446 naming, when the handshake failed with one. */
  alert: string | null;
  /** tlskit's error message, in full; `null` when trusted. */
  message: string | null;
  /** A one-line fix; `null` when trusted. */
  hint: string | null;
}

/** What the handshake negotiated. */
export interface TlsFacts {
  /** `TLSv1.3`, `TLSv1.2`. */
  protocol: string;
  /** The cipher suite, IANA name. */
  cipher: string;
  /** The key-exchange group (`X25519`, `P-256`, ...), or `null` when there was none. */
  group: string | null;
  /** The ALPN protocol agreed on, or `null`. */
  alpn: string | null;
  /** Whether the server stapled an OCSP response. */
  ocspStapled: boolean;
  /**
   * Where `protocol`, `cipher` and `alpn` come from: `'verified'`, the tlskit connection; or
   * `'probe'`, the observation handshake, when verification failed. `group` and `ocspStapled`
   * always come from the probe, since `info.tls` does not carry them.
   */
  source: 'verified' | 'probe';
}

/** One certificate of the chain as sent. */
export interface ChainCertificate {
  subject: string;
  issuer: string;
  /** DNS names, then addresses, as `DNS:name` and `IP:address`. */
  subjectAltNames: string[];
  /** E.g. `ECDSA P-256`, `RSA 2048`, `ED25519`. */
  key: string;
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** Whole days until `notAfter`, counted towards zero: -1 once expired a day or more ago. */
  daysLeft: number;
  /** `valid`, `expired` or `not-yet-valid`, now. */
  validity: 'valid' | 'expired' | 'not-yet-valid';
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprintSha256: string;
  selfSigned: boolean;
  isCA: boolean;
}

/** The chain as sent, described; `chainOrder` for it. */
export function describeChain(
  chain: readonly X509Certificate[],
  now = Date.now(),
): Pick<ConnectReport, 'chain' | 'chainOrder'> {
  if (chain.length === 0) return { chain: [], chainOrder: { ok: true, problems: [] } };
  const pem = chain.map((certificate) => certificate.toString()).join('');
  const described = inspectAll(pem).map((report): ChainCertificate => {
    const notAfter = report.notAfter.getTime();
    const key = report.key.curve
      ? `${report.key.type.toUpperCase()} ${report.key.curve}`
      : report.key.type === 'rsa'
        ? `RSA ${report.key.bits}`
        : report.key.type.toUpperCase();
    return {
      subject: report.subject,
      issuer: report.issuer,
      subjectAltNames: [
        ...report.subjectAltNames.dns.map((name) => `DNS:${name}`),
        ...report.subjectAltNames.ip.map((address) => `IP:${address}`),
      ],
      key,
      notBefore: report.notBefore.toISOString(),
      notAfter: report.notAfter.toISOString(),
      daysLeft: Math.trunc((notAfter - now) / DAY) || 0, // `|| 0`: no -0 in the JSON
      validity: now > notAfter ? 'expired' : now < report.notBefore.getTime() ? 'not-yet-valid' : 'valid',
      fingerprintSha256: report.fingerprintSha256,
      selfSigned: report.selfSigned,
      isCA: report.isCA,
    };
  });
  return { chain: described, chainOrder: checkChainOrder(pem) };
}

/** The parts a report is made of; `buildReport` fixes their order. */
export type ReportParts = Omit<ConnectReport, 'schema'>;

/** The report, with its keys in the documented order whatever order `parts` has them in. */
export function buildReport(parts: ReportParts): ConnectReport {
  return {
    schema: 1,
    target: parts.target,
    trust: parts.trust,
    starttls: parts.starttls,
    verdict: {
      trusted: parts.verdict.trusted,
      code: parts.verdict.code,
      depth: parts.verdict.depth,
      subject: parts.verdict.subject,
      alert: parts.verdict.alert,
      message: parts.verdict.message,
      hint: parts.verdict.hint,
    },
    tls: parts.tls && {
      protocol: parts.tls.protocol,
      cipher: parts.tls.cipher,
      group: parts.tls.group,
      alpn: parts.tls.alpn,
      ocspStapled: parts.tls.ocspStapled,
      source: parts.tls.source,
    },
    resumption: parts.resumption,
    chain: parts.chain,
    chainOrder: parts.chainOrder,
    versions: parts.versions,
  };
}
