import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { type InspectOptionsStylized, inspect } from 'node:util';
import type { TlsInfo } from '../transport/transport.js';

/**
 * The chain OpenSSL verified, leaf first, ending at the trust anchor it found. Slow (Node parses
 * every certificate into an object, ~0.3 ms for three), so only for verification and its errors.
 * Must run before `presentedChain`: see there.
 */
export function verifiedChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let entry = socket.getPeerCertificate(true) as DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<string>();
  while (entry && 'raw' in entry && entry.raw) {
    const fingerprint = entry.fingerprint256;
    if (seen.has(fingerprint)) break;
    seen.add(fingerprint);
    chain.push(new X509Certificate(entry.raw));
    if (!entry.issuerCertificate || entry.issuerCertificate === entry) break;
    entry = entry.issuerCertificate;
  }
  return chain;
}

/**
 * The chain the peer sent, leaf first. Cheap: the certificates stay OpenSSL's, wrapped.
 *
 * Node 20's `getPeerX509Certificate()` takes the certificates out of the connection's own peer
 * chain as it wraps them: a second call returns nothing, and `getPeerCertificate()` sees an empty
 * chain afterwards. So it is called once per connection, after verification is over.
 */
function presentedChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let certificate = socket.getPeerX509Certificate();
  while (certificate && chain.length < 16) {
    chain.push(certificate);
    const issuer = certificate.issuerCertificate;
    if (!issuer || issuer === certificate) break;
    certificate = issuer;
  }
  return chain;
}

/**
 * A certificate chain kept as DER and turned into X509Certificate objects only when first asked
 * for: wrapping costs more than the rest of a client's bookkeeping, and most connections never look.
 */
export class LazyChain {
  #der: readonly Uint8Array[] | null;
  #certificates: X509Certificate[] | null;

  /** From DER; or, with `certificates`, from objects already made. */
  constructor(der: readonly Uint8Array[], certificates?: X509Certificate[]) {
    this.#der = certificates ? null : der;
    this.#certificates = certificates ?? null;
  }

  get certificates(): X509Certificate[] {
    if (this.#certificates === null) {
      this.#certificates = (this.#der ?? []).map((der) => new X509Certificate(der));
      this.#der = null;
    }
    return this.#certificates;
  }
}

/**
 * The DER chain in the certificate object Node builds for `checkServerIdentity`: what the server
 * sent, in issuing order, completed with the trust anchor OpenSSL found. Node has made it anyway;
 * keeping its `raw` buffers costs nothing.
 */
export function derChain(certificate: DetailedPeerCertificate): Uint8Array[] {
  const chain: Uint8Array[] = [];
  let entry: DetailedPeerCertificate | undefined = certificate;
  while (entry?.raw && chain.length < 16) {
    chain.push(entry.raw);
    if (!entry.issuerCertificate || entry.issuerCertificate === entry) break;
    entry = entry.issuerCertificate;
  }
  return chain;
}

/**
 * `info.tls`: read once, with `peerCertificates` made from the kept chain on first access. A class
 * rather than an accessor defined on each object, which cost a client's bookkeeping more than the
 * rest of this record; `toJSON` and `util.inspect` show every field like plain data.
 */
class ConnectionTlsInfo implements TlsInfo {
  readonly protocol: string;
  readonly cipher: string;
  readonly alpnProtocol: string | null;
  readonly serverName: string | null;
  readonly resumed: boolean;
  readonly role: 'client' | 'server';
  #chain: LazyChain;

  constructor(socket: TLSSocket, role: 'client' | 'server', serverName: string | null, chain: LazyChain) {
    const cipher = socket.getCipher();
    this.protocol = shared(socket.getProtocol() ?? '');
    this.cipher = shared(cipher?.standardName ?? cipher?.name ?? '');
    this.alpnProtocol = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null;
    this.serverName =
      role === 'server' ? (typeof socket.servername === 'string' ? socket.servername : null) : serverName;
    this.resumed = socket.isSessionReused();
    this.role = role;
    this.#chain = chain;
  }

  get peerCertificates(): X509Certificate[] {
    return this.#chain.certificates;
  }

  toJSON(): TlsInfo {
    const { protocol, cipher, alpnProtocol, serverName, peerCertificates, resumed, role } = this;
    return { protocol, cipher, alpnProtocol, serverName, peerCertificates, resumed, role };
  }

  [inspect.custom](_depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    return show(this.toJSON(), options);
  }
}

/**
 * Reads what a TlsTransport reports on `info.tls`, once the handshake and its verification are
 * done. Read at once, because the socket forgets it all when it closes. A client passes the chain
 * its server was verified with (`verified`: from Node's identity check, or from the session it
 * resumed, since a resumed handshake carries no certificates); a server reads what its client sent.
 */
export function readTlsInfo(
  socket: TLSSocket,
  role: 'client' | 'server',
  serverName: string | null,
  verified: LazyChain | null,
): TlsInfo {
  if (verified) return new ConnectionTlsInfo(socket, role, serverName, verified);
  const presented = presentedChain(socket);
  const chain = presented.length > 0 ? new LazyChain([], presented) : NO_CHAIN;
  return new ConnectionTlsInfo(socket, role, serverName, chain);
}

/**
 * The chain of a peer that sent none (most clients of a server): one for all such connections,
 * frozen, since idle connections are what a server holds by the thousand.
 */
const NO_CHAIN = new LazyChain([], Object.freeze([]) as unknown as X509Certificate[]);

/**
 * One copy of each protocol and cipher name: Node makes new strings for every connection, and
 * a server holding thousands of idle connections would keep thousands of copies. Names are few
 * (the suites OpenSSL knows); the bound only guards against the unexpected.
 */
function shared(name: string): string {
  const known = names.get(name);
  if (known !== undefined) return known;
  if (names.size < 512) names.set(name, name);
  return name;
}

const names = new Map<string, string>();
