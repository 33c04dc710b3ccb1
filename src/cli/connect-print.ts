/**
 * The human form of `tlskit connect`'s report: the verdict first, with the hint on its own line,
 * then the connection's facts, then the chain as sent. Everything is a value of the report
 * (connect-report.ts); nothing here decides anything. A certificate's long name list is cut to
 * a few names (the JSON has them all).
 */
import type { ChainCertificate, ConnectReport } from './connect-report.js';
import type { VersionResult } from './scan.js';
import type { Style } from './style.js';

const NAMES_SHOWN = 6;
const VERSION_NAMES: Record<string, string> = {
  TLSv1: 'TLS 1.0',
  'TLSv1.1': 'TLS 1.1',
  'TLSv1.2': 'TLS 1.2',
  'TLSv1.3': 'TLS 1.3',
};

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(14)}${value}`;
}

function verdictLines(report: ConnectReport, style: Style): string[] {
  const { verdict, trust } = report;
  const against = trust.caFile ? `--ca ${trust.caFile}` : 'the system CA store';
  if (verdict.trusted)
    return [`${style.ok('✔ trusted')} (verified against ${against}, name ${report.target.serverName})`];
  const where =
    verdict.depth === null
      ? ''
      : ` at depth ${verdict.depth}${verdict.subject ? ` (${verdict.subject})` : ''}`;
  return [
    `${style.bad(`✘ not trusted: ${verdict.code}`)}${where}`,
    `  ${style.bold('fix:')} ${verdict.hint}`,
    `  ${style.dim(verdict.message ?? '')}`,
  ];
}

function factLines(report: ConnectReport, style: Style): string[] {
  const tls = report.tls;
  if (!tls) return ['Connection', row('Handshake', style.bad('none completed'))];
  const resumption = {
    works: style.ok('works'),
    refused: style.warn('does not work (the server made a full handshake for the session offered)'),
    'no-session': style.warn(
      "not tried: the first connection left no session (no ticket from the server, or over Node's 10 KiB session limit)",
    ),
    'not-tried': 'not tried (sessions are kept for trusted servers only)',
  }[report.resumption];
  return [
    `Connection${tls.source === 'probe' ? ' (seen by an observation handshake; nothing was sent)' : ''}`,
    row('Protocol', tls.protocol),
    row('Cipher', tls.cipher),
    row('Key exchange', tls.group ?? '(none: static key exchange)'),
    row('ALPN', tls.alpn ?? '(none)'),
    row('OCSP staple', tls.ocspStapled ? 'present' : 'none'),
    row('Resumption', resumption),
  ];
}

function certificateLines(certificate: ChainCertificate, index: number, style: Style): string[] {
  const names = certificate.subjectAltNames;
  const shown =
    names.length > NAMES_SHOWN
      ? `${names.slice(0, NAMES_SHOWN).join(', ')} … and ${names.length - NAMES_SHOWN} more`
      : names.join(', ') || '(none)';
  const days =
    certificate.validity === 'expired'
      ? style.bad(
          certificate.daysLeft === 0
            ? 'EXPIRED today'
            : `EXPIRED ${plural(-certificate.daysLeft, 'day')} ago`,
        )
      : certificate.validity === 'not-yet-valid'
        ? style.bad('NOT YET VALID')
        : certificate.daysLeft < 14
          ? style.warn(`${plural(certificate.daysLeft, 'day')} left`)
          : `${plural(certificate.daysLeft, 'day')} left`;
  const kind = certificate.selfSigned ? ' (self-signed root)' : certificate.isCA ? ' (CA)' : '';
  return [
    `  ${index} ${style.bold(certificate.subject || '(empty subject)')}${kind}`,
    `      issuer   ${certificate.issuer}`,
    `      names    ${shown}`,
    `      key      ${certificate.key}`,
    `      valid    ${certificate.notBefore.slice(0, 10)} to ${certificate.notAfter.slice(0, 10)} (${days})`,
    `      sha256   ${certificate.fingerprintSha256}`,
  ];
}

function chainLines(report: ConnectReport, style: Style): string[] {
  if (report.chain.length === 0) return ['Chain as sent: no certificates seen'];
  const count = `${report.chain.length} certificate${report.chain.length === 1 ? '' : 's'}`;
  const order = report.chainOrder.ok ? 'order ok' : style.bad('order wrong');
  return [
    `Chain as sent (${count}, ${order})`,
    ...report.chain.flatMap((certificate, index) => certificateLines(certificate, index, style)),
    ...report.chainOrder.problems.map((problem) => `  ${style.bad('!')} ${problem}`),
  ];
}

/** The --versions table: one line per version, then the suites each accepted. */
export function versionLines(versions: readonly VersionResult[], style: Style): string[] {
  return [
    'Versions and suites the server accepts',
    ...versions.flatMap((result) => {
      const name = VERSION_NAMES[result.version] ?? result.version;
      const weak = result.version === 'TLSv1' || result.version === 'TLSv1.1';
      const state = result.accepted
        ? weak
          ? style.bad('accepted (obsolete)')
          : style.ok('accepted')
        : 'refused';
      return [
        row(name, state),
        ...result.suites.map((suite) => `      ${suite.name.padEnd(32)}${suite.group ?? ''}`),
      ];
    }),
  ];
}

/** The report as text for people. */
export function printReport(report: ConnectReport, style: Style): string {
  const { host, port } = report.target;
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const sections = [
    [`tlskit connect ${target}`, ...verdictLines(report, style)],
    ...(report.starttls ? [[`STARTTLS (${report.starttls.protocol}): ${report.starttls.greeting}`]] : []),
    factLines(report, style),
    chainLines(report, style),
    ...(report.versions ? [versionLines(report.versions, style)] : []),
  ];
  return sections.map((lines) => lines.join('\n')).join('\n\n');
}
