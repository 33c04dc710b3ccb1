/**
 * The checks of createDatagramEndpoint's addresses and buffer sizes: node:dgram would otherwise
 * wrap a port modulo 65536, bind every interface for a misspelt `local`, or throw a buffer size it
 * refuses uncaught from inside the bind.
 */
import { isIP } from 'node:net';
import type { DatagramAddress } from './datagram-base.js';
import { InvalidArgumentError } from './errors.js';
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

/** An address literal of the other family cannot work on this socket: say so before the bind. */
export function checkFamily(type: UdpType, field: string, host: string | undefined): void {
  if (host === undefined) return;
  const family = isIP(host);
  if (family === 0 || (family === 4) === (type === 'udp4')) return;
  const fix =
    type === 'udp4' ? "use `type: 'udp6'`" : `use \`type: 'udp4'\` (or the address as ::ffff:${host})`;
  throw new InvalidArgumentError(
    `${WHERE}: \`${field}\` ${JSON.stringify(host)} is an IPv${family} address but \`type\` is '${type}'; ${fix}`,
  );
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
