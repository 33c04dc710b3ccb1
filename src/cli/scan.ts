/**
 * `tlskit connect --versions`: which TLS versions and cipher suites a server accepts, a small
 * sslscan made of observation handshakes (probe.ts; they read and send no data).
 *
 * How. For each version, one handshake offers every candidate suite of that version; the suite the
 * server picks is recorded and dropped from the offer, and the next handshake offers the rest, until
 * the server refuses. That takes one handshake per accepted suite plus one, instead of one per
 * candidate, and lists the suites in the order the server chose them (its preference, when it has
 * one). The versions are scanned side by side (at most four handshakes at a time, each with its
 * own deadline), since a server such as `openssl s_server` serves one connection at a time anyway.
 *
 * Candidates are the suites this Node's OpenSSL knows (`tls.getCiphers()`), at security level 0 so
 * that TLS 1.0 and 1.1 and weak suites can be offered at all: a scan must be able to see what a
 * safe client would refuse. PSK and SRP suites are left out (they need secrets a scan has not got).
 * SSL 2 and 3 cannot be offered by Node at all and are not scanned.
 */
import tls from 'node:tls';
import { type ProbeOptions, probe } from './probe.js';

/** The versions scanned, oldest first. */
export const SCANNED_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type ScannedVersion = (typeof SCANNED_VERSIONS)[number];

/** A suite the server accepted. */
export interface AcceptedSuite {
  /** OpenSSL's name, as sslscan prints it: `ECDHE-RSA-AES128-GCM-SHA256`, `TLS_AES_128_GCM_SHA256`. */
  name: string;
  /** The IANA name: `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`. */
  standardName: string;
  /** The key-exchange group the server chose with it, or `null` (static RSA). */
  group: string | null;
}

/** One version's result. */
export interface VersionResult {
  version: ScannedVersion;
  accepted: boolean;
  /** The suites accepted with this version, in the order the server chose them. */
  suites: AcceptedSuite[];
}

/** The suites `tls.getCiphers()` knows for a version, in OpenSSL's names. */
export function candidateSuites(version: ScannedVersion): string[] {
  const all = tls.getCiphers().map((name) => name.toUpperCase());
  if (version === 'TLSv1.3') return all.filter((name) => name.startsWith('TLS_'));
  return all.filter((name) => !name.startsWith('TLS_') && !/PSK|SRP/.test(name));
}

function offer(version: ScannedVersion, suites: readonly string[]): string {
  return version === 'TLSv1.3' ? suites.join(':') : `${suites.join(':')}:@SECLEVEL=0`;
}

async function scanVersion(
  version: ScannedVersion,
  base: Omit<ProbeOptions, 'minVersion' | 'maxVersion' | 'ciphers'>,
): Promise<VersionResult> {
  const remaining = candidateSuites(version);
  const suites: AcceptedSuite[] = [];
  while (remaining.length > 0) {
    const seen = await probe({
      ...base,
      minVersion: version,
      maxVersion: version,
      ciphers: offer(version, remaining),
    }).catch(() => null);
    if (!seen || seen.protocol !== version) break;
    const chosen = remaining.indexOf(seen.cipher.name.toUpperCase());
    // A suite we did not offer would be a broken server; stop rather than loop.
    if (chosen < 0) break;
    remaining.splice(chosen, 1);
    suites.push({ name: seen.cipher.name, standardName: seen.cipher.standardName, group: seen.group });
  }
  return { version, accepted: suites.length > 0, suites };
}

/** Scans every version in SCANNED_VERSIONS; `base` gives the target, SNI, ALPN and the deadline. */
export function scanVersions(
  base: Omit<ProbeOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'socket'>,
): Promise<VersionResult[]> {
  return Promise.all(SCANNED_VERSIONS.map((version) => scanVersion(version, base)));
}
