/**
 * Does a server's certificate name the host we connected to? tlskit's own answer, stricter than
 * `tls.checkServerIdentity`, which keeps compatibility habits a strict client should not have:
 *
 * - Only subjectAltName counts. Node falls back to the subject's CN when a certificate has no DNS
 *   name; browsers, Go and the CA/Browser Forum's rules stopped doing so years ago, and RFC 9525
 *   forbids it.
 * - A wildcard is a whole left-most label (`*.example.com`) standing for exactly one label, and
 *   the rest of the name must have at least two labels (`*.com` names no one). Node also accepts
 *   partial wildcards (`f*.example.com`), which RFC 9525 no longer allows.
 * - Names compare case-insensitively, without one trailing dot (`example.com.` is the same fully
 *   qualified name), and in their ASCII form (IDNA A-labels), which is how certificates carry
 *   them; Node 20 compares a Unicode name as given, Node 22 and later convert it, so the result
 *   would otherwise depend on the Node line.
 * - An IP address matches only an IP address entry (never a DNS entry spelling it out), compared
 *   as an address, so `::1` and `0:0:0:0:0:0:0:1` are equal. A name that URL host parsing turns
 *   into an address (`127.1`, `2130706433`, `0x7f.0.0.1`, `127.0.0.1.`) is that address too: it
 *   is where the connection goes, and it must not match a DNS entry that spells the address out.
 *
 * It reads Node's already parsed `subjectaltname` text, so the check costs no second parse of
 * the certificate on the handshake path.
 */
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { domainToASCII } from 'node:url';
import { formatIp, ipBytes, sameIp } from '../transport/ip.js';

interface AltNames {
  dns: string[];
  ip: string[];
}

/**
 * The subjectAltName entries in Node's text: `DNS:a.example, IP Address:10.0.0.1`, where Node
 * writes any value holding a separator or a quote as a JSON string (`DNS:"a, b"`), and kinds it
 * cannot print as `X400Name:<unsupported>`.
 */
export function parseAltNames(text: string | undefined): AltNames {
  const names: AltNames = { dns: [], ip: [] };
  if (!text) return names;
  const entry = /\s*([A-Za-z0-9 ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/y;
  for (let match = entry.exec(text); match !== null && match[0] !== ''; match = entry.exec(text)) {
    const [, kind, raw = ''] = match;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === 'DNS') names.dns.push(value);
    else if (kind === 'IP Address') names.ip.push(value);
  }
  return names;
}

/** What a client checks the certificate for: an address, or a DNS name in the form compared. */
export type ReferenceIdentity =
  | { readonly type: 'ip'; readonly address: string }
  | { readonly type: 'dns'; readonly name: string };

/**
 * `serverName` as an address or a DNS name: lower case, ASCII (A-labels), no trailing dot, and an
 * address whatever way URL host parsing reads it as one; `null` when it is neither.
 */
export function referenceIdentity(serverName: string): ReferenceIdentity | null {
  // IDNA and address parsing cost about 1% of a resumed client handshake, and a client connects
  // to few names; the cache is bounded, and cleared whole when full.
  const known = identities.get(serverName);
  if (known !== undefined) return known;
  if (identities.size >= IDENTITY_CACHE_SIZE) identities.clear();
  const identity = parseReferenceIdentity(serverName);
  identities.set(serverName, identity);
  return identity;
}

const IDENTITY_CACHE_SIZE = 256;
const identities = new Map<string, Readonly<ReferenceIdentity> | null>();

function parseReferenceIdentity(given: string): ReferenceIdentity | null {
  // An IPv6 address as URL.hostname gives it, in brackets, is the address.
  const serverName =
    /^\[[^\]]*\]$/.test(given) && isIP(given.slice(1, -1)) === 6 ? given.slice(1, -1) : given;
  if (isIP(serverName) !== 0) return { type: 'ip', address: serverName };
  const trimmed = serverName.endsWith('.') ? serverName.slice(0, -1) : serverName;
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (ascii === '') return null;
  const bytes = isIP(ascii) !== 0 ? ipBytes(ascii) : null;
  return bytes ? { type: 'ip', address: formatIp(bytes) } : { type: 'dns', name: ascii };
}

/**
 * The name to send as SNI, which carries DNS names only (RFC 6066), never an address: the name as
 * it is verified, in A-labels and without a trailing dot, as a server choosing its certificate by
 * SNI expects it (raw UTF-8 or a trailing dot would get it its default certificate).
 */
export function sniName(serverName: string): string | undefined {
  const identity = referenceIdentity(serverName);
  return identity?.type === 'dns' ? identity.name : undefined;
}

function dnsMatches(pattern: string, host: string): boolean {
  const presented = pattern.toLowerCase().replace(/\.$/, '');
  if (!presented.startsWith('*.')) return presented === host;
  const rest = presented.slice(2);
  // A wildcard needs two labels after it, and stands for exactly one label of the host.
  if (rest.split('.').length < 2 || rest.includes('*')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === rest;
}

/** Whether `certificate` is valid for `serverName` (verify.ts explains a mismatch). */
export function checkHostname(serverName: string, certificate: PeerCertificate): boolean {
  const identity = referenceIdentity(serverName);
  if (identity === null) return false;
  const names = parseAltNames(certificate.subjectaltname);
  if (identity.type === 'ip') return names.ip.some((address) => sameIp(address, identity.address));
  return names.dns.some((pattern) => dnsMatches(pattern, identity.name));
}
