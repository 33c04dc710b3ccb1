/**
 * One-line fix hints for `tlskit connect`: what to change, on which side, for each reason a
 * server is not trusted or cannot be reached. The library's error messages say what is wrong;
 * a hint says what to do about it, using what the command saw on the wire (how many certificates
 * the server sent, the names its certificate carries), which the library's error cannot know.
 *
 * Hints are advice, not verdicts: the verdict is the code. A hint never suggests turning
 * verification off.
 */

/** What a hint may use besides the code. */
export interface HintSituation {
  /** A CertificateError code, a TlsError code, or an OS/tlskit connection error code. */
  code: string;
  /** The failing certificate's position (0 = the server's own), for certificate errors. */
  depth?: number | null;
  /** How many certificates the server sent (from the observation handshake); 0 when unknown. */
  sent: number;
  /** Whether the last certificate the server sent signed itself (a root). */
  endsWithRoot: boolean;
  /** The issuer of the last certificate the server sent, one line (`O=…, CN=…`); `null` when unknown. */
  lastIssuer?: string | null;
  /** The name checked against the certificate. */
  serverName: string;
  /** The DNS names and addresses the server's certificate carries. */
  names: readonly string[];
  /** The TLS alert the server sent, when there was one. */
  alert?: string | null;
  /** Node's or OpenSSL's own code for a TLS failure (`ERR_SSL_WRONG_VERSION_NUMBER`, ...). */
  opensslCode?: string | null;
  /** Whether --ca was given (else the system store was used). */
  caFile: boolean;
  /** Whether a client certificate was offered (--cert and --key). */
  clientCertificate?: boolean;
}

const TRUST = (s: HintSituation) => (s.caFile ? 'the --ca file' : 'the system store');

const CERTIFICATE_HINTS: Record<string, (s: HintSituation) => string> = {
  CERT_EXPIRED: (s) =>
    s.depth
      ? `a CA certificate in the chain (depth ${s.depth}) expired; serve the CA's current one in the chain file`
      : "the server's certificate expired; renew it and reload the server",
  CERT_NOT_YET_VALID: () =>
    "the certificate is not valid yet; check the clock of this machine and the server's, or wait until its start date",
  HOSTNAME_MISMATCH: (s) =>
    s.names.length
      ? `the certificate is for ${list(s.names)}, not ${s.serverName}; connect with --servername set to one of those, or issue a certificate that includes ${s.serverName}`
      : `the certificate carries no DNS name or address (no subjectAltName); issue one that includes ${s.serverName}`,
  SELF_SIGNED: () =>
    "the server's certificate signed itself; pass that certificate with --ca if you mean to trust it, or serve one issued by a CA",
  UNKNOWN_ISSUER: (s) =>
    s.sent === 1 && !s.endsWithRoot
      ? `the server sent only its certificate, and its issuer${s.lastIssuer ? ` (${s.lastIssuer})` : ''} is not in ${TRUST(s)}: if that issuer is an intermediate, add it to the chain file, after the certificate; if it is a root, pass it with --ca`
      : s.endsWithRoot
        ? `the chain ends at a root that is not in ${TRUST(s)}; pass that root with --ca, or check that you reached the right server`
        : `no certificate in the chain was issued by a CA in ${TRUST(s)}; pass the CA that issued the chain with --ca, or have the server send its intermediates`,
  NOT_A_CA: (s) =>
    `the certificate at depth ${s.depth ?? 1} signs others but is not a CA (basicConstraints); the chain file holds the wrong certificate there`,
  PATH_LENGTH_EXCEEDED: () =>
    'a CA in the chain allows fewer CAs below it (pathLen); issue the certificate from a CA higher up, or re-issue the intermediate within the limit',
  NAME_CONSTRAINTS: (s) =>
    `a CA in the chain may not issue for ${s.serverName} (name constraints); use a CA allowed to issue for that name`,
  WRONG_PURPOSE: () =>
    'the certificate may not be used by a TLS server (extended key usage lacks serverAuth); issue one for server use',
  WEAK_SIGNATURE: () =>
    'the certificate is signed with a broken hash (SHA-1 or MD5); re-issue it with SHA-256',
  WEAK_KEY: () => 'the key is too small (RSA under 2048 bits); re-issue with RSA 2048+ or ECDSA P-256',
  REVOKED: () => 'the CA revoked this certificate; install a newly issued one on the server',
  PIN_MISMATCH: () => "the server's key is not one of the pinned keys; update the pins if the key changed",
  BAD_SIGNATURE: () =>
    'a signature in the chain does not verify; the chain file mixes certificates of different CAs or keys',
  CRL_UNAVAILABLE: () =>
    'revocation could not be checked; pass a current CRL of every CA in the chain with --crl',
  NO_CERTIFICATE: () => 'the server sent no certificate; configure one on the server',
  CERT_INVALID: () => 'OpenSSL rejected the chain (see the message); inspect it with `tlskit cert inspect`',
};

const ALERT_HINTS: Record<string, string> = {
  protocol_version:
    'the server speaks no TLS version this client offers (tlskit speaks 1.2 and 1.3); run with --versions to see what it accepts',
  handshake_failure:
    "the server found no cipher suite or group in common with tlskit's safe set; run with --versions to see what it accepts",
  insufficient_security: 'the server wants stronger parameters than offered; run with --versions',
  certificate_required: 'the server wants a client certificate; pass --cert and --key',
  bad_certificate:
    'the server rejected our client certificate; check --cert and --key, and the CA the server trusts',
  unknown_ca: 'the server does not trust the CA of our client certificate (--cert)',
  no_application_protocol: 'the server speaks none of the --alpn protocols offered',
  unrecognized_name: `the server does not know this name (SNI); check --servername`,
};

const CONNECTION_HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing listens on that port; check the host and port, and that the server runs',
  ENOTFOUND: 'the host name does not resolve; check its spelling, or use an address',
  EAI_AGAIN: 'the host name could not be resolved now; check DNS, or use an address',
  ECONNRESET: 'the server reset the connection; it may not speak TLS on this port, or refused us',
  EHOSTUNREACH: 'no route to the host; check the address and the network',
  ENETUNREACH: 'no route to the network; check the address and the network',
  ERR_TIMEOUT: 'no answer in time; check the host and port, a firewall, or raise --timeout',
  ERR_STARTTLS_REFUSED:
    'the server did not upgrade (its reply is quoted above); check the --starttls protocol and the port, or connect without --starttls to its implicit-TLS port (smtps 465, imaps 993, pop3s 995)',
};

function list(names: readonly string[]): string {
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
}

/** The fix hint for a situation; every code gets one. */
export function hintFor(situation: HintSituation): string {
  const certificate = CERTIFICATE_HINTS[situation.code];
  if (certificate) return certificate(situation);
  // TLS 1.2 servers that require a client certificate fail a client without one with this alert.
  if (situation.alert === 'handshake_failure' && !situation.clientCertificate)
    return "the server found no cipher suite or group in common with tlskit's safe set, or it requires a client certificate (pass --cert and --key); run with --versions to see what it accepts";
  if (situation.alert && ALERT_HINTS[situation.alert]) return ALERT_HINTS[situation.alert]!;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/.test(situation.opensslCode ?? ''))
    return 'the server answered in plaintext: it does not speak TLS on this port (a STARTTLS service? try --starttls)';
  if (situation.code === 'ERR_TLS_TRUNCATED' || situation.code === 'ERR_TLS_HANDSHAKE')
    return 'the handshake failed; run with --versions to see which versions and suites the server accepts';
  return CONNECTION_HINTS[situation.code] ?? 'see the message above';
}
