/**
 * What makes tlskit/danger loud: every dangerous call needs a stated reason, and the first one of
 * each kind warns the process, under its own warning code, so that logs show what was switched on.
 */
import type { OptionError } from '../transport/options.js';

/**
 * The `reason` a dangerous call was given, checked: a few words saying why, such as "test against a
 * throwaway server". `why` finishes "say why …"; `fail` makes the error the caller throws.
 */
export function requireReason(
  where: string,
  reason: unknown,
  why: string,
  example: string,
  fail: OptionError,
): string {
  if (typeof reason !== 'string' || reason.trim().length < 3) {
    const given =
      reason === undefined || reason === ''
        ? 'is required'
        : `must be a sentence of 3 characters or more, got ${JSON.stringify(reason)}`;
    throw fail(
      'reason',
      `${where}: \`reason\` ${given}: say why ${why} (for example "${example}"), so that the choice ` +
        'is visible where it is made',
    );
  }
  return reason;
}

const warned = new Set<string>();

/** Emits the process warning `code` the first time it is asked for, and never again. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { code });
}
