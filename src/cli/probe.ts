/**
 * Observation handshakes for `tlskit connect`: what a server presents, read with node:tls
 * directly.
 *
 * Why this is not a trust bypass. The verdict of `tlskit connect` always comes from a real tlskit
 * client handshake, made with the trust the user gave (`--ca` or `--system-ca`). A probe only
 * reads: it runs a handshake with `rejectUnauthorized: false`, sends no application data, and
 * closes as soon as the handshake is over (close_notify, then FIN), so nothing is ever said to an
 * unverified server. It exists because a connection that failed verification has no chain left to show (tlskit
 * aborts it, as it must), and because some facts are not on `info.tls` at all: the ephemeral key
 * group (`getEphemeralKeyInfo`) and the stapled OCSP response (`requestOCSP`). No insecure option
 * is added to tlskit's public API for this; the probe lives in the command, not the library.
 *
 * Subtleties:
 * - The chain is read with `getPeerX509Certificate()` and its `issuerCertificate` links, which
 *   follow the certificates in the order the server sent them (checked on Node 20, 22 and 24),
 *   unlike `getPeerCertificate(true)`, which reorders them and appends roots from the store.
 * - An address is never sent as SNI (RFC 6066 forbids it; Node warns), as tlskit does.
 * - The same cipher suites, groups and versions as the tlskit handshake are offered unless the
 *   caller asks otherwise, so the group the probe sees is the one the verdict handshake got.
 * - A probe ends its connection with `end()`, not `destroy()`. In TLS 1.3 the client is done
 *   (`secureConnect`) before the server is: the server still waits for the client's Finished,
 *   which `destroy()` would throw away unsent, and the server would log a failed handshake for
 *   every `tlskit connect`. The socket is destroyed only if the server does not close in turn.
 */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

/** What to probe and how. */
export interface ProbeOptions {
  host: string;
  port: number;
  /** The name to send as SNI; an address is not sent. */
  serverName: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher string, TLS 1.3 suite names included, as node:tls takes it. */
  ciphers?: string;
  /** Key-exchange groups to offer, colon-separated. */
  groups?: string;
  alpn?: readonly string[];
  /** A client certificate and key (PEM), for servers that require one. */
  cert?: string;
  key?: string;
  /** Milliseconds for the connection and handshake together. */
  timeout: number;
  /** An open plaintext stream to run the handshake over (after a STARTTLS dialogue). */
  socket?: Duplex;
}

/** What an observation handshake saw. */
export interface ProbeResult {
  protocol: string;
  /** OpenSSL's name and the IANA name of the negotiated suite. */
  cipher: { name: string; standardName: string };
  /** The key-exchange group, e.g. `X25519`, `P-256`, `DH 2048`; `null` when none (static RSA). */
  group: string | null;
  alpn: string | null;
  /** The stapled OCSP response, when the server sent one. */
  ocspStaple: Buffer | null;
  /** The certificates as the server sent them, leaf first. */
  chain: X509Certificate[];
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function groupOf(socket: tls.TLSSocket): string | null {
  const info = socket.getEphemeralKeyInfo() as { type?: string; name?: string; size?: number } | null;
  if (!info?.type) return null;
  if (info.name) return CURVE_NAMES[info.name] ?? info.name;
  return info.size ? `${info.type} ${info.size}` : info.type;
}

function chainOf(socket: tls.TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let certificate: X509Certificate | undefined = socket.getPeerX509Certificate();
  while (certificate && chain.length < 16) {
    chain.push(certificate);
    const issuer: X509Certificate | undefined = certificate.issuerCertificate;
    if (!issuer || issuer === certificate) break;
    certificate = issuer;
  }
  return chain;
}

/** A handshake failure or deadline, with the code node:tls or the OS gave. */
export class ProbeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** How long a probe waits for the server to close after its close_notify, in milliseconds. */
const CLOSE_GRACE = 2_000;

/** Ends a probe's connection cleanly, letting its Finished go first; what the server still sends is dropped. */
function closeAfterFinished(socket: tls.TLSSocket): void {
  const grace = setTimeout(() => socket.destroy(), CLOSE_GRACE);
  grace.unref();
  socket.once('close', () => clearTimeout(grace));
  socket.resume();
  socket.end();
}

/** Runs one observation handshake; rejects with a ProbeError when it fails. */
export function probe(options: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    let staple: Buffer | null = null;
    // requestOCSP is passed on to the TLSSocket by tls.connect, though its type omits it.
    const connectOptions: tls.ConnectionOptions & { requestOCSP: boolean } = {
      ...(options.socket ? { socket: options.socket } : { host: options.host, port: options.port }),
      servername: net.isIP(options.serverName) ? undefined : options.serverName,
      rejectUnauthorized: false, // observation only: see the design note
      requestOCSP: true,
      minVersion: options.minVersion ?? 'TLSv1.2',
      maxVersion: options.maxVersion ?? 'TLSv1.3',
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
      ...(options.groups ? { ecdhCurve: options.groups } : {}),
      ...(options.alpn?.length ? { ALPNProtocols: [...options.alpn] } : {}),
      ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
    };
    const socket = tls.connect(connectOptions);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProbeError('ERR_TIMEOUT', `no handshake within ${options.timeout} ms`));
    }, options.timeout);
    socket.on('OCSPResponse', (response: Buffer | undefined) => {
      staple = response && response.length > 0 ? response : null;
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cipher = socket.getCipher();
      const result: ProbeResult = {
        protocol: socket.getProtocol() ?? '',
        cipher: { name: cipher.name, standardName: cipher.standardName ?? cipher.name },
        group: groupOf(socket),
        alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
        ocspStaple: staple,
        chain: chainOf(socket),
      };
      closeAfterFinished(socket);
      resolve(result);
    });
    socket.once('error', (error: Error & { code?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ProbeError(error.code ?? 'ERR_TLS_HANDSHAKE', error.message));
    });
    // A server that closes without an alert ends the socket before any 'error'.
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new ProbeError('ERR_TLS_HANDSHAKE', 'the server closed the connection during the handshake'));
    });
  });
}
