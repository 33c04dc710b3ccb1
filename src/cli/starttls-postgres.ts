/**
 * PostgreSQL SSLRequest (protocol docs, "SSL Session Encryption"): the client sends the 8 bytes
 * 00000008 04d2162f; the server answers one byte, 'S' (go ahead) or 'N' (no TLS).
 *
 * Subtleties: the answer is a single byte, so anything after 'S' is injection (CVE-2021-23222 on
 * the client side, CVE-2021-23214 on the server side) and is refused. An 'E' answer is an old
 * server's ErrorResponse. As a server we answer GSSENCRequest with 'N' (we do not do GSSAPI), and a
 * plain StartupMessage with a FATAL ErrorResponse (SQLSTATE 28000) saying TLS is required. There
 * is no greeting: the server speaks only after the client.
 */
import type { Dialogue, StartTlsDialect } from './starttls-dialogue.js';

const SSL_REQUEST = Uint8Array.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const GSSENC_REQUEST_CODE = 80877104;
const SSL_REQUEST_CODE = 80877103;
/** Larger startup packets are refused (PostgreSQL itself allows 10000). */
const MAX_STARTUP_PACKET = 10_000;

async function request(dialogue: Dialogue): Promise<Uint8Array> {
  await dialogue.send(SSL_REQUEST);
  const [answer] = await dialogue.exactly(1, 'the answer to SSLRequest');
  if (answer === 0x4e) throw dialogue.refused("answered 'N' to SSLRequest: it does not accept TLS", 'N');
  if (answer !== 0x53) {
    const said = String.fromCharCode(answer ?? 0);
    throw dialogue.refused(`answered SSLRequest with ${JSON.stringify(said)} instead of 'S'`, said);
  }
  dialogue.refusePipelined("its 'S' to SSLRequest");
  return new Uint8Array(0);
}

function errorResponse(message: string): Uint8Array {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C28000\0M${message}\0\0`, 'utf8');
  const packet = Buffer.alloc(5 + fields.length);
  packet.write('E', 0, 'latin1');
  packet.writeUInt32BE(4 + fields.length, 1);
  fields.copy(packet, 5);
  return packet;
}

async function offer(dialogue: Dialogue): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const length = Buffer.from(await dialogue.exactly(4, 'a startup packet')).readUInt32BE(0);
    if (length < 8 || length > MAX_STARTUP_PACKET) {
      throw dialogue.refused(
        `sent a startup packet of ${length} bytes (8 to ${MAX_STARTUP_PACKET} expected)`,
        '',
      );
    }
    const code = Buffer.from(await dialogue.exactly(length - 4, 'a startup packet')).readUInt32BE(0);
    if (code === SSL_REQUEST_CODE && length === 8) {
      dialogue.refusePipelined('SSLRequest');
      await dialogue.send('S');
      return;
    }
    if (code === GSSENC_REQUEST_CODE && length === 8) {
      await dialogue.send('N');
      continue;
    }
    await dialogue.send(errorResponse('TLS is required: send SSLRequest first (sslmode=require)'));
    throw dialogue.refused('sent a startup packet without SSLRequest first', '');
  }
  throw dialogue.refused('sent GSSENCRequest repeatedly without SSLRequest', '');
}

async function skipGreeting(): Promise<void> {}

export const postgres: StartTlsDialect = { request, offer, skipGreeting };
