/**
 * Writes PROXY protocol headers (the format, and how it is read, are in proxy-header.ts): for
 * tests, for clients that connect through a balancer's position (`proxyHeader` of
 * `createConnection`), and for proxies written with tlskit. Everything written is checked first:
 * addresses of one family, ports, TLV types and the 65,535-byte limit of version 2.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from './errors.js';
import { ipBytes } from './ip.js';
import { checkOptionNames, type OptionNames } from './options.js';
import { crc32c } from './proxy-header-v2.js';
import { PROXY_V2_SIGNATURE, TLV } from './proxy-header-wire.js';

const ENCODE_OPTIONS: OptionNames = {
  known: ['version', 'command', 'source', 'destination', 'tlvs', 'checksum'],
};

/** What to write: a header for `encodeProxyHeader`. */
export interface ProxyHeaderInit {
  version: 1 | 2;
  /** Default `'proxy'`; `'local'` writes no addresses (version 2 only). */
  command?: 'proxy' | 'local';
  /** The client's address and the address it connected to (TCP; both the same family). */
  source?: { host: string; port: number };
  destination?: { host: string; port: number };
  /** Version 2 TLVs to add, as (type, value) pairs; `checksum: true` appends a CRC-32C TLV. */
  tlvs?: Array<{ type: number; value: Uint8Array | string }>;
  checksum?: boolean;
}

/** Writes a PROXY header: for tests, and for proxies and clients written with tlskit. */
export function encodeProxyHeader(init: ProxyHeaderInit): Uint8Array {
  checkOptionNames('encodeProxyHeader', init, ENCODE_OPTIONS);
  const { version, command = 'proxy', source, destination } = init;
  if (version !== 1 && version !== 2)
    throw new InvalidArgumentError(`proxyHeader: \`version\` must be 1 or 2, got ${String(version)}`);
  const family = proxiedFamily(init);
  if (version === 1) {
    if (command === 'local' || init.tlvs?.length || init.checksum) {
      throw new InvalidArgumentError(
        'proxyHeader: version 1 has no LOCAL command and no TLVs; use version 2',
      );
    }
    const line =
      family === null
        ? 'PROXY UNKNOWN\r\n'
        : `PROXY TCP${family} ${source!.host} ${destination!.host} ${source!.port} ${destination!.port}\r\n`;
    return Uint8Array.from(Buffer.from(line, 'latin1'));
  }
  const addresses =
    command === 'local' || family === null
      ? new Uint8Array(0)
      : v2AddressBytes(family, source!, destination!);
  const tlvBytes = (init.tlvs ?? []).map(({ type, value }) =>
    tlvRecord(type, typeof value === 'string' ? Buffer.from(value) : value),
  );
  if (init.checksum) tlvBytes.push(tlvRecord(TLV.CRC32C, new Uint8Array(4)));
  const body = concat(addresses, ...tlvBytes);
  if (body.length > 65_535)
    throw new InvalidArgumentError(`proxyHeader: ${body.length} bytes of addresses and TLVs exceed 65535`);
  const head = new Uint8Array(16);
  head.set(PROXY_V2_SIGNATURE);
  head[12] = 0x20 | (command === 'proxy' ? 1 : 0);
  head[13] = command === 'local' || family === null ? 0x00 : family === 4 ? 0x11 : 0x21;
  new DataView(head.buffer).setUint16(14, body.length);
  const header = concat(head, body);
  if (init.checksum) new DataView(header.buffer).setUint32(header.length - 4, crc32c(header));
  return header;
}

function proxiedFamily({ command = 'proxy', source, destination }: ProxyHeaderInit): 4 | 6 | null {
  if (command === 'local' || (source === undefined && destination === undefined)) return null;
  if (!source || !destination)
    throw new InvalidArgumentError('proxyHeader: give both `source` and `destination`, or neither');
  const family = isIPv4(source.host) ? 4 : isIPv6(source.host) ? 6 : 0;
  const same = family === 4 ? isIPv4(destination.host) : isIPv6(destination.host);
  if (family === 0 || !same || ipBytes(source.host) === null || ipBytes(destination.host) === null) {
    throw new InvalidArgumentError(
      `proxyHeader: \`source\` and \`destination\` must be IP addresses of one family (no zone index), got ${source.host} and ${destination.host}`,
    );
  }
  for (const { port } of [source, destination]) {
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      throw new InvalidArgumentError(`proxyHeader: port ${String(port)} is not from 0 to 65535`);
  }
  return family;
}

function v2AddressBytes(
  family: 4 | 6,
  source: { host: string; port: number },
  destination: { host: string; port: number },
): Uint8Array {
  const size = family === 4 ? 4 : 16;
  const bytes = new Uint8Array(size * 2 + 4);
  bytes.set(ipBytes(source.host)!, 0);
  bytes.set(ipBytes(destination.host)!, size);
  const view = new DataView(bytes.buffer);
  view.setUint16(size * 2, source.port);
  view.setUint16(size * 2 + 2, destination.port);
  return bytes;
}

function tlvRecord(type: number, value: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 255)
    throw new InvalidArgumentError(`proxyHeader: TLV type ${String(type)} is not a byte`);
  const record = new Uint8Array(3 + value.length);
  record[0] = type;
  new DataView(record.buffer).setUint16(1, value.length);
  record.set(value, 3);
  return record;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
