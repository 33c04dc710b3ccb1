/**
 * IMAP STARTTLS (RFC 2595, RFC 9051 6.2.1): greeting "* OK", CAPABILITY lists STARTTLS,
 * "<tag> STARTTLS" → "<tag> OK".
 *
 * Subtleties: a "* PREAUTH" or "* BYE" greeting means no STARTTLS is possible (9051 forbids it once
 * authenticated), so it is a refusal. Untagged lines may come before the tagged completion. The
 * client must discard capabilities learnt before TLS (caller's business). As a server we answer
 * CAPABILITY (with LOGINDISABLED, so no password goes in plaintext), NOOP, LOGOUT, and
 * "NO [PRIVACYREQUIRED]" (RFC 5530) to anything else; any tag the client uses is echoed.
 */
import { type Dialogue, linesBytes, STARTTLS_MAX_LINES, type StartTlsDialect } from './starttls-dialogue.js';

const CAPABILITIES = 'IMAP4rev1 STARTTLS LOGINDISABLED';

async function greeting(dialogue: Dialogue): Promise<string> {
  const line = await dialogue.line('the "* OK" greeting');
  if (!/^\* OK\b/i.test(line)) throw dialogue.refused('did not greet with "* OK"', line);
  return line;
}

/** Sends a tagged command and collects lines up to its tagged completion. */
async function command(dialogue: Dialogue, tag: string, verb: string): Promise<string[]> {
  await dialogue.sendLines(`${tag} ${verb}`);
  const lines: string[] = [];
  while (lines.length < STARTTLS_MAX_LINES) {
    const line = await dialogue.line(`the reply to ${verb}`);
    lines.push(line);
    if (line.startsWith(`${tag} `)) return lines;
  }
  throw dialogue.refused(`sent more than ${STARTTLS_MAX_LINES} lines in reply to ${verb}`, lines.join('\n'));
}

const completedOk = (lines: string[], tag: string) =>
  new RegExp(`^${tag} OK\\b`, 'i').test(lines.at(-1) ?? '');

async function request(dialogue: Dialogue): Promise<Uint8Array> {
  const first = await greeting(dialogue);
  const capability = await command(dialogue, 'a001', 'CAPABILITY');
  const offered = [first, ...capability].some((line) => /^\* (OK \[)?CAPABILITY .*\bSTARTTLS\b/i.test(line));
  if (!completedOk(capability, 'a001') || !offered) {
    throw dialogue.refused('does not offer STARTTLS in its capabilities', [first, ...capability].join('\n'));
  }
  const reply = await command(dialogue, 'a002', 'STARTTLS');
  if (!completedOk(reply, 'a002')) throw dialogue.refused('refused STARTTLS', reply.join('\n'));
  dialogue.refusePipelined('its OK to STARTTLS');
  return linesBytes([first]);
}

async function offer(dialogue: Dialogue, hostname: string): Promise<void> {
  await dialogue.sendLines(`* OK [CAPABILITY ${CAPABILITIES}] ${hostname} IMAP4rev1 (tlskit) ready`);
  for (let unanswered = 0; unanswered < STARTTLS_MAX_LINES; unanswered++) {
    const line = await dialogue.line('an IMAP command');
    const [tag = '', verb = ''] = line.trim().split(/\s+/, 2);
    const upper = verb.toUpperCase();
    if (tag === '' || verb === '') {
      await dialogue.sendLines('* BAD Missing tag or command');
    } else if (upper === 'STARTTLS') {
      dialogue.refusePipelined('STARTTLS');
      await dialogue.sendLines(`${tag} OK Begin TLS negotiation now`);
      return;
    } else if (upper === 'LOGOUT') {
      await dialogue.sendLines('* BYE Logging out', `${tag} OK LOGOUT completed`);
      throw dialogue.refused('logged out before STARTTLS', line);
    } else {
      await dialogue.sendLines(...answer(tag, upper));
    }
  }
  throw dialogue.refused(`sent ${STARTTLS_MAX_LINES} commands without STARTTLS`, '');
}

function answer(tag: string, verb: string): string[] {
  switch (verb) {
    case 'CAPABILITY':
      return [`* CAPABILITY ${CAPABILITIES}`, `${tag} OK CAPABILITY completed`];
    case 'NOOP':
      return [`${tag} OK NOOP completed`];
    default:
      return [`${tag} NO [PRIVACYREQUIRED] Must issue a STARTTLS command first`];
  }
}

async function skipGreeting(dialogue: Dialogue): Promise<void> {
  await greeting(dialogue);
}

export const imap: StartTlsDialect = { request, offer, skipGreeting };
