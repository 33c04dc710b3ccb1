/**
 * The checks of UDP addresses, for createDatagramEndpoint's `local` and `remote` and for the `to`
 * of each unconnected send: node:dgram would otherwise throw its own errors (no field, no fix),
 * wrap a port modulo 65536, bind every interface for a misspelt `local`, or drop a datagram of the
 * other address family without a word.
 */
import { isIP } from 'node:net';
import { type DatagramAddress, MAX_UDP4_PAYLOAD } from './datagram-base.js';
import { InvalidArgumentError, LimitExceededError } from './errors.js';
import { ipBytes, unmappedIp } from './ip.js';
import { checkOptionNames, type OptionNames, shown } from './options.js';

export type UdpType = 'udp4' | 'udp6';

const WHERE = 'createDatagramEndpoint';
/** The largest buffer size node:dgram takes (an int); larger ones it refuses inside the bind. */
export const MAX_BUFFER_SIZE = 2 ** 31 - 1;

const LOCAL_NAMES: OptionNames = { known: ['host', 'port'], path: 'local' };
const REMOTE_NAMES: OptionNames = { known: ['host', 'port'], path: 'remote' };

export function checkBufferSize(field: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_BUFFER_SIZE) {
    throw new InvalidArgumentError(
      `${WHERE}: \`${field}\` must be a positive integer of bytes up to ${MAX_BUFFER_SIZE}, got ${shown(value)}; the kernel caps it anyway (Linux: net.core.wmem_max/rmem_max)`,
    );
  }
}

/** `local` is `{ host?, port? }`: a typo or a string would otherwise bind every interface. */
export function checkLocal(value: unknown): Partial<DatagramAddress> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(
      `${WHERE}: \`local\` must be { host?, port? } such as { host: '127.0.0.1', port: 0 }, got ${shown(value)}`,
    );
  }
  checkOptionNames(WHERE, value, LOCAL_NAMES);
  const { host, port } = value as Partial<DatagramAddress>;
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new InvalidArgumentError(
      `${WHERE}: \`local.host\` must be an address or host name to bind, got ${shown(host)}; omit it for every interface`,
    );
  }
  if (port !== undefined && !isPort(port, 0)) {
    throw new InvalidArgumentError(
      `${WHERE}: \`local.port\` must be an integer from 0 to 65535 (0: the OS chooses), got ${shown(port)}`,
    );
  }
  return { host, port };
}

/** `remote` is `{ host, port }` with a port from 1 to 65535. */
export function checkRemote(value: unknown): void {
  if (value === undefined) return;
  if (typeof value === 'object' && value !== null) checkOptionNames(WHERE, value, REMOTE_NAMES);
  if (!isAddress(value)) {
    throw new InvalidArgumentError(
      `${WHERE}: \`remote\` must be { host, port } with a port from 1 to 65535, got ${JSON.stringify(value)}`,
    );
  }
}

/** The `to` of a send: an address to reach, of the endpoint's family. */
export function checkTo(type: UdpType, to: unknown): void {
  if (!isAddress(to)) {
    throw new InvalidArgumentError(
      `send: \`to\` must be { host, port } with a host string and a port from 1 to 65535, got ${describe(to)}; a reply goes to the \`from\` of datagramReceived`,
    );
  }
  const family = otherFamily(type, to.host);
  if (family !== 0) {
    const fix =
      type === 'udp4'
        ? 'send IPv6 from a udp6 endpoint'
        : `spell it ::ffff:${to.host} (a udp6 endpoint bound to :: reaches IPv4 so), or send from a udp4 endpoint`;
    throw new InvalidArgumentError(
      `send: \`to.host\` ${JSON.stringify(to.host)} is an IPv${family} address but this endpoint is '${type}'; ${fix}`,
    );
  }
}

/** An address literal of the other family cannot work on this socket: say so before the bind. */
export function checkFamily(type: UdpType, field: string, host: string | undefined): void {
  const family = host === undefined ? 0 : otherFamily(type, host);
  if (family === 0) return;
  const fix =
    type === 'udp4' ? "use `type: 'udp6'`" : `use \`type: 'udp4'\` (or the address as ::ffff:${host})`;
  throw new InvalidArgumentError(
    `${WHERE}: \`${field}\` ${JSON.stringify(host)} is an IPv${family} address but \`type\` is '${type}'; ${fix}`,
  );
}

/** Whether a udp6 destination is an IPv4-mapped address: the datagram then goes over IPv4. */
export function isMapped(host: string): boolean {
  const bytes = ipBytes(host);
  return bytes !== null && bytes.length === 16 && unmappedIp(bytes).length === 4;
}

/** Refuses a datagram from a udp6 endpoint to an IPv4-mapped host that IPv4 cannot carry. */
export function checkMappedSize(size: number, host: string): void {
  if (size <= MAX_UDP4_PAYLOAD || !isMapped(host)) return;
  throw new LimitExceededError(
    `send: a datagram of ${size} bytes is over the limit of ${MAX_UDP4_PAYLOAD} bytes for IPv4, which carries it to the IPv4-mapped ${host}; one send is one datagram, so split the message in the protocol`,
    MAX_UDP4_PAYLOAD,
  );
}

/** 4 or 6 when `host` is an address literal of the family `type` is not, else 0. */
function otherFamily(type: UdpType, host: string): number {
  const family = isIP(host);
  return family === 0 || (family === 4) === (type === 'udp4') ? 0 : family;
}

function isPort(value: unknown, lowest: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= lowest && value <= 65_535;
}

function isAddress(value: unknown): value is DatagramAddress {
  const address = value as Partial<DatagramAddress> | null;
  return (
    typeof address === 'object' &&
    address !== null &&
    typeof address.host === 'string' &&
    address.host !== '' &&
    isPort(address.port, 1)
  );
}

function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return shown(value);
  const { host, port } = value as Record<string, unknown>;
  return `{ host: ${shown(host)}, port: ${shown(port)} }`;
}
