/**
 * STARTTLS dialogues for the tlskit command: the plaintext prelude of six protocols, on both sides,
 * ending exactly where `Connection.startTls` takes over.
 *
 * Why here and not in the library: the library's `startTls` is protocol-free on purpose; which
 * commands a protocol speaks before TLS is the command line's concern (`connect --starttls`, `tunnel
 * --starttls`). Each protocol lives in its own file (starttls-<protocol>.ts) behind one small
 * interface; starttls-dialogue.ts holds what they share: one deadline per dialogue, bounded reads,
 * and the refusal of plaintext pipelined across the upgrade (the NO STARTTLS study's injection), on
 * both sides.
 *
 * Contract for callers: when a function here resolves, nothing the peer sent is left unread, so
 * `connection.startTls(...)` may follow at once (and should: a legitimate peer's first TLS bytes
 * arrive right behind the go-ahead).
 */
import type { Connection } from '../stream/connection.js';
import { Dialogue, type StartTlsDialect } from './starttls-dialogue.js';
import { ftp } from './starttls-ftp.js';
import { imap } from './starttls-imap.js';
import { pop3 } from './starttls-pop3.js';
import { postgres } from './starttls-postgres.js';
import { smtp } from './starttls-smtp.js';
import { xmpp } from './starttls-xmpp.js';
import { UsageError } from './usage-error.js';

export { DEFAULT_STARTTLS_TIMEOUT, StartTlsRefusedError } from './starttls-dialogue.js';

export const STARTTLS_PROTOCOLS = ['smtp', 'imap', 'pop3', 'ftp', 'xmpp', 'postgres'] as const;
export type StartTlsProtocol = (typeof STARTTLS_PROTOCOLS)[number];

const DIALECTS: Record<StartTlsProtocol, StartTlsDialect> = { smtp, imap, pop3, ftp, xmpp, postgres };

/** Validates a flag value; throws UsageError naming the flag and the choices. */
export function parseStartTlsProtocol(flag: string, value: string): StartTlsProtocol {
  const name = value.trim().toLowerCase();
  if ((STARTTLS_PROTOCOLS as readonly string[]).includes(name)) return name as StartTlsProtocol;
  throw new UsageError(
    `${flag} '${value}' is not a STARTTLS protocol; use one of ${STARTTLS_PROTOCOLS.join(', ')}`,
  );
}

/**
 * Client side: speaks the plaintext prelude until the server agrees to TLS. Resolves with the
 * server's greeting as sent (empty for xmpp and postgres), for a tunnel to replay to its own plain
 * client. Rejects with StartTlsRefusedError (quoting the server's reply) when the server refuses or
 * does not offer STARTTLS, StartTlsError when it sent bytes behind its go-ahead, and TimeoutError
 * once `timeout` ms (default 30000) passed.
 */
export async function requestStartTls(
  protocol: StartTlsProtocol,
  connection: Connection,
  options: { hostname: string; timeout?: number },
): Promise<{ greeting: Uint8Array }> {
  const dialogue = new Dialogue(protocol, connection, 'server', options.timeout);
  return { greeting: await DIALECTS[protocol].request(dialogue, options.hostname) };
}

/**
 * Server side: greets and answers like a minimal server of `protocol` until the client asks for
 * TLS, then says "go ahead". Commands other than the few needed before TLS get the protocol's
 * "must issue STARTTLS first" reply. Rejects with StartTlsError when the client pipelined bytes
 * behind its STARTTLS command, StartTlsRefusedError when it quit or does not speak the protocol,
 * and TimeoutError after `timeout` ms.
 */
export async function offerStartTls(
  protocol: StartTlsProtocol,
  connection: Connection,
  options: { hostname: string; timeout?: number },
): Promise<void> {
  const dialogue = new Dialogue(protocol, connection, 'client', options.timeout);
  await DIALECTS[protocol].offer(dialogue, options.hostname);
}

/**
 * For a tunnel that offered STARTTLS itself and forwards to a plain backend of the same protocol:
 * reads and discards the backend's own greeting (SMTP/FTP 220, IMAP "* OK", POP3 "+OK"; nothing for
 * xmpp and postgres), so the client does not see a second one. Rejects with StartTlsRefusedError
 * when the greeting is not a positive one.
 */
export async function skipGreeting(
  protocol: StartTlsProtocol,
  backend: Connection,
  options: { timeout?: number } = {},
): Promise<void> {
  const dialogue = new Dialogue(protocol, backend, 'server', options.timeout);
  await DIALECTS[protocol].skipGreeting(dialogue);
}
