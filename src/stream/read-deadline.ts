import { AbortError, InvalidArgumentError, TimeoutError } from '../transport/errors.js';
import { checkMilliseconds, checkOptionNames, checkSignal, type OptionNames } from '../transport/options.js';

/**
 * How long a read may wait. A read that is cancelled or times out rejects (with an `AbortError` or a
 * `TimeoutError`) and consumes nothing: bytes that arrived stay buffered for the next read, and the
 * connection stays open. Close or abort it if the deadline means the peer is gone.
 */
export interface ReadOptions {
  /** Cancels the wait; the read rejects with an `AbortError` carrying the signal's reason. */
  signal?: AbortSignal;
  /** Milliseconds to wait for what the read needs; then it rejects with a `TimeoutError`. */
  timeout?: number;
}

/** A waiting read's cancellation: the error once it fired, and how to stop watching. */
export interface ReadDeadline {
  error: Error | null;
  clear(): void;
}

const noop = () => {};

/**
 * Watches `options.signal` and `options.timeout` for one read; when either fires, records the
 * error and calls `wake` so the read sees it. One deadline spans the whole read, however many
 * times it wakes for data that was not yet enough.
 */
export function readDeadline(
  where: string,
  { signal, timeout }: ReadOptions,
  wake: () => void,
): ReadDeadline {
  const deadline: ReadDeadline = { error: null, clear: noop };
  if (!signal && timeout === undefined) return deadline;
  const stop = (error: Error) => {
    deadline.error ??= error;
    wake();
  };
  const onAbort = () => stop(new AbortError(`${where}: aborted while waiting for data`, signal?.reason));
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeout === undefined
      ? undefined
      : setTimeout(
          () =>
            stop(
              new TimeoutError(
                `${where}: what it waits for did not arrive within ${timeout} ms (bytes received so far stay buffered; the connection is still open)`,
                timeout,
              ),
            ),
          timeout,
        );
  deadline.clear = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
  return deadline;
}

/** Refuses options a read does not take, and bad values, naming them. */
export function checkReadOptions(where: string, options: unknown, names: OptionNames): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${String(options)}`);
  }
  checkOptionNames(where, options, names);
  checkSignal(where, (options as ReadOptions).signal);
  checkMilliseconds(where, 'timeout', (options as ReadOptions).timeout);
}
