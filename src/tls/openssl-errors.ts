import { ConnectionError, TlskitError, toTransportError } from '../transport/errors.js';
import { CertificateError, TlsError } from './errors.js';

/** Readable hints for the alerts and errors TLS failures most often show. */
const HINTS: Record<string, string> = {
  protocol_version: 'the peer does not accept TLS 1.2 or 1.3',
  handshake_failure: 'the peer found no cipher suite, group or signature algorithm in common',
  certificate_required: 'the server requires a client certificate and we sent none',
  unknown_ca: 'the peer does not trust the CA that issued our certificate',
  bad_certificate: 'the peer rejected our certificate',
  certificate_expired: 'the peer says our certificate expired',
  no_application_protocol: 'no ALPN protocol in common',
  no_renegotiation: 'the peer refuses to renegotiate',
  unrecognized_name: 'the server has no certificate for the name we asked for',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the peer is not speaking TLS (plaintext, or another protocol)',
  ERR_SSL_HTTP_REQUEST: 'the peer sent a plaintext HTTP request to this TLS port; it should use https://',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the peer is not speaking TLS (plaintext, or another protocol)',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'the peer offered only TLS versions below 1.2',
  ERR_SSL_NO_SHARED_CIPHER: 'the peer offered no cipher suite tlskit allows (ECDHE with AEAD)',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'no TLS version is allowed by both sides',
};

/**
 * The reason in an OpenSSL error line, without the thread id, library, function, source file and
 * line that Node's bundled OpenSSL puts around it (`...:error:0A00009C:SSL routines:<function>:
 * http request:<file>:<line>:\n`; OpenSSL 3 builds without function names leave it empty).
 */
export function opensslReason(message: string): string {
  const reason = /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+)/.exec(message)?.[1];
  return (reason ?? message).trim();
}

/**
 * Turns what node:tls emitted into a tlskit error: `ERR_TLS_HANDSHAKE` during the handshake,
 * `ERR_TLS_PROTOCOL` after it, both naming the peer's alert when there was one; a client that
 * sent no certificate to a server requiring one is a `CertificateError` (`NO_CERTIFICATE`); OS
 * errors stay `ConnectionError`s.
 */
export function tlsErrorFrom(error: unknown, phase: 'handshake' | 'protocol'): Error {
  if (error instanceof TlskitError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') {
    return new CertificateError(
      'NO_CERTIFICATE',
      'NO_CERTIFICATE: the client sent no certificate, and this server requires one (clientAuth: required)',
      { depth: 0, subject: '', opensslCode: code, cause: error },
    );
  }
  if (typeof code === 'string' && code.startsWith('ERR_SSL_')) {
    const alert = /_ALERT_([A-Z_]+)$/.exec(code)?.[1]?.toLowerCase();
    const hint = HINTS[alert ?? code];
    const what = alert ? `the peer sent the alert ${alert}` : opensslReason(message);
    const prefix = phase === 'handshake' ? 'TLS handshake failed' : 'TLS protocol error';
    return new TlsError(
      phase === 'handshake' ? 'ERR_TLS_HANDSHAKE' : 'ERR_TLS_PROTOCOL',
      `${prefix}: ${what}${hint ? ` (${hint})` : ''}`,
      {
        cause: error,
        opensslCode: code,
        alert,
      },
    );
  }
  if (phase === 'handshake' && (code === 'ECONNRESET' || code === 'EPIPE')) {
    return new ConnectionError(code, `the peer closed the connection during the TLS handshake (${message})`, {
      cause: error,
    });
  }
  return toTransportError(error);
}
