/**
 * What a PROXY protocol header is once read (the types `info.proxy` reports), the error every
 * malformed header fails with, and the wire constants the reader (proxy-header.ts,
 * proxy-header-v2.ts) and the writer (proxy-header-encode.ts) share.
 */
import { TlskitError } from './errors.js';
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
/** The longest version 1 line the specification allows, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;
/** Default `maxSize`: a version 2 header with room for many TLVs. */
export const DEFAULT_PROXY_MAX_SIZE = 4096;

/** @internal The TLV types tlskit decodes (proxy-header-v2.ts) and writes (CRC32C, by the encoder). */
export const TLV = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
};

/** A ProxyHeaderError for a header that breaks the format; `what` says where. */
export function malformed(what: string): ProxyHeaderError {
  return new ProxyHeaderError('ERR_PROXY_MALFORMED', `malformed PROXY header: ${what}`);
}
