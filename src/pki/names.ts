import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { InvalidArgumentError } from '../transport/errors.js';
import type { x509 } from './keys.js';

/** A subject: `'CN=…'`-style text is not accepted (escaping is error-prone); give the fields. */
export interface SubjectFields {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  state?: string;
  locality?: string;
}

const ATTRIBUTES: Array<[keyof SubjectFields, string]> = [
  ['country', 'C'],
  ['state', 'ST'],
  ['locality', 'L'],
  ['organization', 'O'],
  ['organizationalUnit', 'OU'],
  ['commonName', 'CN'],
];

/** Builds a subject name from fields (or a bare common name). */
export function subjectName(
  where: string,
  input: SubjectFields | string | undefined,
  commonName: string,
): x509.JsonName {
  const fields: SubjectFields = typeof input === 'string' ? { commonName: input } : { commonName, ...input };
  if (typeof input === 'object' && input !== null && input.commonName === undefined)
    fields.commonName = commonName;
  const name: x509.JsonName = [];
  for (const [key, type] of ATTRIBUTES) {
    const value = fields[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
      throw new InvalidArgumentError(
        `${where}: \`subject.${key}\` must be a string of 1 to 64 characters, got ${JSON.stringify(value)}`,
      );
    }
    name.push({ [type]: [value] });
  }
  return name;
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** What kind of name a host entry is, and its normalised value. */
export type HostName = { type: 'dns' | 'ip' | 'email'; value: string };

/** Classifies a host entry: DNS name or `*.` wildcard, IPv4/IPv6 address, or email address. */
export function classifyHost(where: string, host: unknown): HostName {
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidArgumentError(
      `${where}: \`hosts\` entries must be non-empty strings, got ${JSON.stringify(host)}`,
    );
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) return { type: 'ip', value: bare };
  if (host.includes('@')) {
    const [local, domain] = host.split('@');
    if (local && domain && !/\s/.test(host) && host.split('@').length === 2 && domain.includes('.')) {
      return { type: 'email', value: host };
    }
  } else {
    const wildcard = host.startsWith('*.');
    const ascii = domainToASCII(wildcard ? host.slice(2) : host);
    if (ascii.length > 0 && ascii.split('.').every((label) => DNS_LABEL.test(label))) {
      return { type: 'dns', value: wildcard ? `*.${ascii}` : ascii };
    }
  }
  throw new InvalidArgumentError(
    `${where}: \`hosts\` entry ${JSON.stringify(host)} is not a DNS name, a '*.' wildcard, an IP address or an email address`,
  );
}

/** The subjectAltName entries for `hosts`. */
export function altNames(where: string, hosts: readonly unknown[]): x509.JsonGeneralName[] {
  return hosts.map((host) => classifyHost(where, host));
}
