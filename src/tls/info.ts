import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TlsInfo } from '../transport/transport.js';

/** The peer's chain as sent and completed by OpenSSL, leaf first. */
export function peerChain(socket: TLSSocket): X509Certificate[] {
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
 * Reads what a TlsTransport reports on `info.tls`, once the handshake is done. The peer's chain is
 * parsed only when asked for: most connections never look at it.
 */
export function readTlsInfo(
  socket: TLSSocket,
  role: 'client' | 'server',
  serverName: string | null,
): TlsInfo {
  const cipher = socket.getCipher();
  let chain: X509Certificate[] | undefined;
  return {
    protocol: socket.getProtocol() ?? '',
    cipher: cipher?.standardName ?? cipher?.name ?? '',
    alpnProtocol: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    serverName:
      role === 'server' ? (typeof socket.servername === 'string' ? socket.servername : null) : serverName,
    get peerCertificates() {
      chain ??= peerChain(socket);
      return chain;
    },
    resumed: socket.isSessionReused(),
    role,
  };
}
