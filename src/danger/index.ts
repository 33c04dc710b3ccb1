/**
 * tlskit/danger: the only way to turn certificate verification off. It lives in its own import so
 * that the dangerous path is visible in the import line, needs a stated reason, and warns the
 * process once.
 */
import { ClientContext, type ClientContextOptions, kContextToken } from '../tls/client-context.js';
import { checkKnownOptions } from '../tls/defaults.js';
import { ContextError } from '../tls/errors.js';
import { OPTION_NAMES } from '../tls/option-names.js';

/** Options of `insecureClientContext`: a client context without `trust`, plus why. */
export interface InsecureClientContextOptions
  extends Omit<ClientContextOptions, 'trust' | 'pins' | 'crl' | 'sessionCache'> {
  /** Why verification is off, e.g. "integration test against a throwaway server". Required. */
  reason: string;
}

let warned = false;

/**
 * A client context that accepts any server certificate and any host name. Anyone between you and
 * the server can read and change the traffic. For tests and diagnostics only; `reason` is required
 * and the first use warns the process (`TLSKIT_INSECURE`).
 */
export function insecureClientContext(options: InsecureClientContextOptions): ClientContext {
  const reason = (options as Partial<InsecureClientContextOptions> | undefined)?.reason;
  if (typeof reason !== 'string' || reason.trim().length < 3) {
    throw new ContextError(
      'ERR_CONTEXT_REASON_REQUIRED',
      'reason',
      'insecureClientContext: `reason` is required: say why verification is off (for example "test against a ' +
        'throwaway server"), so that the choice is visible where it is made',
    );
  }
  checkKnownOptions('insecureClientContext', options, OPTION_NAMES.insecureClientContext);
  const { reason: _reason, ...rest } = options;
  const context = new ClientContext(kContextToken, { trust: 'system', ...rest }, { insecureReason: reason });
  if (!warned) {
    warned = true;
    process.emitWarning(
      `tlskit: certificate verification is OFF for a client context (reason: ${reason}). Any server, ` +
        'and anyone between you and it, can read and change this traffic.',
      { code: 'TLSKIT_INSECURE' },
    );
  }
  return context;
}
