/**
 * SMTP STARTTLS (RFC 3207): greeting 220, EHLO, STARTTLS among the 250 capabilities, STARTTLS → 220.
 *
 * Subtleties: the greeting and the EHLO reply may be multi-line ("220-", "250-"); a client must
 * look for STARTTLS in the EHLO reply rather than try it blindly, so that "not offered" is told
 * apart from "refused". After the handshake the client must EHLO again and forget what it learnt
 * (RFC 3207, 4.2): that is the caller's business, as is everything after TLS. As a server we answer
 * only what a client needs before TLS (EHLO, HELO, NOOP, RSET, QUIT) and "530 5.7.0 Must issue a
 * STARTTLS command first" (RFC 3207, 4) to anything else, so nothing is accepted in plaintext.
 */
import {
  type Dialogue,
  linesBytes,
  read220Greeting,
  readCodedReply,
  STARTTLS_MAX_LINES,
  type StartTlsDialect,
} from './starttls-dialogue.js';

async function request(dialogue: Dialogue, hostname: string): Promise<Uint8Array> {
  const greeting = await read220Greeting(dialogue);
  await dialogue.sendLines(`EHLO ${hostname}`);
  const ehlo = await readCodedReply(dialogue, 'the reply to EHLO');
  if (ehlo.code !== '250') throw dialogue.refused('refused EHLO', ehlo.lines.join('\n'));
  const offered = ehlo.lines.some((line) => /^STARTTLS\b/i.test(line.slice(4)));
  if (!offered) throw dialogue.refused('does not offer STARTTLS in its EHLO reply', ehlo.lines.join('\n'));
  await dialogue.sendLines('STARTTLS');
  const reply = await readCodedReply(dialogue, 'the reply to STARTTLS');
  if (reply.code !== '220') throw dialogue.refused('refused STARTTLS', reply.lines.join('\n'));
  dialogue.refusePipelined('its 220 reply to STARTTLS');
  return linesBytes(greeting.lines);
}

async function offer(dialogue: Dialogue, hostname: string): Promise<void> {
  await dialogue.sendLines(`220 ${hostname} ESMTP tlskit`);
  for (let unanswered = 0; unanswered < STARTTLS_MAX_LINES; unanswered++) {
    const line = await dialogue.line('an SMTP command');
    const verb = line.split(' ', 1)[0]?.toUpperCase() ?? '';
    if (verb === 'STARTTLS') {
      if (line.trim().length > verb.length) {
        await dialogue.sendLines('501 5.5.4 Syntax error (no parameters allowed)');
        continue;
      }
      dialogue.refusePipelined('STARTTLS');
      await dialogue.sendLines('220 2.0.0 Ready to start TLS');
      return;
    }
    if (verb === 'QUIT') {
      await dialogue.sendLines(`221 2.0.0 ${hostname} closing connection`);
      throw dialogue.refused('quit before STARTTLS', line);
    }
    await dialogue.sendLines(...answer(verb, line, hostname));
  }
  throw dialogue.refused(`sent ${STARTTLS_MAX_LINES} commands without STARTTLS`, '');
}

function answer(verb: string, line: string, hostname: string): string[] {
  const hasArgument = line.trim().length > verb.length;
  if ((verb === 'EHLO' || verb === 'HELO') && !hasArgument) return [`501 5.5.4 Syntax: ${verb} hostname`];
  switch (verb) {
    case 'EHLO':
      return [`250-${hostname}`, '250 STARTTLS'];
    case 'HELO':
      return [`250 ${hostname}`];
    case 'NOOP':
    case 'RSET':
      return ['250 2.0.0 OK'];
    default:
      return ['530 5.7.0 Must issue a STARTTLS command first'];
  }
}

async function skipGreeting(dialogue: Dialogue): Promise<void> {
  await read220Greeting(dialogue);
}

export const smtp: StartTlsDialect = { request, offer, skipGreeting };
