import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { InvalidArgumentError } from '../transport/errors.js';
import { encodableIp, formatIp, ipBytes } from './ip.js';
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

/** What kind of name a host entry is, and its normalised value (IP addresses as RFC 5952 writes them). */
export type HostName = { type: 'dns' | 'ip' | 'email'; value: string };

/** Classifies a host entry: DNS name or `*.` wildcard, IPv4/IPv6 address, or email address. */
export function classifyHost(where: string, host: unknown): HostName {
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidArgumentError(
      `${where}: \`hosts\` entries must be non-empty strings, got ${JSON.stringify(host)}`,
    );
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) {
    const zone = bare.indexOf('%');
    if (zone >= 0) {
      throw new InvalidArgumentError(
        `${where}: \`hosts\` entry ${JSON.stringify(host)} has a zone index ('${bare.slice(zone)}'), which a certificate cannot hold; give the address without it`,
      );
    }
    const bytes = ipBytes(bare);
    if (bytes) return { type: 'ip', value: formatIp(bytes) };
  }
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

/** The subjectAltName entry for a classified host. */
export function generalName(name: HostName): x509.JsonGeneralName {
  return name.type === 'ip' ? { type: 'ip', value: encodableIp(ipBytes(name.value)!) } : name;
}

/** Subtrees a CA may issue for: DNS suffixes (`example.com` covers its subdomains) and IP ranges (CIDR). */
export interface NameConstraintsOptions {
  permitted?: string[];
  excluded?: string[];
}

/**
 * Checks name constraints and puts IP ranges in the form @peculiar/x509 encodes correctly. A bare
 * address is refused rather than taken as a DNS name, which is what it would silently become.
 */
export function checkNameConstraints(
  where: string,
  options: NameConstraintsOptions | undefined,
): NameConstraintsOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `${where}: \`nameConstraints\` must be an object such as { permitted: ['example.com', '10.0.0.0/8'] }`,
    );
  }
  const check = (field: 'permitted' | 'excluded'): string[] | undefined => {
    const list: unknown = options[field];
    if (list === undefined) return undefined;
    if (!Array.isArray(list)) {
      throw new InvalidArgumentError(
        `${where}: \`nameConstraints.${field}\` must be an array of DNS names and CIDR ranges`,
      );
    }
    return list.map((entry: unknown, index) => {
      const label = `\`nameConstraints.${field}[${index}]\``;
      if (typeof entry !== 'string' || entry.length === 0) {
        throw new InvalidArgumentError(
          `${where}: ${label} must be a non-empty string, got ${JSON.stringify(entry)}`,
        );
      }
      const slash = entry.indexOf('/');
      if (slash < 0) {
        if (ipBytes(entry)) {
          throw new InvalidArgumentError(
            `${where}: ${label} is an address, not a range: ${JSON.stringify(entry)}; give it in CIDR form, such as '${entry}/${entry.includes(':') ? 128 : 32}'`,
          );
        }
        return entry;
      }
      const bytes = ipBytes(entry.slice(0, slash));
      const prefix = entry.slice(slash + 1);
      if (!bytes || !/^\d{1,3}$/.test(prefix) || Number(prefix) > bytes.length * 8) {
        throw new InvalidArgumentError(
          `${where}: ${label} is not a CIDR range: ${JSON.stringify(entry)}; write it like '10.0.0.0/8' or 'fd00::/8'`,
        );
      }
      return `${encodableIp(bytes)}/${Number(prefix)}`;
    });
  };
  return { permitted: check('permitted'), excluded: check('excluded') };
}
