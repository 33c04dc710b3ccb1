import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
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

const kChain = Symbol('tlskit.peerChain');

/** `peerCertificates`, materialised on first access, then a plain value. */
const lazyPeerCertificates: PropertyDescriptorMap = {
  peerCertificates: {
    enumerable: true,
    configurable: true,
    get(this: TlsInfo & { [kChain]: LazyChain }): X509Certificate[] {
      const value = this[kChain].certificates;
      Object.defineProperty(this, 'peerCertificates', { value, enumerable: true, writable: true });
      return value;
    },
  },
};

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
  const cipher = socket.getCipher();
  const info = {
    protocol: socket.getProtocol() ?? '',
    cipher: cipher?.standardName ?? cipher?.name ?? '',
    alpnProtocol: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    serverName:
      role === 'server' ? (typeof socket.servername === 'string' ? socket.servername : null) : serverName,
    resumed: socket.isSessionReused(),
    role,
  } as TlsInfo;
  if (verified === null) {
    info.peerCertificates = presentedChain(socket);
    return info;
  }
  Object.defineProperty(info, kChain, { value: verified });
  return Object.defineProperties(info, lazyPeerCertificates) as TlsInfo;
}
