/**
 * Reading a version 2 (binary) PROXY header: the signature is already matched by the parser
 * (proxy-header.ts); this is the rest, from version and command to the TLVs and the CRC-32C.
 * Every value is copied out of the read, since a header may be kept long after it.
 */
import { formatIp } from './ip.js';
import {
  malformed,
  type ProxyHeader,
  ProxyHeaderError,
  type ProxySslTlv,
  type ProxyTlvs,
  type ProxyTransport,
  TLV,
} from './proxy-header-wire.js';

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

/** Reads a version 2 header from `buffer`, or `null` while it is incomplete. */
export function parseV2(buffer: Uint8Array, maxSize: number): { header: ProxyHeader; length: number } | null {
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
