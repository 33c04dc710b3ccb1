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
 * These files are only the wire format. Here: `ProxyHeaderParser`, which reads a header from bytes
 * arriving in any split, and version 1 lines; version 2 is decoded in proxy-header-v2.ts, the types
 * and constants both share are in proxy-header-wire.ts, and `encodeProxyHeader`
 * (proxy-header-encode.ts) writes a header. Who may send one (only trusted balancers, or anyone
 * could forge their address) and how long one may take to arrive is the server's policy, decided
 * where connections are accepted. The parser never buffers more than `maxSize` bytes, so a peer
 * cannot make it hold memory, and every way a header can be wrong fails with a ProxyHeaderError
 * whose message says what was wrong where.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from './errors.js';
import { formatIp, ipBytes } from './ip.js';
import { checkOptionNames, type OptionNames } from './options.js';
import { parseV2 } from './proxy-header-v2.js';
import {
  DEFAULT_PROXY_MAX_SIZE,
  malformed,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  type ProxyHeader,
  ProxyHeaderError,
} from './proxy-header-wire.js';

export { crc32c } from './proxy-header-v2.js';
export {
  DEFAULT_PROXY_MAX_SIZE,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  type ProxyHeader,
  ProxyHeaderError,
  type ProxyHeaderErrorCode,
  type ProxyInfo,
  type ProxySslTlv,
  type ProxyTlvs,
  type ProxyTransport,
} from './proxy-header-wire.js';

const V1_PREFIX = Uint8Array.from(Buffer.from('PROXY ', 'latin1'));

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

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
