/**
 * FTP explicit TLS (RFC 4217): greeting 220, "AUTH TLS" → 234, then TLS on the control connection.
 *
 * Subtleties: FTP multi-line replies may carry lines without the code between "220-" and "220 ";
 * 4217 also allows 334 (more security data) which TLS never needs, so only 234 is a go-ahead. Data
 * connections (PBSZ/PROT) are the caller's business after TLS. As a server we answer FEAT (listing
 * AUTH TLS), NOOP, QUIT, "504" to other AUTH mechanisms, and "530 Please login with AUTH TLS
 * first" to the rest.
 */
import {
  type Dialogue,
  linesBytes,
  read220Greeting,
  readCodedReply,
  STARTTLS_MAX_LINES,
  type StartTlsDialect,
} from './starttls-dialogue.js';

async function request(dialogue: Dialogue): Promise<Uint8Array> {
  const greeting = await read220Greeting(dialogue);
  await dialogue.sendLines('AUTH TLS');
  const reply = await readCodedReply(dialogue, 'the reply to AUTH TLS');
  if (reply.code !== '234') throw dialogue.refused('refused AUTH TLS', reply.lines.join('\n'));
  dialogue.refusePipelined('its 234 reply to AUTH TLS');
  return linesBytes(greeting.lines);
}

async function offer(dialogue: Dialogue, hostname: string): Promise<void> {
  await dialogue.sendLines(`220 ${hostname} FTP server (tlskit) ready`);
  for (let unanswered = 0; unanswered < STARTTLS_MAX_LINES; unanswered++) {
    const line = await dialogue.line('an FTP command');
    const [verb = '', argument = ''] = line
      .trim()
      .split(/\s+/, 2)
      .map((word) => word.toUpperCase());
    if (verb === 'AUTH' && argument === 'TLS') {
      dialogue.refusePipelined('AUTH TLS');
      await dialogue.sendLines('234 AUTH TLS successful');
      return;
    }
    if (verb === 'QUIT') {
      await dialogue.sendLines('221 Goodbye');
      throw dialogue.refused('quit before AUTH TLS', line);
    }
    await dialogue.sendLines(...answer(verb));
  }
  throw dialogue.refused(`sent ${STARTTLS_MAX_LINES} commands without AUTH TLS`, '');
}

function answer(verb: string): string[] {
  switch (verb) {
    case 'FEAT':
      return ['211-Features:', ' AUTH TLS', '211 End'];
    case 'NOOP':
      return ['200 NOOP ok'];
    case 'AUTH':
      return ['504 Only AUTH TLS is supported'];
    default:
      return ['530 Please login with AUTH TLS first'];
  }
}

async function skipGreeting(dialogue: Dialogue): Promise<void> {
  await read220Greeting(dialogue);
}

export const ftp: StartTlsDialect = { request, offer, skipGreeting };
