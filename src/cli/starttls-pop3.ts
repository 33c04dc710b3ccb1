/**
 * POP3 STLS (RFC 2595 section 4): greeting "+OK", CAPA lists STLS, "STLS" → "+OK".
 *
 * Subtleties: CAPA (RFC 2449) is optional for old servers; a "-ERR" to CAPA is not proof that STLS
 * is missing, so the client then tries STLS and lets its reply decide. CAPA's list ends with a
 * line holding a single ".". As a server we answer CAPA, NOOP, QUIT, and "-ERR Must issue STLS
 * first" to anything else (USER/PASS would otherwise carry a password in plaintext).
 */
import { type Dialogue, linesBytes, STARTTLS_MAX_LINES, type StartTlsDialect } from './starttls-dialogue.js';

async function greeting(dialogue: Dialogue): Promise<string> {
  const line = await dialogue.line('the "+OK" greeting');
  if (!/^\+OK\b/i.test(line)) throw dialogue.refused('did not greet with "+OK"', line);
  return line;
}

/** CAPA's lines, `null` when the server does not know CAPA. */
async function capabilities(dialogue: Dialogue): Promise<string[] | null> {
  await dialogue.sendLines('CAPA');
  const status = await dialogue.line('the reply to CAPA');
  if (!/^\+OK\b/i.test(status)) return null;
  const lines: string[] = [];
  for (
    let line = await dialogue.line('the CAPA list');
    line !== '.';
    line = await dialogue.line('the CAPA list')
  ) {
    if (lines.length >= STARTTLS_MAX_LINES)
      throw dialogue.refused('sent an endless CAPA list', lines.join('\n'));
    lines.push(line);
  }
  return lines;
}

async function request(dialogue: Dialogue): Promise<Uint8Array> {
  const first = await greeting(dialogue);
  const capa = await capabilities(dialogue);
  if (capa !== null && !capa.some((line) => /^STLS\b/i.test(line))) {
    throw dialogue.refused('does not offer STLS in its CAPA list', capa.join('\n'));
  }
  await dialogue.sendLines('STLS');
  const reply = await dialogue.line('the reply to STLS');
  if (!/^\+OK\b/i.test(reply)) throw dialogue.refused('refused STLS', reply);
  dialogue.refusePipelined('its +OK to STLS');
  return linesBytes([first]);
}

async function offer(dialogue: Dialogue, hostname: string): Promise<void> {
  await dialogue.sendLines(`+OK ${hostname} POP3 (tlskit) ready`);
  for (let unanswered = 0; unanswered < STARTTLS_MAX_LINES; unanswered++) {
    const line = await dialogue.line('a POP3 command');
    const verb = line.trim().split(/\s+/, 1)[0]?.toUpperCase() ?? '';
    if (verb === 'STLS') {
      dialogue.refusePipelined('STLS');
      await dialogue.sendLines('+OK Begin TLS negotiation');
      return;
    }
    if (verb === 'QUIT') {
      await dialogue.sendLines('+OK Bye');
      throw dialogue.refused('quit before STLS', line);
    }
    await dialogue.sendLines(...answer(verb));
  }
  throw dialogue.refused(`sent ${STARTTLS_MAX_LINES} commands without STLS`, '');
}

function answer(verb: string): string[] {
  switch (verb) {
    case 'CAPA':
      return ['+OK Capability list follows', 'STLS', '.'];
    case 'NOOP':
      return ['+OK'];
    default:
      return ['-ERR Must issue STLS first'];
  }
}

async function skipGreeting(dialogue: Dialogue): Promise<void> {
  await greeting(dialogue);
}

export const pop3: StartTlsDialect = { request, offer, skipGreeting };
