/**
 * tlskit/danger: the only way to turn certificate verification off, and the only way to hand out a
 * connection's secrets (key logging for Wireshark). They live in their own import so that the
 * dangerous path is visible in the import line; each needs a stated reason and warns the process
 * once.
 */
import { ClientContext, type ClientContextOptions, kContextToken } from '../tls/client-context.js';
import { checkKnownOptions } from '../tls/defaults.js';
import { ContextError } from '../tls/errors.js';
import { OPTION_NAMES } from '../tls/option-names.js';
import { requireReason, warnOnce } from './loud.js';

export { type KeyLog, type KeyLogOptions, type KeyLogSink, keyLog } from './keylog.js';

/** Options of `insecureClientContext`: a client context without `trust`, plus why. */
export interface InsecureClientContextOptions
  extends Omit<ClientContextOptions, 'trust' | 'pins' | 'crl' | 'sessionCache'> {
  /** Why verification is off, e.g. "integration test against a throwaway server". Required. */
  reason: string;
}

/**
 * A client context that accepts any server certificate and any host name. Anyone between you and
 * the server can read and change the traffic. For tests and diagnostics only; `reason` is required
 * and the first use warns the process (`TLSKIT_INSECURE`).
 */
export function insecureClientContext(options: InsecureClientContextOptions): ClientContext {
  const reason = requireReason(
    'insecureClientContext',
    (options as Partial<InsecureClientContextOptions> | undefined)?.reason,
    'verification is off',
    'test against a throwaway server',
    (field, message) => new ContextError('ERR_CONTEXT_REASON_REQUIRED', field, message),
  );
  checkKnownOptions('insecureClientContext', options, OPTION_NAMES.insecureClientContext);
  const { reason: _reason, ...rest } = options;
  const context = new ClientContext(kContextToken, { trust: 'system', ...rest }, { insecureReason: reason });
  warnOnce(
    'TLSKIT_INSECURE',
    `tlskit: certificate verification is OFF for a client context (reason: ${reason}). Any server, ` +
      'and anyone between you and it, can read and change this traffic.',
  );
  return context;
}
