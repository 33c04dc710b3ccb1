/*
 * The PROXY protocol on a server: who may send a header, and reading it
 * =====================================================================
 *
 * A header names the client's address, so whoever may send one may claim any address: only the
 * proxies in `trusted` may. Their connections must open with a header (a trusted proxy always
 * sends one; HAProxy's health checks send a LOCAL one), read before anything else, within the
 * handshake deadline. Anyone else's bytes are never parsed as a header, so no client can spoof
 * its address; on a TLS server, where the client speaks first, an untrusted peer whose first
 * bytes are a PROXY header is refused with an error that says so, instead of a puzzling
 * handshake failure. (On a server without TLS the protocol may speak first, so nothing is read
 * ahead: an untrusted peer's header reaches the protocol as data, unparsed.)
 *
 * The header is read from the raw socket, before any transport exists, and the bytes after it
 * (usually the ClientHello, often in the same segment) go back into the socket with `unshift`:
 * `node:tls` feeds a socket's buffered bytes to the handshake, and a plain transport reads them
 * first. Nothing is lost, and the bulk of the connection stays on the native path.
 *
 * Reading is bounded three ways: `maxSize` bytes (the parser refuses more before buffering
 * them), the deadline, and the end of the socket (a truncated header).
 *
 * A connection that ends before sending a single byte has no header to be wrong about: a load
 * balancer's TCP health check connects and closes so, every few seconds. It is not a refusal by
 * `proxyProtocol` (which would count it under `limited` and publish it as a limit); the server
 * counts it as it counts the same peer without PROXY headers (`silentEnd`).
 */
import type net from 'node:net';
import { InvalidArgumentError, TimeoutError, toTransportError } from '../transport/errors.js';
import { ipBytes, unmappedIp } from '../transport/ip.js';
import { checkOptionNames, type OptionNames } from '../transport/options.js';
import {
  mayBeProxyHeader,
  PROXY_V2_SIGNATURE,
  ProxyHeaderError,
  ProxyHeaderParser,
  type ProxyInfo,
  type ProxyParserOptions,
} from '../transport/proxy-header.js';

/** The server option `proxyProtocol`. */
export interface ProxyProtocolOptions extends ProxyParserOptions {
  /**
   * The proxies allowed to send a header: IP addresses and CIDR blocks (`'10.0.0.0/8'`,
   * `'::1'`), and `'unix'` for every peer of a Unix-socket listener. Required: a header from
   * anyone else is refused, so clients cannot forge their address.
   */
  trusted: readonly string[];
}

const OPTIONS: OptionNames = { known: ['trusted', 'versions', 'maxSize'] };

/** A checked `proxyProtocol`: whom to trust, and how to parse. */
export interface ProxyPolicy {
  /** Whether a peer at `host` (undefined over a Unix socket) may send a header. */
  trusts(host: string | undefined): boolean;
  parser: ProxyParserOptions;
}

interface Block {
  bytes: Uint8Array;
  prefix: number;
}

function parseTrusted(where: string, entry: unknown): Block | 'unix' {
  if (entry === 'unix') return 'unix';
  const text = typeof entry === 'string' ? entry : '';
  const [address = '', prefixText, extra] = text.split('/');
  const bytes = ipBytes(address);
  const bits = bytes ? bytes.length * 8 : 0;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (
    !bytes ||
    extra !== undefined ||
    !/^\d*$/.test(prefixText ?? '') ||
    prefixText === '' ||
    prefix > bits
  ) {
    throw new InvalidArgumentError(
      `${where}: \`proxyProtocol.trusted\` entries must be IP addresses or CIDR blocks (e.g. '10.0.0.0/8', '::1'), or 'unix', got ${JSON.stringify(entry)}`,
    );
  }
  return { bytes, prefix };
}

function inBlock(address: Uint8Array, block: Block): boolean {
  if (address.length !== block.bytes.length) return false;
  const whole = block.prefix >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== block.bytes[i]) return false;
  const rest = block.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole]! & mask) === (block.bytes[whole]! & mask);
}

/** Checks `proxyProtocol` once, when the server starts. */
export function proxyPolicy(where: string, options: unknown): ProxyPolicy | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `${where}: \`proxyProtocol\` must be an object such as { trusted: ['10.0.0.0/8'] }, got ${String(options)}`,
    );
  }
  checkOptionNames(`${where}: proxyProtocol`, options, OPTIONS);
  const { trusted, versions, maxSize } = options as ProxyProtocolOptions;
  if (!Array.isArray(trusted) || trusted.length === 0) {
    throw new InvalidArgumentError(
      `${where}: \`proxyProtocol.trusted\` must list the proxies allowed to send a header (e.g. ['127.0.0.1']), got ${JSON.stringify(trusted)}: without it, anyone could forge their address`,
    );
  }
  const entries = trusted.map((entry) => parseTrusted(where, entry));
  const blocks = entries.filter((entry): entry is Block => entry !== 'unix');
  const unix = entries.includes('unix');
  const parser: ProxyParserOptions = {};
  if (versions !== undefined) parser.versions = versions;
  if (maxSize !== undefined) parser.maxSize = maxSize;
  new ProxyHeaderParser(parser); // checks versions and maxSize now, not per connection
  return {
    parser,
    trusts(host) {
      if (host === undefined) return unix;
      const bytes = ipBytes(host);
      if (!bytes) return false;
      const address = unmappedIp(bytes);
      return blocks.some((block) => inBlock(address, block) || inBlock(bytes, block));
    },
  };
}

const silentEnds = new WeakSet<Error>();

/** The error of a connection that ended before sending a byte (see the note at the top). */
function silentEnd(message: string): Error {
  const error = new ProxyHeaderError('ERR_PROXY_TRUNCATED', message);
  silentEnds.add(error);
  return error;
}

/** Whether `readProxyHeader` failed because the connection ended before sending anything. */
export function isSilentEnd(error: Error): boolean {
  return silentEnds.has(error);
}

/**
 * Reads what a connection opens with, from its raw paused socket: a trusted proxy's header, or
 * (`peek`, for an untrusted peer on a TLS server) enough bytes to see there is none. Resolves with
 * the header (`null` when none was expected) once the bytes after it are back in the socket, the
 * socket paused again. Rejects with a `ProxyHeaderError` or `TimeoutError`; the caller closes.
 */
export function readProxyHeader(
  socket: net.Socket,
  policy: ProxyPolicy,
  trusted: boolean,
  deadline: number,
): Promise<ProxyInfo | null> {
  return new Promise((resolve, reject) => {
    const parser = trusted ? new ProxyHeaderParser(policy.parser) : null;
    let seen: Buffer | null = null;
    let received = 0;
    const finish = (error: Error | null, result: ProxyInfo | null = null, rest?: Uint8Array) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      if (error) reject(error);
      else {
        if (rest && rest.length > 0) socket.unshift(rest);
        resolve(result);
      }
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (!parser) return peek(chunk);
      try {
        const parsed = parser.push(chunk);
        if (parsed.done) finish(null, { ...parsed.header, via: viaAddress(socket) }, parsed.rest);
      } catch (error) {
        finish(error as Error);
      }
    };
    const peek = (chunk: Buffer) => {
      seen = seen ? Buffer.concat([seen, chunk]) : chunk;
      if (!mayBeProxyHeader(seen)) finish(null, null, seen);
      else if (seen.length >= PROXY_V2_SIGNATURE.length || seen.includes(0x0a)) {
        finish(
          new ProxyHeaderError(
            'ERR_PROXY_UNTRUSTED',
            `a PROXY header from ${socket.remoteAddress ?? 'a Unix-socket peer'}, which is not in \`proxyProtocol.trusted\`: refused, since it could forge any client address (add the proxy's address to \`trusted\` if it is yours)`,
          ),
        );
      }
    };
    const onEnd = () =>
      finish(
        received === 0
          ? silentEnd('the connection ended before sending anything')
          : new ProxyHeaderError(
              'ERR_PROXY_TRUNCATED',
              trusted
                ? `the connection from ${socket.remoteAddress ?? 'a Unix-socket peer'} ended before its PROXY header was complete`
                : 'the connection ended before sending anything',
            ),
      );
    const onError = (error: unknown) =>
      finish(
        received === 0
          ? silentEnd('the connection was reset before sending anything')
          : toTransportError(error),
      );
    const onClose = () =>
      finish(
        received === 0
          ? silentEnd('the connection closed before sending anything')
          : new ProxyHeaderError(
              'ERR_PROXY_TRUNCATED',
              'the connection closed before its PROXY header was read',
            ),
      );
    const timer = setTimeout(
      () =>
        finish(
          new TimeoutError(
            trusted
              ? `no complete PROXY header from ${socket.remoteAddress ?? 'a Unix-socket peer'} within ${deadline} ms`
              : `nothing received within ${deadline} ms`,
            deadline,
          ),
        ),
      deadline,
    );
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.resume();
  });
}

function viaAddress(socket: net.Socket): ProxyInfo['via'] {
  const { remoteAddress: host, remotePort: port } = socket;
  return host === undefined || port === undefined ? null : { host, port };
}
