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
 *   as an address, so `::1` and `0:0:0:0:0:0:0:1` are equal.
 *
 * It reads Node's already parsed `subjectaltname` text, so the check costs no second parse of
 * the certificate on the handshake path.
 */
import { isIP, SocketAddress } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { domainToASCII } from 'node:url';

interface AltNames {
  dns: string[];
  ip: string[];
}

/**
 * The subjectAltName entries in Node's text: `DNS:a.example, IP Address:10.0.0.1`, where Node
 * writes any value holding a separator or a quote as a JSON string (`DNS:"a, b"`).
 */
export function parseAltNames(text: string | undefined): AltNames {
  const names: AltNames = { dns: [], ip: [] };
  if (!text) return names;
  const entry = /\s*([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/y;
  for (let match = entry.exec(text); match !== null && match[0] !== ''; match = entry.exec(text)) {
    const [, kind, raw = ''] = match;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === 'DNS') names.dns.push(value);
    else if (kind === 'IP Address') names.ip.push(value);
  }
  return names;
}

/** The form names are compared in: lower case, ASCII (A-labels), no trailing dot; '' if invalid. */
function asciiName(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return domainToASCII(trimmed.toLowerCase());
}

function sameAddress(a: string, b: string): boolean {
  const family = isIP(a);
  if (family === 0 || family !== isIP(b)) return false;
  if (family === 4) return a === b;
  const canonical = (address: string) => new SocketAddress({ address, family: 'ipv6' }).address;
  return canonical(a) === canonical(b);
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

/**
 * `undefined` when `certificate` is valid for `serverName`, else an error saying so (verify.ts
 * turns it into a CertificateError that names what the certificate does carry).
 */
export function checkHostname(serverName: string, certificate: PeerCertificate): Error | undefined {
  const names = parseAltNames(certificate.subjectaltname);
  if (isIP(serverName) !== 0) {
    if (names.ip.some((address) => sameAddress(address, serverName))) return undefined;
    return new Error(`the address ${serverName} is not among the certificate's IP addresses`);
  }
  const host = asciiName(serverName);
  if (host !== '' && names.dns.some((pattern) => dnsMatches(pattern, host))) return undefined;
  return new Error(`${serverName} is not among the certificate's DNS names`);
}
