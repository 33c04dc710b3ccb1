import type { X509Certificate } from 'node:crypto';
import { TlskitError } from '../transport/errors.js';

/**
 * A TLS problem other than a certificate: `ERR_TLS_HANDSHAKE` (the handshake failed; `alert`
 * names the alert when the peer sent one), `ERR_TLS_TRUNCATED` (the stream ended without the peer's
 * close_notify) or `ERR_TLS_PROTOCOL` (a protocol error after the handshake). `opensslCode` keeps
 * Node's or OpenSSL's own code, such as `ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION`.
 */
export class TlsError extends TlskitError {
  /** The code Node or OpenSSL gave, when there was one. */
  readonly opensslCode: string | undefined;
  /** The TLS alert the peer sent, in RFC 8446 naming (`protocol_version`, `unknown_ca`, ...). */
  readonly alert: string | undefined;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; opensslCode?: string; alert?: string } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.opensslCode = options.opensslCode;
    this.alert = options.alert;
  }
}

/** The codes a `CertificateError` carries. */
export type CertificateErrorCode =
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'HOSTNAME_MISMATCH'
  | 'SELF_SIGNED'
  | 'UNKNOWN_ISSUER'
  | 'NOT_A_CA'
  | 'PATH_LENGTH_EXCEEDED'
  | 'NAME_CONSTRAINTS'
  | 'WRONG_PURPOSE'
  | 'WEAK_SIGNATURE'
  | 'WEAK_KEY'
  | 'REVOKED'
  | 'PIN_MISMATCH'
  | 'BAD_SIGNATURE'
  | 'CRL_UNAVAILABLE'
  | 'NO_CERTIFICATE'
  | 'CERT_INVALID';

/**
 * The peer's certificate chain was rejected. `code` says why in tlskit's words; `opensslCode`
 * keeps OpenSSL's (`CERT_HAS_EXPIRED`, ...). `depth` is the position of the failing certificate
 * (0 = the peer's own), `subject` its subject, `certificate` the certificate itself when the peer
 * sent it.
 */
export class CertificateError extends TlsError {
  declare readonly code: CertificateErrorCode;
  /** Position of the failing certificate in the chain; 0 is the peer's own certificate. */
  readonly depth: number;
  /** Subject of the failing certificate, e.g. `CN=example.com`, or `''` when unknown. */
  readonly subject: string;
  /** The failing certificate, when the peer sent it. */
  readonly certificate: X509Certificate | undefined;

  constructor(
    code: CertificateErrorCode,
    message: string,
    details: {
      depth: number;
      subject: string;
      certificate?: X509Certificate;
      opensslCode?: string;
      cause?: unknown;
    },
  ) {
    super(code, message, { opensslCode: details.opensslCode, cause: details.cause });
    this.depth = details.depth;
    this.subject = details.subject;
    this.certificate = details.certificate;
  }
}

/**
 * `startTls` refused to upgrade: plaintext that arrived before the upgrade was not consumed
 * (`ERR_STARTTLS_PENDING_PLAINTEXT`). Treating it as TLS-protected would allow the command
 * injection described in the NO STARTTLS study. Nothing was changed or lost: the bytes are still
 * where they were.
 */
export class StartTlsError extends TlsError {
  /** How many plaintext bytes were pending. */
  readonly pendingBytes: number;

  constructor(message: string, pendingBytes: number) {
    super('ERR_STARTTLS_PENDING_PLAINTEXT', message);
    this.pendingBytes = pendingBytes;
  }
}

/**
 * A security context could not be built from its options. `field` names the option; the message
 * says what was wrong and how to fix it.
 */
export class ContextError extends TlskitError {
  /** The option at fault, such as `key` or `trust`. */
  readonly field: string;

  constructor(code: string, field: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.field = field;
  }
}
