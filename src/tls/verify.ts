import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { formatIp, ipBytes } from '../transport/ip.js';
import { spkiPin } from './client-context.js';
import { certificateFacts, issuerName, revokedSerials, WEAK_SIGNATURE_ALGORITHMS } from './der.js';
import { CertificateError, type CertificateErrorCode } from './errors.js';
import { parseAltNames, referenceIdentity } from './hostname.js';
import { type LazyChain, verifiedChain } from './info.js';
import { subjectOf } from './pem.js';

/** OpenSSL verify codes (as Node names them) and what tlskit calls them. */
const CODES: Record<string, CertificateErrorCode> = {
  CERT_HAS_EXPIRED: 'CERT_EXPIRED',
  CERT_NOT_YET_VALID: 'CERT_NOT_YET_VALID',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'SELF_SIGNED',
  SELF_SIGNED_CERT_IN_CHAIN: 'UNKNOWN_ISSUER',
  UNABLE_TO_GET_ISSUER_CERT: 'UNKNOWN_ISSUER',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'UNKNOWN_ISSUER',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'UNKNOWN_ISSUER',
  CERT_CHAIN_TOO_LONG: 'PATH_LENGTH_EXCEEDED',
  INVALID_CA: 'NOT_A_CA',
  PATH_LENGTH_EXCEEDED: 'PATH_LENGTH_EXCEEDED',
  PERMITTED_VIOLATION: 'NAME_CONSTRAINTS',
  EXCLUDED_VIOLATION: 'NAME_CONSTRAINTS',
  SUBTREE_MINMAX: 'NAME_CONSTRAINTS',
  UNSUPPORTED_CONSTRAINT_TYPE: 'NAME_CONSTRAINTS',
  UNSUPPORTED_CONSTRAINT_SYNTAX: 'NAME_CONSTRAINTS',
  UNSUPPORTED_NAME_SYNTAX: 'NAME_CONSTRAINTS',
  INVALID_PURPOSE: 'WRONG_PURPOSE',
  CERT_REVOKED: 'REVOKED',
  CA_MD_TOO_WEAK: 'WEAK_SIGNATURE',
  EE_KEY_TOO_SMALL: 'WEAK_KEY',
  CA_KEY_TOO_SMALL: 'WEAK_KEY',
  CERT_SIGNATURE_FAILURE: 'BAD_SIGNATURE',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'BAD_SIGNATURE',
  UNABLE_TO_GET_CRL: 'CRL_UNAVAILABLE',
  UNABLE_TO_GET_CRL_ISSUER: 'CRL_UNAVAILABLE',
  CRL_HAS_EXPIRED: 'CRL_UNAVAILABLE',
  CRL_NOT_YET_VALID: 'CRL_UNAVAILABLE',
  CRL_SIGNATURE_FAILURE: 'CRL_UNAVAILABLE',
  ERR_TLS_CERT_ALTNAME_INVALID: 'HOSTNAME_MISMATCH',
};

/**
 * Node names only some OpenSSL verify errors and reports the rest as `UNSPECIFIED` with OpenSSL's
 * reason text; these are the texts, mapped back to OpenSSL's names.
 */
const REASON_TEXTS: Record<string, string> = {
  'permitted subtree violation': 'PERMITTED_VIOLATION',
  'excluded subtree violation': 'EXCLUDED_VIOLATION',
  'name constraints minimum and maximum not supported': 'SUBTREE_MINMAX',
  'unsupported name constraint type': 'UNSUPPORTED_CONSTRAINT_TYPE',
  'unsupported or invalid name constraint syntax': 'UNSUPPORTED_CONSTRAINT_SYNTAX',
  'unsupported or invalid name syntax': 'UNSUPPORTED_NAME_SYNTAX',
  'EE certificate key too weak': 'EE_KEY_TOO_SMALL',
  'CA certificate key too weak': 'CA_KEY_TOO_SMALL',
  'CA signature digest algorithm too weak': 'CA_MD_TOO_WEAK',
  'certificate revoked': 'CERT_REVOKED',
  'unable to get certificate CRL': 'UNABLE_TO_GET_CRL',
  'CRL has expired': 'CRL_HAS_EXPIRED',
  'CRL is not yet valid': 'CRL_NOT_YET_VALID',
  'CRL signature failure': 'CRL_SIGNATURE_FAILURE',
  'unable to get CRL issuer certificate': 'UNABLE_TO_GET_CRL_ISSUER',
  'invalid CA certificate': 'INVALID_CA',
  'path length constraint exceeded': 'PATH_LENGTH_EXCEEDED',
  'unsuitable certificate purpose': 'INVALID_PURPOSE',
};

/** OpenSSL's name for a verify error, recovered from the reason text when Node did not name it. */
function opensslName(code: string, message: string): string {
  if (code !== 'UNSPECIFIED' && code !== '') return code;
  return REASON_TEXTS[message.trim()] ?? code;
}

/** What the peer was verified for: a server (we are the client) or a client (we are the server). */
type PeerRole = 'server' | 'client';

interface Finding {
  depth: number;
  explain: string;
}

function at(chain: X509Certificate[], depth: number): X509Certificate | undefined {
  return chain[Math.min(Math.max(depth, 0), chain.length - 1)];
}

function isSelfIssued(certificate: X509Certificate): boolean {
  return certificate.subject === certificate.issuer && certificate.checkIssued(certificate);
}

/**
 * Finds the certificate OpenSSL's code is about, and says precisely what is wrong with it.
 * OpenSSL's codes are sometimes vague (an untrusted root and a missing intermediate share one), and
 * Node does not report the depth, so the chain itself is inspected.
 */
function inspect(
  code: CertificateErrorCode,
  chain: X509Certificate[],
  peer: PeerRole,
  { crls = [], serverName }: CheckedFor,
): Finding {
  const now = Date.now();
  const first = (test: (certificate: X509Certificate, depth: number) => boolean, fallback = 0) => {
    const depth = chain.findIndex(test);
    return depth === -1 ? fallback : depth;
  };
  switch (code) {
    case 'CERT_EXPIRED': {
      const depth = first((c) => Date.parse(c.validTo) < now);
      return {
        depth,
        explain: `it expired on ${new Date(Date.parse(at(chain, depth)?.validTo ?? '')).toISOString()}`,
      };
    }
    case 'CERT_NOT_YET_VALID': {
      const depth = first((c) => Date.parse(c.validFrom) > now);
      return {
        depth,
        explain: `it is not valid before ${new Date(Date.parse(at(chain, depth)?.validFrom ?? '')).toISOString()}`,
      };
    }
    case 'SELF_SIGNED':
      return { depth: 0, explain: 'it is self-signed, and not one of the certificates you trust' };
    case 'UNKNOWN_ISSUER': {
      const top = chain.length - 1;
      const topCert = chain[top];
      if (topCert && isSelfIssued(topCert) && top > 0) {
        return { depth: top, explain: 'the chain ends in a root CA you do not trust' };
      }
      return {
        depth: Math.max(top, 0),
        explain: `its issuer (${topCert ? topCert.issuer.split('\n').join(', ') : 'unknown'}) was neither sent by the peer nor trusted: a missing intermediate, or an untrusted CA`,
      };
    }
    case 'NOT_A_CA': {
      const depth = first((c, d) => d > 0 && !c.ca, 1);
      return {
        depth,
        explain: 'it signed the certificate below it but is not a CA (basicConstraints CA:FALSE)',
      };
    }
    case 'PATH_LENGTH_EXCEEDED': {
      // A CA with pathLength n may have at most n CAs below it (the leaf not counted).
      const depth = first((c, d) => {
        const limit = d > 0 ? certificateFacts(c.raw).pathLength : undefined;
        return limit !== undefined && d - 1 > limit;
      }, 1);
      const limit = certificateFacts(at(chain, depth)?.raw ?? new Uint8Array()).pathLength;
      return {
        depth,
        explain: `its path length constraint (${limit ?? 'unknown'}) allows fewer CAs below it than the chain has`,
      };
    }
    case 'NAME_CONSTRAINTS':
      return { depth: 0, explain: 'its names fall outside the name constraints of a CA above it' };
    case 'WRONG_PURPOSE': {
      const wanted = peer === 'server' ? 'serverAuth' : 'clientAuth';
      const depth = first((c) => {
        const usages = c.keyUsage;
        return (
          Array.isArray(usages) &&
          usages.length > 0 &&
          !usages.includes(peer === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2')
        );
      });
      return { depth, explain: `its extended key usage does not allow ${wanted}` };
    }
    case 'WEAK_SIGNATURE': {
      const depth = first((c) => certificateFacts(c.raw).signatureAlgorithm! in WEAK_SIGNATURE_ALGORITHMS);
      const algorithm =
        WEAK_SIGNATURE_ALGORITHMS[
          certificateFacts(at(chain, depth)?.raw ?? new Uint8Array()).signatureAlgorithm ?? ''
        ];
      return {
        depth,
        explain: `it is signed with ${algorithm ?? 'a weak algorithm'}, which is no longer safe`,
      };
    }
    case 'WEAK_KEY': {
      const depth = first((c) => {
        const details = c.publicKey.asymmetricKeyDetails;
        return details?.modulusLength !== undefined && details.modulusLength < 2048;
      });
      const bits = at(chain, depth)?.publicKey.asymmetricKeyDetails?.modulusLength;
      return {
        depth,
        explain: `its key is too small${bits ? ` (RSA ${bits} bits; at least 2048 are needed)` : ''}`,
      };
    }
    case 'REVOKED': {
      const revoked = new Set(crls.flatMap((crl) => [...revokedSerials(crl)]));
      const depth = first((c) => revoked.has(c.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, '')));
      return { depth, explain: 'its issuer revoked it (it is listed in a CRL you gave)' };
    }
    case 'HOSTNAME_MISMATCH':
      return { depth: 0, explain: hostnameMismatch(serverName, chain[0]) };
    case 'CRL_UNAVAILABLE': {
      // With CRLs configured, OpenSSL wants a current one from the issuer of every certificate
      // below the trust anchor.
      const issuers = new Set(crls.map(issuerName));
      const missing = first(
        (c, d) => !(d === chain.length - 1 && isSelfIssued(c)) && !issuers.has(issuerName(c.raw)),
        -1,
      );
      if (missing >= 0) {
        return {
          depth: missing,
          explain: `no CRL from its issuer (${at(chain, missing)!.issuer.split('\n').join(', ')}) was given; with \`crl\` set, every CA in the chain needs a current CRL`,
        };
      }
      return {
        depth: 0,
        explain: 'a CRL given for this chain is expired, not yet valid, or not signed by its CA',
      };
    }
    default:
      return { depth: 0, explain: 'it failed verification' };
  }
}

/** What the chain was checked against, for the explanation. */
interface CheckedFor {
  crls?: readonly Uint8Array[];
  /** The name the client checked the server's certificate for. */
  serverName?: string | null;
}

/**
 * Why a certificate does not fit the name: the name checked, the names the certificate carries,
 * and the fix most likely meant. Connecting by address checks the address, which certificates
 * rarely carry; the usual intent is the server's DNS name, passed as `serverName`.
 */
function hostnameMismatch(serverName: string | null | undefined, leaf: X509Certificate | undefined): string {
  const names = leaf ? certificateNames(leaf) : [];
  const carried =
    names.length > 0 ? `it is valid only for ${names.join(', ')}` : 'it carries no DNS name or IP address';
  if (!serverName) return `${carried}, not for the name you connected to`;
  const byAddress = referenceIdentity(serverName)?.type === 'ip';
  const what = byAddress ? `the address ${serverName}` : serverName;
  // A wildcard entry is no name to connect with; an exact one is.
  const dnsName = names.find((name) => name.startsWith('DNS:') && !name.startsWith('DNS:*'))?.slice(4);
  const fix =
    byAddress && dnsName
      ? `; you connected by address, so the address was checked: pass \`serverName: '${dnsName}'\` to check the name the server is known by`
      : `; pass the \`serverName\` the certificate was issued for, or issue one that includes ${serverName}`;
  return `${carried}, not for ${what}${fix}`;
}

/** The DNS names and IP addresses a certificate carries (`DNS:x`, `IP:y`), or its CN without SANs. */
function certificateNames(certificate: X509Certificate): string[] {
  const { dns, ip } = parseAltNames(certificate.subjectAltName);
  // Addresses as they are written (::1), not as OpenSSL prints them (0:0:0:0:0:0:0:1).
  const address = (text: string) => {
    const bytes = ipBytes(text);
    return bytes ? formatIp(bytes) : text;
  };
  if (dns.length > 0 || ip.length > 0)
    return [...dns.map((n) => `DNS:${n}`), ...ip.map((a) => `IP:${address(a)}`)];
  if (certificate.subjectAltName) return [];
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
  return cn ? [`CN=${cn} (no subjectAltName; clients ignore the CN)`] : [];
}

/** Builds the CertificateError for an OpenSSL verify code (or Node's hostname code). */
export function certificateError(
  opensslCode: string,
  detail: string,
  chain: X509Certificate[],
  peer: PeerRole,
  checked: CheckedFor = {},
): CertificateError {
  const code = codeFor(opensslCode, chain);
  const { depth, explain } = inspect(code, chain, peer, checked);
  const certificate = chain[depth];
  const subject = certificate ? subjectOf(certificate) : '';
  const who = peer === 'server' ? "server's" : "client's";
  const position =
    depth === 0 ? `the ${who} certificate` : `the certificate at depth ${depth} of the ${who} chain`;
  return new CertificateError(
    code,
    `${code}: ${position}${subject ? ` (${subject})` : ''} was rejected: ${explain}.${source(opensslCode, detail)}`,
    { depth, subject, certificate, opensslCode },
  );
}

/**
 * The code for OpenSSL's verdict on `chain`. OpenSSL reports the last problem it met, which is
 * sometimes the consequence rather than the cause:
 * - a certificate that signed another without being a CA also fails the purpose check, so a
 *   purpose or CA failure under such a signer is NOT_A_CA. Only those: under a root OpenSSL takes
 *   as a CA without basicConstraints (an old v1 root), an expired leaf or a name mismatch is what
 *   it is;
 * - with CRLs set, a chain that never reached a trust anchor (its top is not self-issued) is
 *   also missing a CRL, but the issuer is what is unknown.
 */
function codeFor(opensslCode: string, chain: X509Certificate[]): CertificateErrorCode {
  const code = CODES[opensslCode] ?? 'CERT_INVALID';
  if (code === 'WRONG_PURPOSE' || code === 'NOT_A_CA') {
    const signerNotCa = chain.some(
      (c, depth) =>
        depth > 0 && !c.ca && chain[depth - 1]!.checkIssued(c) && chain[depth - 1]!.verify(c.publicKey),
    );
    if (signerNotCa) return 'NOT_A_CA';
  }
  if (code === 'CRL_UNAVAILABLE' && chain.length > 0 && !isSelfIssued(chain[chain.length - 1]!)) {
    return 'UNKNOWN_ISSUER';
  }
  return code;
}

/**
 * Who said so, in OpenSSL's words. The host name check is tlskit's own (hostname.ts), and the
 * explanation is all there is to say about it.
 */
function source(code: string, detail: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return '';
  return ` OpenSSL: ${code}${detail ? ` (${detail})` : ''}`;
}

/** OpenSSL's chain verdict for a finished handshake, as Node keeps it on the socket. */
function chainVerdict(socket: TLSSocket): { code: string; message: string } | null {
  const ssl = (socket as unknown as { ssl?: { verifyError?: () => (Error & { code?: string }) | null } }).ssl;
  if (typeof ssl?.verifyError !== 'function') {
    // Fail closed: without OpenSSL's verdict there is no verification.
    return { code: 'UNABLE_TO_VERIFY', message: 'this Node version does not expose the verification result' };
  }
  const error = ssl.verifyError();
  return error ? { code: error.code ?? 'CERT_INVALID', message: error.message } : null;
}

/**
 * Verifies the server we connected to: chain, host name, pins. Returns the failure, or `null`.
 * `hostMatches` is the host name check's result and `chain` the chain it saw, both taken while
 * Node had the peer's certificates parsed anyway (see `startTls`); a check never made fails.
 */
export function verifyServer(
  socket: TLSSocket,
  serverName: string | null,
  hostMatches: boolean | null,
  chain: LazyChain | null,
  pins: ReadonlySet<string> | null,
  crls: readonly Uint8Array[],
  anchors: () => readonly X509Certificate[] = () => [],
): CertificateError | null {
  const verdict = chainVerdict(socket);
  if (verdict) {
    return certificateError(
      opensslName(verdict.code, verdict.message),
      verdict.message,
      verifiedChain(socket),
      'server',
      { crls },
    );
  }
  // A resumed session was saved only by a connection that passed all of this for the same server
  // name under this context (see startTls), and the server proved it holds the session's secret.
  if (socket.isSessionReused()) return null;
  if (hostMatches !== true) {
    return certificateError('ERR_TLS_CERT_ALTNAME_INVALID', '', verifiedChain(socket), 'server', {
      serverName,
    });
  }
  if (pins) {
    const certificates = signedPath(chain?.certificates ?? verifiedChain(socket), anchors());
    if (!certificates.some((certificate) => pins.has(spkiPin(certificate)))) {
      const leaf = certificates[0];
      return new CertificateError(
        'PIN_MISMATCH',
        `PIN_MISMATCH: no certificate in the server's chain${leaf ? ` (${subjectOf(leaf)})` : ''} has a public key matching \`pins\`; the server's key is sha256/${leaf ? spkiPin(leaf) : '?'}`,
        { depth: 0, subject: leaf ? subjectOf(leaf) : '', certificate: leaf },
      );
    }
  }
  return null;
}

/**
 * The path pins are checked against: from the leaf, each next certificate one that issued and
 * signed the one before, taken from what the server sent or from the trusted roots, up to a
 * trusted root (or as far as signatures go). Not the chain as sent: Node matches issuers by name
 * alone, so a server could append a certificate named after its CA that carries a pinned key and
 * signs nothing, and satisfy the pin while OpenSSL verified another path.
 */
function signedPath(
  sent: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
): X509Certificate[] {
  const leaf = sent[0];
  if (!leaf) return [];
  const path = [leaf];
  const candidates = [...anchors, ...sent.slice(1)];
  let current = leaf;
  while (
    path.length <= MAX_PATH &&
    !anchors.some((anchor) => anchor.fingerprint256 === current.fingerprint256)
  ) {
    const issuer = candidates.find(
      (candidate) =>
        !path.includes(candidate) && current.checkIssued(candidate) && current.verify(candidate.publicKey),
    );
    if (!issuer) break;
    path.push(issuer);
    current = issuer;
  }
  return path;
}

/** The longest path `signedPath` follows: far past any real chain, short of a loop. */
const MAX_PATH = 10;

/**
 * Verifies a client's certificate, if it sent one. Returns the failure, or `null`. Under
 * `required`, no certificate is a failure here too: OpenSSL refuses it in a full handshake, but a
 * resumed one carries no certificate to refuse.
 */
export function verifyClient(
  socket: TLSSocket,
  crls: readonly Uint8Array[],
  clientAuth: 'optional' | 'required',
): CertificateError | null {
  const peer = socket.getPeerCertificate();
  if (!peer || !('raw' in peer) || !peer.raw) {
    if (clientAuth !== 'required') return null;
    return new CertificateError(
      'NO_CERTIFICATE',
      'NO_CERTIFICATE: the client sent no certificate, and this server requires one (clientAuth: required)',
      { depth: 0, subject: '' },
    );
  }
  const verdict = chainVerdict(socket);
  return verdict
    ? certificateError(
        opensslName(verdict.code, verdict.message),
        verdict.message,
        verifiedChain(socket),
        'client',
        { crls },
      )
    : null;
}
