/**
 * Real TLS clients graded over the whole lab, through the grader itself (clients run in parallel).
 * Every verdict is asserted: a strict client's, except where a client is known to deviate, which
 * is recorded per client with the reason. A deviation is the client's result, not a lab bug; a
 * new one (or one that went away) fails the test, so a changed client or a broken scenario shows.
 */
import { fileURLToPath } from 'node:url';
import { type Got, gradeClient, type Lab, type LabScenario, startLab } from 'tlskit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(() => lab?.stop());

const stub = (name: string) => fileURLToPath(new URL(`../../examples/grade-client/${name}`, import.meta.url));
const ALL = ['{host}', '{addr}', '{port}', '{ca}', '{crl}', '{cert}', '{key}'];

/**
 * Node 20's tls.checkServerIdentity compares an IDNA name as given; Node 22 and later convert it to
 * its A-label first (bücher.localhost matches xn--bcher-kva.localhost), so on those lines Node's
 * client grades `idna` as a strict client does (tlskit does on every line).
 */
const IDNA_AS_GIVEN = Number(process.versions.node.split('.')[0]) < 22;
const idnaOnNode20: Record<string, Got> = IDNA_AS_GIVEN ? { idna: 'reject' } : {};
/**
 * Node 20 and 22 run OpenSSL at security level 1 by default (80 bits), where RSA 1024 and a
 * 1024-bit DH group pass; Node 24 runs it at level 2 (112 bits, OpenSSL 3.2's default) and refuses
 * both, as a strict client does.
 */
const weakOnLevel1: Record<string, Got> =
  Number(process.versions.node.split('.')[0]) < 24 ? { 'rsa-1024': 'accept', 'dhe-1024': 'accept' } : {};

/** What a strict client gets: its expectation (an accept where UNSUPPORTED is also fine). */
function strict(scenario: LabScenario): Got | null {
  if (scenario.unavailable) return null;
  return scenario.expected === 'reject' ? 'reject' : 'accept';
}

/** Grades `command` and compares every scenario's result with strict-but-for-`known`. */
async function expectVerdicts(command: string[], known: Record<string, Got>) {
  const report = await gradeClient(lab, command, { jobs: 4, timeoutMs: 10_000 });
  const got = Object.fromEntries(report.results.map((r) => [r.name, r.got]));
  const wanted = Object.fromEntries(lab.scenarios.map((s) => [s.name, known[s.name] ?? strict(s)]));
  const notes = report.results
    .filter((r) => r.got !== wanted[r.name])
    .map((r) => `${r.name}: ${r.got} (${r.stderr})`);
  expect(got, notes.join('\n')).toEqual(wanted);
  for (const name of Object.keys(known)) expect(lab.scenario(name), name).toBeDefined();
  return report;
}

/** Scenarios only certificate and name verification can refuse. */
const needVerification = () =>
  lab.scenarios
    .filter((s) => s.expected === 'reject' && ['pki-defect', 'certificate', 'hostname'].includes(s.group))
    .map((s) => s.name);

describe('real clients over the whole lab', () => {
  it('curl --cacert {ca} --crlfile {crl}', async () => {
    await expectVerdicts(
      [
        'curl',
        ...['-sS', '--max-time', '8', '--cacert', '{ca}', '--crlfile', '{crl}', '--cert', '{cert}'],
        ...['--key', '{key}', '--connect-to', '::{addr}:', '{url}'],
      ],
      {
        // curl's own host check (OpenSSL backend) falls back to the subject CN without DNS SANs.
        'no-san': 'accept',
      },
    );
  });

  it('python3 ssl.create_default_context(cafile=...)', async () => {
    await expectVerdicts(['python3', stub('python-ssl.py'), ...ALL], {
      // hostname_checks_common_name is True by default: the CN fallback.
      'no-san': 'accept',
      // Python passes the name to OpenSSL as given; "localhost." does not match "localhost".
      'trailing-dot': 'reject',
      // Python's default cipher list excludes SHA-1 MACs (!SHA1) since 3.10: stricter than asked.
      'cbc-sha1': 'reject',
    });
  });

  it("Node's tls.connect with ca and crl", async () => {
    await expectVerdicts([process.execPath, stub('node-tls.mjs'), ...ALL], {
      // Security level 1 on Node 20 and 22 (see above); minDHSize defaults to 1024.
      ...weakOnLevel1,
      // tls.checkServerIdentity uses the CN when a certificate has no DNS or IP SANs, and lets a
      // wildcard sit inside the first label.
      'no-san': 'accept',
      'wildcard-partial': 'accept',
      // Node 20 compares the name as given: bücher.localhost is not turned into its A-label.
      ...idnaOnNode20,
    });
  });

  it('openssl s_client -verify_return_error', async () => {
    // -verify_hostname for names, -verify_ip for addresses; s_client loads one CRL per -CRL, so
    // the CRLs go into the CAfile, which OpenSSL reads for both.
    const script = [
      'case $1 in *:*|*[0-9].[0-9]*) v=-verify_ip;; *) v=-verify_hostname;; esac',
      'exec openssl s_client -connect "$2:$3" -servername "$1" $v "$1" -verify_return_error -CAfile <(cat "$4" "$5") -crl_check_all -cert "$6" -key "$7"',
    ].join('\n');
    await expectVerdicts(['bash', '-c', script, 'sh', ...ALL], {
      // X509_check_host without flags: the CN fallback, partial wildcards allowed, no trailing-dot
      // folding and no IDNA (it is a byte comparison).
      'no-san': 'accept',
      'wildcard-partial': 'accept',
      'trailing-dot': 'reject',
      idna: 'reject',
    });
  });

  it('gnutls-cli --x509cafile', async () => {
    await expectVerdicts(
      [
        'gnutls-cli',
        ...['--port', '{port}', '--x509cafile', '{ca}', '--x509crlfile', '{rootcrl}'],
        ...['--x509certfile', '{cert}', '--x509keyfile', '{key}', '--verify-hostname', '{host}', '{addr}'],
      ],
      {
        // GnuTLS's NORMAL priority (Debian's 3.7.9) still allows TLS 1.0 and 1.1, RSA 1024 leaves
        // and 1024-bit DH groups.
        'tls1.0-only': 'accept',
        'tls1.1-only': 'accept',
        'rsa-1024': 'accept',
        'dhe-1024': 'accept',
        // gnutls_x509_crt_check_hostname falls back to the CN when there are no DNS SANs.
        'no-san': 'accept',
      },
    );
  });

  it('a tlskit client (clientContext with trust and crl)', async () => {
    await expectVerdicts([process.execPath, stub('tlskit-client.mjs'), ...ALL], {
      // Host names are tlskit's own strict check (src/tls/hostname.ts), the same on every Node
      // line: no CN fallback, whole-label wildcards only, names compared as A-labels.
      // tlskit offers ECDHE with AEAD only, on purpose: CBC and finite-field DHE are refused.
      'cbc-sha1': 'reject',
      'dhe-2048': 'reject',
    });
  });
});

describe('clients that do not verify fail exactly the scenarios that need verification', () => {
  it('curl -k', async () => {
    const report = await gradeClient(
      lab,
      [
        'curl',
        '-sSk',
        '--max-time',
        '8',
        '--cert',
        '{cert}',
        '--key',
        '{key}',
        '--connect-to',
        '::{addr}:',
        '{url}',
      ],
      { jobs: 4 },
    );
    const failed = report.results.filter((r) => r.outcome === 'fail').map((r) => r.name);
    expect(failed).toEqual(needVerification());
    expect(report.results.filter((r) => r.expected !== 'reject').every((r) => r.outcome === 'pass')).toBe(
      true,
    );
  });

  it('a script around openssl s_client that never checks the verification result', async () => {
    // Without -verify_return_error, s_client reports a failed verification and carries on.
    const script = 'exec openssl s_client -connect "$1:$2" -servername localhost -cert "$3" -key "$4"';
    const report = await gradeClient(
      lab,
      ['bash', '-c', script, 'sh', '{addr}', '{port}', '{cert}', '{key}'],
      {
        jobs: 4,
      },
    );
    const failed = report.results.filter((r) => r.outcome === 'fail').map((r) => r.name);
    expect(failed).toEqual(needVerification());
  });
});
