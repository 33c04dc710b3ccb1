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
 * Reads what a TlsTransport reports on `info.tls`, once the handshake and its verification are
 * done. Read at once, because the socket forgets it all when it closes. `resumed` is the saved
 * session a client resumed.
 */
export function readTlsInfo(
  socket: TLSSocket,
  role: 'client' | 'server',
  serverName: string | null,
  resumed?: { peerCertificates: X509Certificate[] },
): TlsInfo {
  const cipher = socket.getCipher();
  const presented = presentedChain(socket);
  return {
    protocol: socket.getProtocol() ?? '',
    cipher: cipher?.standardName ?? cipher?.name ?? '',
    alpnProtocol: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    serverName:
      role === 'server' ? (typeof socket.servername === 'string' ? socket.servername : null) : serverName,
    // A resumed TLS session carries no certificates; a client reports those verified when the
    // session was made.
    peerCertificates: presented.length === 0 && resumed ? resumed.peerCertificates : presented,
    resumed: socket.isSessionReused(),
    role,
  };
}
