/**
 * What stream and datagram transports share where they meet their callers and their protocols:
 * turning the data a caller writes into bytes, checking write-buffer limits, and calling protocol
 * callbacks so that a throw aborts the connection (or, for the last callback, surfaces as an
 * uncaught exception, since nothing is left to report it to).
 */
import { InvalidArgumentError } from './errors.js';
import { kindOf } from './options.js';

const encoder = new TextEncoder();

/** Accepts what `Transport.write` accepts and returns bytes, or throws naming the bad value. */
export function toBytes(data: Uint8Array | string, where: string): Uint8Array {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  const value: unknown = data;
  const buffer = value instanceof ArrayBuffer || ArrayBuffer.isView(value);
  throw new InvalidArgumentError(
    `${where}: data must be a Uint8Array or a string, got ${kindOf(value)}${buffer ? ' (wrap it: new Uint8Array(buffer))' : ''}`,
  );
}

/** Calls a protocol callback; a throw becomes `abort(thrown)` (non-errors are wrapped). */
// biome-ignore lint/suspicious/noExplicitAny: callbacks of any arity are forwarded unchanged
export function callAbortingOnThrow<A extends any[]>(
  target: object | null,
  fn: (...args: A) => unknown,
  args: A,
  abort: (error: Error) => void,
): void {
  try {
    fn.apply(target, args);
  } catch (error) {
    abort(asError(error));
  }
}

/**
 * Calls `connectionLost`: nothing is left to report its throw to, so it surfaces like any uncaught
 * exception.
 */
export function deliverLastCallback<T>(
  target: T,
  fn: ((this: T, error: Error | null) => void) | undefined,
  error: Error | null,
): void {
  if (!fn) return;
  try {
    fn.call(target, error);
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown;
    });
  }
}

/** Checks `setWriteBufferLimits` arguments, naming both values. */
export function checkWaterMarks(high: number, low: number): void {
  if (!Number.isInteger(high) || high < 0 || !Number.isInteger(low) || low < 0 || low > high) {
    throw new InvalidArgumentError(
      `setWriteBufferLimits: need integers with 0 <= low <= high, got high=${high}, low=${low}`,
    );
  }
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
