import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  Name as AsnName,
  AttributeTypeAndValue,
  AttributeValue,
  RelativeDistinguishedName,
} from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../transport/errors.js';
import { encodableIp, formatIp, ipBytes } from '../transport/ip.js';
import { checkOptionNames } from '../transport/options.js';
import { x509 } from './keys.js';
import { PKI_OPTION_NAMES } from './option-names.js';

/**
 * A subject, as fields: `'CN=…'`-style text is not accepted (escaping is error-prone). Every value
 * is encoded verbatim (commas, quotes, `+`, a leading `#` and any Unicode included): as a
 * PrintableString when its characters allow, else as a UTF8String. `country` is two letters
 * (ISO 3166), as the X.520 PrintableString SIZE(2) type requires.
 */
export interface SubjectFields {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  state?: string;
  locality?: string;
}

/** The longest common name a subject may hold (RFC 5280 ub-common-name). */
export const MAX_COMMON_NAME = 64;

/** Field, attribute OID and the RFC 5280 upper bound on its length, in certificate order. */
const ATTRIBUTES: Array<[keyof SubjectFields, string, number]> = [
  ['country', '2.5.4.6', 2],
  ['state', '2.5.4.8', 128],
  ['locality', '2.5.4.7', 128],
  ['organization', '2.5.4.10', 64],
  ['organizationalUnit', '2.5.4.11', 64],
  ['commonName', '2.5.4.3', MAX_COMMON_NAME],
];
const FIELDS = ATTRIBUTES.map(([key]) => key as string);
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function attribute(where: string, key: keyof SubjectFields, type: string, limit: number, value: unknown) {
  if (key === 'country' && (typeof value !== 'string' || !/^[A-Za-z]{2}$/.test(value))) {
    throw new InvalidArgumentError(
      `${where}: \`subject.country\` must be a two-letter ISO 3166 code such as 'DE', got ${JSON.stringify(value)}`,
    );
  }
  const length = typeof value === 'string' ? [...value].length : 0;
  if (typeof value !== 'string' || length === 0 || length > limit) {
    throw new InvalidArgumentError(
      `${where}: \`subject.${key}\` must be a string of 1 to ${limit} characters, got ${JSON.stringify(value)}`,
    );
  }
  if (LONE_SURROGATE.test(value)) {
    throw new InvalidArgumentError(
      `${where}: \`subject.${key}\` holds an unpaired UTF-16 surrogate, which UTF-8 cannot encode: ${JSON.stringify(value)}`,
    );
  }
  // Built as ASN.1 rather than as text for @peculiar/x509 to parse: its parser strips quotes and
  // backslashes and reads a leading '#' as hex, so text cannot carry every value.
  const encoded = PRINTABLE.test(value)
    ? new AttributeValue({ printableString: value })
    : new AttributeValue({ utf8String: value });
  return new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: encoded })]);
}

/**
 * Builds a subject name from fields (or a bare common name), each value verbatim. `commonName` is
 * the default when the caller gave none; `undefined` leaves the common name out.
 */
export function subjectName(
  where: string,
  input: SubjectFields | string | undefined,
  commonName: string | undefined,
): x509.Name {
  if (input !== undefined && typeof input !== 'string' && (typeof input !== 'object' || input === null)) {
    throw new InvalidArgumentError(
      `${where}: \`subject\` must be a common name or an object of fields (${FIELDS.join(', ')}), got ${JSON.stringify(input)}`,
    );
  }
  const unknown = typeof input === 'object' ? Object.keys(input).filter((key) => !FIELDS.includes(key)) : [];
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `${where}: \`subject.${unknown[0]}\` is not a subject field; use ${FIELDS.join(', ')}`,
    );
  }
  const fields: SubjectFields = typeof input === 'string' ? { commonName: input } : { ...input };
  if (fields.commonName === undefined) fields.commonName = commonName;
  const name = new AsnName();
  for (const [key, type, limit] of ATTRIBUTES) {
    if (fields[key] !== undefined) name.push(attribute(where, key, type, limit, fields[key]));
  }
  return new x509.Name(AsnConvert.serialize(name));
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** A DNS name in A-labels: dot-separated labels of letters, digits and inner hyphens. */
function isDnsName(ascii: string): boolean {
  return ascii.length > 0 && ascii.split('.').every((label) => DNS_LABEL.test(label));
}

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
      // An rfc822Name is an IA5String: the domain goes in as its A-labels, as a DNS entry does;
      // a local part outside ASCII has no such form (that needs SmtpUTF8Mailbox, RFC 9598).
      const ascii = domainToASCII(domain);
      if (/^[\x21-\x7e]+$/.test(local) && isDnsName(ascii))
        return { type: 'email', value: `${local}@${ascii}` };
      throw new InvalidArgumentError(
        `${where}: \`hosts\` entry ${JSON.stringify(host)} is no address a certificate can hold: the part before @ must be ASCII, the domain a DNS name`,
      );
    }
  } else {
    const wildcard = host.startsWith('*.');
    const ascii = domainToASCII(wildcard ? host.slice(2) : host);
    if (!wildcard && isIP(ascii) !== 0) {
      // `127.1`, `2130706433`, `0x7f.0.0.1`: URL host parsing, and clients with it, read these as
      // an address, so as a DNS name they would be an address spelt out in a DNS entry.
      throw new InvalidArgumentError(
        `${where}: \`hosts\` entry ${JSON.stringify(host)} is read as the IP address ${ascii}; give it as ${JSON.stringify(ascii)}`,
      );
    }
    if (isDnsName(ascii)) {
      return { type: 'dns', value: wildcard ? `*.${ascii}` : ascii };
    }
  }
  throw new InvalidArgumentError(
    `${where}: \`hosts\` entry ${JSON.stringify(host)} is not a DNS name, a '*.' wildcard, an IP address or an email address${hostFix(host)}`,
  );
}

/** The likely slip behind a host entry that is none of the kinds, as a fix to append. */
function hostFix(host: string): string {
  const trimmed = host.trim();
  if (trimmed !== host) return `; remove the white space around it (${JSON.stringify(trimmed)})`;
  if (host.length > 1 && host.endsWith('.') && !host.endsWith('..')) {
    return `; give it without the trailing dot (${JSON.stringify(host.slice(0, -1))}): certificates name hosts without it, and clients drop it before they match`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) return '; give the host name alone, not a URL';
  const port = /^(.+):\d{1,5}$/.exec(host);
  if (port) return `; give it without the port (${JSON.stringify(port[1])})`;
  return '';
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
  checkOptionNames(where, options, PKI_OPTION_NAMES.nameConstraints);
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
        return dnsSubtree(where, label, entry);
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

/**
 * A DNS name constraint: a domain (`example.com`, covering it and its subdomains) or, as some CAs
 * write it, `.example.com` (subdomains only); in A-labels. A wildcard means nothing there.
 */
function dnsSubtree(where: string, label: string, entry: string): string {
  const dot = entry.startsWith('.') ? '.' : '';
  const ascii = domainToASCII(entry.slice(dot.length));
  if (entry.includes('*')) {
    throw new InvalidArgumentError(
      `${where}: ${label} ${JSON.stringify(entry)} is a wildcard; a constraint covers a domain and all below it already, so write ${JSON.stringify(entry.replace(/^\*\.?/, ''))}`,
    );
  }
  if (!isDnsName(ascii)) {
    throw new InvalidArgumentError(
      `${where}: ${label} ${JSON.stringify(entry)} is neither a DNS name (such as 'example.com') nor a CIDR range (such as '10.0.0.0/8')`,
    );
  }
  return `${dot}${ascii}`;
}
