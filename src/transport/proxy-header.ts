/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
 * ==========================================================================
 *
 * A load balancer that relays TCP (HAProxy, AWS NLB, Envoy) can open each connection with a
 * header naming the client's real address, so that the server behind it sees more than the
 * balancer's. Version 1 is one line of text ("PROXY TCP4 src dst sport dport\r\n", at most 107
 * bytes); version 2 is binary: a 12-byte signature, version and command, address family and
 * transport, a length, the addresses, then type-length-value records (TLVs) such as the ALPN and
 * SNI the balancer saw, a unique connection id, an optional CRC-32C of the whole header.
 *
 * This file is only the wire format: `ProxyHeaderParser` reads a header from bytes arriving in any
 * split; `encodeProxyHeader` (proxy-header-encode.ts) writes one. Who may send a header (only trusted balancers, or anyone
 * could forge their address) and how long one may take to arrive is the server's policy, decided
 * where connections are accepted. The parser never buffers more than `maxSize` bytes, so a peer
 * cannot make it hold memory, and every way a header can be wrong fails with a ProxyHeaderError
 * whose message says what was wrong where.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError, TlskitError } from './errors.js';
import { formatIp, ipBytes } from './ip.js';
import { checkOptionNames, type OptionNames } from './options.js';
import type { Address } from './transport.js';

/** What the balancer relayed: the transport it received the client over. */
export type ProxyTransport = 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix-stream' | 'unix-dgram' | 'unknown';

/** The TLVs of a version 2 header, the well-known ones decoded. */
export interface ProxyTlvs {
  /** PP2_TYPE_ALPN: the protocol the client negotiated with the balancer. */
  alpn?: string;
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (SNI or Host). */
  authority?: string;
  /** PP2_TYPE_UNIQUE_ID: an opaque connection id of at most 128 bytes. */
  uniqueId?: Uint8Array;
  /** PP2_TYPE_NETNS: the network namespace the connection came from. */
  netns?: string;
  /** PP2_TYPE_SSL: what the balancer learnt if it terminated TLS itself. */
  ssl?: ProxySslTlv;
  /** Every TLV as received, in order, the ones above included (custom and unknown types too). */
  all: Array<{ type: number; value: Uint8Array }>;
}

/** The PP2_TYPE_SSL record. */
export interface ProxySslTlv {
  /** The PP2_CLIENT_* bits: 1 SSL, 2 a certificate on this connection, 4 one in the session. */
  client: number;
  /**
   * Whether the client presented a certificate (bit 2 or 4 of `client`) and it was verified (the
   * `verify` field is 0). A zero `verify` alone means nothing: HAProxy sends 0 for every
   * connection that had no certificate, TLS or not.
   */
  verified: boolean;
  version?: string;
  commonName?: string;
  cipher?: string;
  signatureAlgorithm?: string;
  keyAlgorithm?: string;
}

/** A PROXY protocol header. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * `'proxy'`: relayed on behalf of a client, whose addresses follow. `'local'`: the balancer's own
   * connection (a health check); the addresses are meaningless and the real ends apply.
   */
  command: 'proxy' | 'local';
  transport: ProxyTransport;
  /** The client's address as the balancer saw it; `null` for `local` and `unknown`. */
  source: Address | null;
  /** The address the client connected to; `null` likewise. */
  destination: Address | null;
  /** Version 2 TLVs (always empty for version 1). */
  tlvs: ProxyTlvs;
}

/** What a trusted proxy said about a connection, as `info.proxy` reports it. */
export interface ProxyInfo extends ProxyHeader {
  /** The proxy's own address (the socket's peer); `null` over a Unix socket. */
  via: Address | null;
}

/** Codes of ProxyHeaderError. */
export type ProxyHeaderErrorCode =
  | 'ERR_PROXY_MALFORMED'
  | 'ERR_PROXY_TOO_LARGE'
  | 'ERR_PROXY_VERSION'
  | 'ERR_PROXY_CHECKSUM'
  | 'ERR_PROXY_TRUNCATED'
  | 'ERR_PROXY_UNTRUSTED';

/** A PROXY protocol header that could not be read. */
export class ProxyHeaderError extends TlskitError {
  declare readonly code: ProxyHeaderErrorCode;

  constructor(code: ProxyHeaderErrorCode, message: string) {
    super(code, message);
  }
}

/** The version 2 signature. */
export const PROXY_V2_SIGNATURE = Uint8Array.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Uint8Array.from(Buffer.from('PROXY ', 'latin1'));
/** The longest version 1 line the specification allows, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;
/** Default `maxSize`: a version 2 header with room for many TLVs. */
export const DEFAULT_PROXY_MAX_SIZE = 4096;

/** @internal The TLV types this file decodes (the encoder appends CRC32C). */
export const TLV = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
};
/** PP2_TYPE_SSL `client` bits: a certificate on this connection, or one in the resumed session. */
const PP2_CLIENT_CERT_CONN = 0x02;
const PP2_CLIENT_CERT_SESS = 0x04;
const SSL_SUB = {
  33: 'version',
  34: 'commonName',
  35: 'cipher',
  36: 'signatureAlgorithm',
  37: 'keyAlgorithm',
} as const;

/**
 * Whether `bytes` (the first bytes of a connection, possibly few) could be the start of a PROXY
 * header of either version. A TLS ClientHello starts with 0x16, so one byte usually decides.
 */
export function mayBeProxyHeader(bytes: Uint8Array): boolean {
  return startsLike(bytes, V1_PREFIX) || startsLike(bytes, PROXY_V2_SIGNATURE);
}

function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return n > 0;
}

/** What `ProxyHeaderParser.push` found: more bytes needed, or the header and the bytes after it. */
export type ProxyParse = { done: false } | { done: true; header: ProxyHeader; rest: Uint8Array };

const PARSER_OPTIONS: OptionNames = { known: ['versions', 'maxSize'] };

/** Options of ProxyHeaderParser. */
export interface ProxyParserOptions {
  /** The versions to accept (default both). A header of another version is refused. */
  versions?: ReadonlyArray<1 | 2>;
  /** Most bytes a header may have, version 2 TLVs included (default 4096). */
  maxSize?: number;
}

/**
 * Reads one PROXY header from the start of a byte stream, fed in pieces of any size. Bytes after
 * the header are handed back as `rest`; they belong to whatever follows (a TLS ClientHello).
 */
export class ProxyHeaderParser {
  readonly #versions: ReadonlySet<number>;
  readonly #maxSize: number;
  /** The bytes of an incomplete header: `#store`'s first `#length` bytes. */
  #store: Uint8Array = new Uint8Array(0);
  #length = 0;
  #finished = false;

  constructor(options: ProxyParserOptions = {}) {
    checkOptionNames('ProxyHeaderParser', options, PARSER_OPTIONS);
    const versions = options.versions ?? [1, 2];
    if (!Array.isArray(versions) || versions.length === 0 || versions.some((v) => v !== 1 && v !== 2)) {
      throw new InvalidArgumentError(
        `proxyProtocol: \`versions\` must list 1, 2 or both, got ${JSON.stringify(versions)}`,
      );
    }
    const maxSize = options.maxSize ?? DEFAULT_PROXY_MAX_SIZE;
    if (!Number.isInteger(maxSize) || maxSize < 16 + 12 || maxSize > 16 + 65_535) {
      throw new InvalidArgumentError(
        `proxyProtocol: \`maxSize\` must be a whole number of bytes from 28 to 65551, got ${String(maxSize)}`,
      );
    }
    this.#versions = new Set(versions);
    this.#maxSize = maxSize;
  }

  /** Bytes held while the header is incomplete. */
  get bufferedBytes(): number {
    return this.#length;
  }

  /**
   * The bytes so far: `chunk` itself when nothing was held (the usual case, a header arriving in
   * one read), else the held bytes with `chunk` appended. The store grows by doubling, so bytes
   * arriving one at a time cost linear time; the parsers refuse a header past `maxSize` before it
   * can grow further.
   */
  #append(chunk: Uint8Array): Uint8Array {
    if (this.#length === 0) return chunk;
    const length = this.#length + chunk.length;
    if (length > this.#store.length) {
      const grown = new Uint8Array(Math.max(length, this.#store.length * 2));
      grown.set(this.#store.subarray(0, this.#length));
      this.#store = grown;
    }
    this.#store.set(chunk, this.#length);
    return this.#store.subarray(0, length);
  }

  #hold(bytes: Uint8Array): void {
    if (bytes.buffer !== this.#store.buffer) {
      this.#store = Uint8Array.from(bytes); // a copy: the caller's chunk is not ours to keep
    }
    this.#length = bytes.length;
  }

  /** Feeds the next bytes. Throws a ProxyHeaderError as soon as the bytes cannot be a header. */
  push(chunk: Uint8Array): ProxyParse {
    if (this.#finished) throw new InvalidArgumentError('ProxyHeaderParser: the header was already read');
    if (chunk.length === 0) return { done: false };
    const buffer = this.#append(chunk);
    if (!mayBeProxyHeader(buffer)) {
      throw new ProxyHeaderError(
        'ERR_PROXY_MALFORMED',
        `the connection did not start with a PROXY header (first bytes ${hex(buffer.subarray(0, 8))})`,
      );
    }
    const v2 = startsLike(buffer, PROXY_V2_SIGNATURE) && !startsLike(buffer, V1_PREFIX);
    if (!this.#versions.has(v2 ? 2 : 1)) {
      throw new ProxyHeaderError(
        'ERR_PROXY_VERSION',
        `a PROXY protocol version ${v2 ? 2 : 1} header arrived; this server accepts version ${[...this.#versions].join(' and ')} only`,
      );
    }
    const result = v2 ? parseV2(buffer, this.#maxSize) : parseV1(buffer, this.#maxSize);
    if (result === null) {
      this.#hold(buffer);
      return { done: false };
    }
    this.#finished = true;
    this.#store = new Uint8Array(0);
    this.#length = 0;
    return { done: true, header: result.header, rest: buffer.subarray(result.length) };
  }

  /**
   * The stream ended (or the deadline passed) with this much of a header: the error to report.
   * Call it only when no header was completed.
   */
  truncated(why = 'the connection ended'): ProxyHeaderError {
    return new ProxyHeaderError(
      'ERR_PROXY_TRUNCATED',
      `${why} after ${this.#length} bytes of an incomplete PROXY header`,
    );
  }
}

function parseV1(buffer: Uint8Array, maxSize: number): { header: ProxyHeader; length: number } | null {
  const limit = Math.min(PROXY_V1_MAX_LENGTH, maxSize);
  const end = buffer.indexOf(0x0a);
  if (end === -1) {
    if (buffer.length >= limit) {
      throw new ProxyHeaderError(
        'ERR_PROXY_TOO_LARGE',
        `a PROXY version 1 line longer than ${limit} bytes (no line end within them)`,
      );
    }
    return null;
  }
  if (end + 1 > limit) {
    throw new ProxyHeaderError(
      'ERR_PROXY_TOO_LARGE',
      `a PROXY version 1 line of ${end + 1} bytes (at most ${limit})`,
    );
  }
  if (buffer[end - 1] !== 0x0d) throw malformed('version 1 line does not end with CRLF');
  const line = Buffer.from(buffer.subarray(0, end - 1)).toString('latin1');
  return { header: v1Header(line), length: end + 1 };
}

function v1Header(line: string): ProxyHeader {
  const fields = line.split(' ');
  const protocol = fields[1];
  if (protocol === 'UNKNOWN') {
    // The rest of the line may hold anything and is to be ignored.
    return {
      version: 1,
      command: 'proxy',
      transport: 'unknown',
      source: null,
      destination: null,
      tlvs: { all: [] },
    };
  }
  if (protocol !== 'TCP4' && protocol !== 'TCP6') {
    throw malformed(
      `version 1 protocol must be TCP4, TCP6 or UNKNOWN, got ${JSON.stringify(protocol ?? '')}`,
    );
  }
  if (fields.length !== 6)
    throw malformed(`version 1 line needs 6 fields separated by single spaces, got ${fields.length}`);
  const [, , sourceHost, destinationHost, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const valid = protocol === 'TCP4' ? isIPv4 : isIPv6;
  for (const [what, host] of [
    ['source', sourceHost],
    ['destination', destinationHost],
  ] as const) {
    if (!valid(host) || ipBytes(host) === null)
      throw malformed(
        `version 1 ${what} address ${JSON.stringify(host)} is not an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`,
      );
  }
  return {
    version: 1,
    command: 'proxy',
    transport: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
    source: { host: canonical(sourceHost), port: v1Port('source', sourcePort) },
    destination: { host: canonical(destinationHost), port: v1Port('destination', destinationPort) },
    tlvs: { all: [] },
  };
}

/** An address in one form whatever the spelling (RFC 5952, as Node prints a socket's address). */
function canonical(host: string): string {
  return formatIp(ipBytes(host)!);
}

function v1Port(what: string, text: string): number {
  const port = /^(0|[1-9]\d{0,4})$/.test(text) ? Number(text) : Number.NaN;
  if (!(port <= 65_535))
    throw malformed(`version 1 ${what} port ${JSON.stringify(text)} is not a number from 0 to 65535`);
  return port;
}

function parseV2(buffer: Uint8Array, maxSize: number): { header: ProxyHeader; length: number } | null {
  if (buffer.length < 16) return null;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const versionCommand = buffer[12]!;
  if (versionCommand >> 4 !== 2)
    throw malformed(`version 2 signature with version nibble ${versionCommand >> 4}, not 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw malformed(`version 2 command ${command} is neither LOCAL (0) nor PROXY (1)`);
  const length = 16 + view.getUint16(14);
  if (length > maxSize) {
    throw new ProxyHeaderError(
      'ERR_PROXY_TOO_LARGE',
      `a PROXY version 2 header of ${length} bytes (at most ${maxSize})`,
    );
  }
  if (buffer.length < length) return null;
  // LOCAL (a health check from the balancer itself) and an UNSPEC family carry nothing to read:
  // the specification has the receiver discard the block, family included, and use the real ends.
  if (command === 0 || buffer[13] === 0x00) {
    const unknown = { transport: 'unknown' as const, source: null, destination: null, tlvs: { all: [] } };
    return { header: { version: 2, command: command === 1 ? 'proxy' : 'local', ...unknown }, length };
  }
  const header = buffer.subarray(0, length);
  const { transport, addressLength } = v2Family(buffer[13]!);
  if (16 + addressLength > length) {
    throw malformed(
      `version 2 header of ${length} bytes is too short for its ${transport} addresses (${addressLength} bytes)`,
    );
  }
  const addresses = v2Addresses(header, transport);
  const tlvs = v2Tlvs(header, 16 + addressLength);
  return { header: { version: 2, command: 'proxy', transport, ...addresses, tlvs }, length };
}

const FAMILIES: Record<number, { transport: ProxyTransport; addressLength: number }> = {
  17: { transport: 'tcp4', addressLength: 12 },
  18: { transport: 'udp4', addressLength: 12 },
  33: { transport: 'tcp6', addressLength: 36 },
  34: { transport: 'udp6', addressLength: 36 },
  49: { transport: 'unix-stream', addressLength: 216 },
  50: { transport: 'unix-dgram', addressLength: 216 },
};

function v2Family(byte: number): { transport: ProxyTransport; addressLength: number } {
  const family = FAMILIES[byte];
  if (!family)
    throw malformed(
      `version 2 address family and transport byte 0x${byte.toString(16).padStart(2, '0')} is not one the specification defines`,
    );
  return family;
}

function v2Addresses(
  header: Uint8Array,
  transport: ProxyTransport,
): Pick<ProxyHeader, 'source' | 'destination'> {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (transport === 'tcp4' || transport === 'udp4') {
    return {
      source: { host: header.subarray(16, 20).join('.'), port: view.getUint16(24) },
      destination: { host: header.subarray(20, 24).join('.'), port: view.getUint16(26) },
    };
  }
  if (transport === 'tcp6' || transport === 'udp6') {
    return {
      source: { host: formatIp(header.slice(16, 32)), port: view.getUint16(48) },
      destination: { host: formatIp(header.slice(32, 48)), port: view.getUint16(50) },
    };
  }
  if (transport === 'unix-stream' || transport === 'unix-dgram') {
    return {
      source: { path: unixPath(header.subarray(16, 124)) },
      destination: { path: unixPath(header.subarray(124, 232)) },
    };
  }
  return { source: null, destination: null };
}

function v2Tlvs(header: Uint8Array, start: number): ProxyTlvs {
  const tlvs: ProxyTlvs = { all: [] };
  for (let offset = start; offset < header.length; ) {
    if (offset + 3 > header.length)
      throw malformed(`version 2 TLV at byte ${offset} is cut off in its type or length`);
    const type = header[offset]!;
    const size = (header[offset + 1]! << 8) | header[offset + 2]!;
    // A copy: a header may be kept long after the read it came in.
    const value = header.slice(offset + 3, offset + 3 + size);
    if (value.length !== size)
      throw malformed(
        `version 2 TLV 0x${type.toString(16)} at byte ${offset} says ${size} bytes, ${value.length} remain`,
      );
    if (type === TLV.CRC32C) checkCrc(header, offset + 3, value);
    decodeTlv(tlvs, type, value, offset);
    tlvs.all.push({ type, value });
    offset += 3 + size;
  }
  return tlvs;
}

function decodeTlv(tlvs: ProxyTlvs, type: number, value: Uint8Array, offset: number): void {
  const text = () => Buffer.from(value).toString('utf8');
  if (type === TLV.ALPN) tlvs.alpn = text();
  else if (type === TLV.AUTHORITY) tlvs.authority = text();
  else if (type === TLV.NETNS) tlvs.netns = text();
  else if (type === TLV.UNIQUE_ID) {
    if (value.length > 128)
      throw malformed(`version 2 unique id at byte ${offset} has ${value.length} bytes (at most 128)`);
    tlvs.uniqueId = value;
  } else if (type === TLV.SSL) tlvs.ssl = sslTlv(value, offset);
}

function sslTlv(value: Uint8Array, offset: number): ProxySslTlv {
  if (value.length < 5)
    throw malformed(`version 2 SSL TLV at byte ${offset} is shorter than its 5-byte head`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const client = value[0]!;
  const certificate = (client & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS)) !== 0;
  const ssl: ProxySslTlv = { client, verified: certificate && view.getUint32(1) === 0 };
  for (let at = 5; at < value.length; ) {
    if (at + 3 > value.length) throw malformed(`version 2 SSL sub-TLV at byte ${offset + 3 + at} is cut off`);
    const type = value[at]!;
    const size = (value[at + 1]! << 8) | value[at + 2]!;
    if (at + 3 + size > value.length)
      throw malformed(`version 2 SSL sub-TLV 0x${type.toString(16)} overruns its TLV`);
    const field = SSL_SUB[type as keyof typeof SSL_SUB];
    if (field) ssl[field] = Buffer.from(value.subarray(at + 3, at + 3 + size)).toString('utf8');
    at += 3 + size;
  }
  return ssl;
}

function checkCrc(header: Uint8Array, at: number, value: Uint8Array): void {
  if (value.length !== 4) throw malformed(`version 2 CRC32C TLV has ${value.length} bytes, not 4`);
  const zeroed = Uint8Array.from(header);
  zeroed.fill(0, at, at + 4);
  const expected = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
  const actual = crc32c(zeroed);
  if (actual !== expected) {
    throw new ProxyHeaderError(
      'ERR_PROXY_CHECKSUM',
      `version 2 header checksum is 0x${expected.toString(16)}, the bytes give 0x${actual.toString(16)}`,
    );
  }
}

function unixPath(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end === -1 ? bytes.length : end)).toString('utf8');
}

let crcTable: Uint32Array | null = null;

/** CRC-32C (Castagnoli), as PP2_TYPE_CRC32C uses. */
export function crc32c(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function malformed(what: string): ProxyHeaderError {
  return new ProxyHeaderError('ERR_PROXY_MALFORMED', `malformed PROXY header: ${what}`);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
