/**
 * XMPP STARTTLS (RFC 6120 section 5): the client opens a stream to the domain, the server's
 * <stream:features> list <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>, the client sends it,
 * the server answers <proceed/> (or <failure/>, and closes).
 *
 * Subtleties: this is XML, not lines. We do not parse XML (no dependency, and a full parser is an
 * attack surface before TLS): we read bounded element-sized pieces (up to each '>') and match the
 * few elements STARTTLS needs with patterns that accept either quote. That suffices because both
 * sides of STARTTLS exchange only those elements. After TLS the client must open a new stream
 * (RFC 6120 5.4.3.3), the caller's business. There is no greeting to replay: the stream header
 * names the peer, so a tunnel must not replay it.
 */
import { randomBytes } from 'node:crypto';
import {
  type Dialogue,
  STARTTLS_LINE_LIMIT,
  STARTTLS_MAX_LINES,
  type StartTlsDialect,
} from './starttls-dialogue.js';

const TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';
const STREAMS_NS = 'http://etherx.jabber.org/streams';
/** Most bytes of stream header plus features we accept before TLS. */
const FEATURES_LIMIT = 16 * 1024;
const escapeAttribute = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

async function request(dialogue: Dialogue, hostname: string): Promise<Uint8Array> {
  await dialogue.send(
    `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS_NS}' ` +
      `to='${escapeAttribute(hostname)}' version='1.0'>`,
  );
  const features = await readFeatures(dialogue);
  if (!new RegExp(`<starttls\\s+xmlns=['"]${TLS_NS}['"]`).test(features)) {
    throw dialogue.refused('does not offer <starttls/> in its stream features', features);
  }
  await dialogue.send(`<starttls xmlns='${TLS_NS}'/>`);
  const reply = await dialogue.until('>', STARTTLS_LINE_LIMIT, 'the reply to <starttls/>');
  if (!/^\s*<proceed[\s/>]/.test(reply)) throw dialogue.refused('refused <starttls/>', reply);
  if (!reply.endsWith('/>')) await dialogue.until('</proceed>', STARTTLS_LINE_LIMIT, 'the end of <proceed>');
  dialogue.refusePipelined('its <proceed/>');
  return new Uint8Array(0);
}

/** The server's stream header and features, up to `</stream:features>` or an empty `<stream:features/>`. */
async function readFeatures(dialogue: Dialogue): Promise<string> {
  let features = '';
  while (!/<\/stream:features>|<stream:features\s*\/>/.test(features)) {
    const room = FEATURES_LIMIT - features.length;
    if (room <= 0)
      throw dialogue.refused(`sent more than ${FEATURES_LIMIT} bytes without its stream features`, '');
    features += await dialogue.until('>', room, 'the stream features');
  }
  return features;
}

/** The next element's opening (or a declaration), up to its '>'. */
const piece = (dialogue: Dialogue, what: string) => dialogue.until('>', STARTTLS_LINE_LIMIT, what);

async function offer(dialogue: Dialogue, hostname: string): Promise<void> {
  let header = await piece(dialogue, 'the stream header');
  if (/^\s*<\?xml\b/.test(header)) header = await piece(dialogue, 'the stream header');
  if (!/^\s*<stream:stream\b/.test(header)) throw dialogue.refused('did not open an XMPP stream', header);
  const id = randomBytes(8).toString('hex');
  await dialogue.send(
    `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS_NS}' ` +
      `id='${id}' from='${escapeAttribute(hostname)}' version='1.0'>` +
      `<stream:features><starttls xmlns='${TLS_NS}'><required/></starttls></stream:features>`,
  );
  for (let unanswered = 0; unanswered < STARTTLS_MAX_LINES; unanswered++) {
    const element = await piece(dialogue, 'a <starttls/> request');
    if (/^\s*$/.test(element)) continue;
    if (!/^\s*<starttls[\s/>]/.test(element)) {
      // RFC 6120 5.3.1: TLS is required, anything else is a policy violation that ends the stream.
      await dialogue.send(
        "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
      );
      throw dialogue.refused('sent something other than <starttls/> before TLS', element);
    }
    if (!element.endsWith('/>'))
      await dialogue.until('</starttls>', STARTTLS_LINE_LIMIT, 'the end of <starttls>');
    dialogue.refusePipelined('<starttls/>');
    await dialogue.send(`<proceed xmlns='${TLS_NS}'/>`);
    return;
  }
  throw dialogue.refused(`sent ${STARTTLS_MAX_LINES} elements without <starttls/>`, '');
}

/** A backend's stream header comes only after our own header, so there is nothing to skip. */
async function skipGreeting(): Promise<void> {}

export const xmpp: StartTlsDialect = { request, offer, skipGreeting };
