/**
 * Just enough DER to explain a rejected chain precisely: a certificate's signature algorithm and
 * path-length constraint, the serial numbers a CRL revokes, and whose CRL it is. Node's X509Certificate exposes
 * neither; everything else comes from it. Parsing never throws on malformed input: it returns
 * what it could read.
 */

interface Node {
  tag: number;
  start: number;
  end: number;
}

function read(bytes: Uint8Array, offset: number): Node | null {
  if (offset + 2 > bytes.length) return null;
  const tag = bytes[offset]!;
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > bytes.length) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    start += count;
  }
  const end = start + length;
  return end > bytes.length ? null : { tag, start, end };
}

function children(bytes: Uint8Array, parent: Node): Node[] {
  const list: Node[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const node = read(bytes, offset);
    if (!node) break;
    list.push(node);
    offset = node.end;
  }
  return list;
}

function oid(bytes: Uint8Array, node: Node): string {
  const parts: number[] = [];
  let value = 0;
  for (let i = node.start; i < node.end; i++) {
    value = value * 128 + (bytes[i]! & 0x7f);
    if (!(bytes[i]! & 0x80)) {
      if (parts.length === 0)
        parts.push(Math.min(2, Math.floor(value / 40)), value - Math.min(2, Math.floor(value / 40)) * 40);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

function hex(bytes: Uint8Array, node: Node): string {
  return Buffer.from(bytes.subarray(node.start, node.end))
    .toString('hex')
    .toUpperCase()
    .replace(/^(00)+(?=.)/, '');
}

const SEQUENCE = 0x30;
const OID = 0x06;
const OCTET_STRING = 0x04;
const BOOLEAN = 0x01;
const INTEGER = 0x02;

/** What `certificateFacts` reads from a DER certificate. */
export interface CertificateFacts {
  /** OID of the algorithm the issuer signed with, e.g. `1.2.840.113549.1.1.11` (sha256WithRSA). */
  signatureAlgorithm: string | undefined;
  /** The basicConstraints path length, when the certificate sets one. */
  pathLength: number | undefined;
}

/** Reads a DER certificate's signature algorithm and path-length constraint. */
export function certificateFacts(der: Uint8Array): CertificateFacts {
  const facts: CertificateFacts = { signatureAlgorithm: undefined, pathLength: undefined };
  const root = read(der, 0);
  if (!root || root.tag !== SEQUENCE) return facts;
  const [tbs, algorithm] = children(der, root);
  const algorithmOid = algorithm ? children(der, algorithm)[0] : undefined;
  if (algorithmOid?.tag === OID) facts.signatureAlgorithm = oid(der, algorithmOid);
  if (!tbs) return facts;
  const extensionsWrapper = children(der, tbs).find((node) => node.tag === 0xa3);
  const extensions = extensionsWrapper ? children(der, extensionsWrapper)[0] : undefined;
  if (!extensions) return facts;
  for (const extension of children(der, extensions)) {
    const parts = children(der, extension);
    if (parts[0]?.tag !== OID || oid(der, parts[0]) !== '2.5.29.19') continue;
    const value = parts.find((node) => node.tag === OCTET_STRING);
    const constraints = value ? read(der, value.start) : null;
    if (!constraints) break;
    for (const field of children(der, constraints)) {
      if (field.tag === INTEGER) facts.pathLength = Number.parseInt(hex(der, field) || '0', 16);
      else if (field.tag !== BOOLEAN) break;
    }
  }
  return facts;
}

/** Serial numbers (uppercase hex, no leading zeros) a DER CRL lists as revoked. */
export function revokedSerials(der: Uint8Array): Set<string> {
  const serials = new Set<string>();
  const root = read(der, 0);
  const tbs = root ? children(der, root)[0] : undefined;
  if (!tbs) return serials;
  // The revoked list is the only SEQUENCE of SEQUENCEs that starts with an INTEGER.
  for (const field of children(der, tbs)) {
    if (field.tag !== SEQUENCE) continue;
    const entries = children(der, field);
    if (entries.length === 0 || entries[0]!.tag !== SEQUENCE) continue;
    const first = children(der, entries[0]!)[0];
    if (first?.tag !== INTEGER) continue;
    for (const entry of entries) {
      const serial = children(der, entry)[0];
      if (serial?.tag === INTEGER) serials.add(hex(der, serial));
    }
  }
  return serials;
}

/**
 * The issuer Name of a DER certificate or CRL, as hex of its DER encoding (equal names encode
 * equally here: both come from the same CA), or `undefined` if it cannot be read.
 */
export function issuerName(der: Uint8Array): string | undefined {
  const root = read(der, 0);
  const tbs = root ? children(der, root)[0] : undefined;
  if (!tbs) return undefined;
  const fields = children(der, tbs);
  // A certificate's TBS may open with an explicit [0] version, a CRL's with an INTEGER version;
  // then come the serial number (certificates only), the signature algorithm, and the issuer.
  let index = fields[0]?.tag === 0xa0 || fields[0]?.tag === INTEGER ? 1 : 0;
  if (fields[index]?.tag === INTEGER) index++;
  const issuer = fields[index + 1];
  if (fields[index]?.tag !== SEQUENCE || issuer?.tag !== SEQUENCE) return undefined;
  return Buffer.from(der.subarray(issuer.start, issuer.end)).toString('hex');
}

/** Signature algorithms OpenSSL rejects as too weak at security level 2. */
export const WEAK_SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'MD5 with RSA',
  '1.2.840.113549.1.1.5': 'SHA-1 with RSA',
  '1.2.840.10045.4.1': 'ECDSA with SHA-1',
  '1.2.840.10040.4.3': 'DSA with SHA-1',
  '1.3.14.3.2.29': 'SHA-1 with RSA',
};
