/**
 * One error hierarchy for everything tlskit raises. Match on `code` (stable strings), not on
 * messages or classes from Node: protocol code never sees a raw `net`, `tls` or stream error.
 */

/** Base of every tlskit error. `code` is stable across releases; `cause` keeps the original error. */
export class TlskitError extends Error {
  /** Stable, machine-readable reason, such as `ECONNREFUSED` or `ERR_INCOMPLETE_READ`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * The operating system or the peer broke the connection. `code` is the OS code (`ECONNREFUSED`,
 * `ECONNRESET`, `EPIPE`, `ENOENT`, ...) and `cause` the original error.
 */
export class ConnectionError extends TlskitError {
  /** The system call that failed, when the OS reported one (`connect`, `read`, `write`). */
  readonly syscall: string | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; syscall?: string }) {
    super(code, message, options);
    this.syscall = options?.syscall;
  }
}

/** A deadline passed (connect, handshake, close). Code `ERR_TIMEOUT`. */
export class TimeoutError extends TlskitError {
  /** The deadline that passed, in milliseconds. */
  readonly timeout: number;

  constructor(message: string, timeout: number) {
    super('ERR_TIMEOUT', message);
    this.timeout = timeout;
  }
}

/** An `AbortSignal` fired. Code `ABORT_ERR`; `cause` is the signal's reason. */
export class AbortError extends TlskitError {
  constructor(message: string, reason?: unknown) {
    super('ABORT_ERR', message, { cause: reason });
  }
}

/**
 * The call does not fit the transport's state: writing after `end()` (`ERR_WRITE_AFTER_END`), after
 * the connection closed (`ERR_TRANSPORT_CLOSED`), or using a transport that a TLS layer now owns
 * (`ERR_TRANSPORT_UPGRADED`).
 */
export class StateError extends TlskitError {}

/** A read needed more bytes than arrived before end of stream. Code `ERR_INCOMPLETE_READ`. */
export class IncompleteReadError extends TlskitError {
  /** The bytes that did arrive. */
  readonly partial: Uint8Array;
  /** How many bytes were needed (for `readExactly`), or `null` when reading up to a delimiter. */
  readonly expected: number | null;

  constructor(partial: Uint8Array, expected: number | null) {
    const wanted = expected === null ? 'a delimiter' : `${expected} bytes`;
    super('ERR_INCOMPLETE_READ', `end of stream after ${partial.length} bytes while waiting for ${wanted}`);
    this.partial = partial;
    this.expected = expected;
  }
}

/** More bytes than the given limit arrived without the awaited delimiter. Code `ERR_LIMIT_EXCEEDED`. */
export class LimitExceededError extends TlskitError {
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;

  constructor(message: string, limit: number) {
    super('ERR_LIMIT_EXCEEDED', message);
    this.limit = limit;
  }
}

/** A function was called with a value it cannot accept. Code `ERR_INVALID_ARGUMENT`. */
export class InvalidArgumentError extends TlskitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}

/** Node's system errors carry these fields; nothing else is assumed about foreign errors. */
interface SystemErrorLike {
  code?: unknown;
  syscall?: unknown;
  message?: unknown;
}

/**
 * Turns anything a Node stream or socket emitted into a tlskit error, keeping the OS code and the
 * original as `cause`. tlskit errors pass through unchanged.
 */
export function toTransportError(error: unknown): TlskitError {
  if (error instanceof TlskitError) return error;
  const like = (typeof error === 'object' && error !== null ? error : {}) as SystemErrorLike;
  const code = typeof like.code === 'string' ? like.code : 'ERR_TRANSPORT';
  const message = typeof like.message === 'string' ? like.message : String(error);
  if (typeof like.syscall === 'string') {
    return new ConnectionError(code, message, { cause: error, syscall: like.syscall });
  }
  return new ConnectionError(code, message, { cause: error });
}
