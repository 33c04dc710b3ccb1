/**
 * The plaintext half of STARTTLS, shared by every protocol: bounded reads under one deadline, and
 * the two checks that make an upgrade safe.
 *
 * Why one deadline for the whole dialogue rather than one per read: a hostile or broken peer can
 * trickle a byte per read forever; the dialogue as a whole must end by `timeout`. Why line limits:
 * nothing a peer sends before TLS is worth more than a few KiB, so a peer that sends more is
 * refused instead of buffered (Connection.readLine/readUntil keep the bytes buffered, never lose
 * them, and the limit bounds them).
 *
 * The injection checks (the NO STARTTLS study, Postfix CVE-2011-0411, PostgreSQL CVE-2021-23222):
 * whoever answers "go ahead" must have nothing else buffered from the other side when it does —
 * bytes that arrived before TLS would otherwise be read as if TLS protected them. The server checks
 * after reading the upgrade command, the client after reading the go-ahead; both reject with
 * tlskit's StartTlsError (`ERR_STARTTLS_PENDING_PLAINTEXT`), the same error Connection.startTls
 * gives, so callers have one error to handle.
 */
import type { Connection } from '../stream/connection.js';
import { StartTlsError } from '../tls/errors.js';
import { InvalidArgumentError, TimeoutError, TlskitError } from '../transport/errors.js';

/** Default deadline of a whole STARTTLS dialogue, in milliseconds. */
export const DEFAULT_STARTTLS_TIMEOUT = 30_000;
/** Longest line either side accepts before TLS (RFC 5321 allows 512 for replies; we are lenient). */
export const STARTTLS_LINE_LIMIT = 4096;
/** Most lines of one multi-line reply or of one unanswered run of commands. */
export const STARTTLS_MAX_LINES = 100;

/**
 * The peer refused STARTTLS, did not offer it, or did not speak the protocol. Code
 * `ERR_STARTTLS_REFUSED`; `reply` is what the peer said (quoted in the message), empty when it
 * closed the connection.
 */
export class StartTlsRefusedError extends TlskitError {
  readonly protocol: string;
  readonly reply: string;

  constructor(protocol: string, message: string, reply: string) {
    super('ERR_STARTTLS_REFUSED', message);
    this.protocol = protocol;
    this.reply = reply;
  }
}

/** Quotes a peer's reply for an error message: printable, one line, bounded. */
export function quote(reply: string): string {
  const flat = reply.replace(/\r?\n/g, '\\n').replace(/[^\x20-\x7e\\]/g, '?');
  return `'${flat.length > 300 ? `${flat.slice(0, 300)}...` : flat}'`;
}

/** One STARTTLS dialogue on one connection: `peer` names the other side in messages. */
export class Dialogue {
  readonly #deadline: number;

  constructor(
    readonly protocol: string,
    readonly connection: Connection,
    readonly peer: 'server' | 'client',
    readonly timeout: number = DEFAULT_STARTTLS_TIMEOUT,
  ) {
    if (!Number.isInteger(timeout) || timeout < 1) {
      throw new InvalidArgumentError(
        `${protocol} STARTTLS: \`timeout\` must be a positive integer (ms), got ${timeout}`,
      );
    }
    this.#deadline = Date.now() + timeout;
  }

  /** A refusal by the peer, quoting what it said. */
  refused(what: string, reply: string): StartTlsRefusedError {
    const said = reply === '' ? '' : `: ${quote(reply)}`;
    return new StartTlsRefusedError(
      this.protocol,
      `${this.protocol} STARTTLS: the ${this.peer} ${what}${said}`,
      reply,
    );
  }

  /** The next line without its line end; rejects at end of stream, past the limit or the deadline. */
  async line(waitingFor: string): Promise<string> {
    const line = await this.#bounded(waitingFor, (timeout) =>
      this.connection.readLine({ limit: STARTTLS_LINE_LIMIT, timeout }),
    );
    if (line === null) throw this.refused(`closed the connection while we waited for ${waitingFor}`, '');
    return line;
  }

  /** Bytes up to and including `delimiter`, at most `limit` of them. */
  async until(delimiter: string, limit: number, waitingFor: string): Promise<string> {
    const bytes = await this.#bounded(waitingFor, (timeout) =>
      this.connection.readUntil(delimiter, { limit, timeout }),
    );
    return Buffer.from(bytes).toString('utf8');
  }

  /** Exactly `n` bytes. */
  exactly(n: number, waitingFor: string): Promise<Uint8Array> {
    return this.#bounded(waitingFor, (timeout) => this.connection.readExactly(n, { timeout }));
  }

  send(text: string | Uint8Array): Promise<void> {
    return this.connection.write(text);
  }

  /** Sends lines, each ended by CRLF, in one write. */
  sendLines(...lines: string[]): Promise<void> {
    return this.connection.write(lines.map((line) => `${line}\r\n`).join(''));
  }

  /**
   * Rejects if the peer sent anything behind the upgrade command or its go-ahead: those bytes
   * arrived in plaintext and must not be read as if TLS protected them.
   */
  refusePipelined(after: string): void {
    const pending = this.connection.bufferedBytes;
    if (pending === 0) return;
    throw new StartTlsError(
      `${this.protocol} STARTTLS: the ${this.peer} sent ${pending} plaintext byte(s) right after ${after}; ` +
        'they would be read as if TLS protected them (command injection), so the upgrade is refused',
      pending,
    );
  }

  async #bounded<T>(waitingFor: string, read: (timeout: number) => Promise<T>): Promise<T> {
    const remaining = this.#deadline - Date.now();
    if (remaining <= 0) throw this.#timedOut(waitingFor);
    try {
      return await read(remaining);
    } catch (error) {
      if (error instanceof TimeoutError) throw this.#timedOut(waitingFor);
      if (error instanceof TlskitError && error.code === 'ERR_LIMIT_EXCEEDED') {
        throw this.refused(`sent more than we accept before TLS while we waited for ${waitingFor}`, '');
      }
      throw error;
    }
  }

  #timedOut(waitingFor: string): TimeoutError {
    return new TimeoutError(
      `${this.protocol} STARTTLS: waited ${this.timeout} ms for ${waitingFor} from the ${this.peer}; ` +
        'is it a server of this protocol? (raise the timeout if it is slow)',
      this.timeout,
    );
  }
}

/**
 * Reads one reply in the numeric format SMTP and FTP share: "ddd-..." lines continue it, the line
 * "ddd ..." with the same code ends it (FTP allows other lines in between). Returns the code and
 * the lines.
 */
export async function readCodedReply(
  dialogue: Dialogue,
  waitingFor: string,
): Promise<{ code: string; lines: string[] }> {
  const lines = [await dialogue.line(waitingFor)];
  const code = /^(\d{3})[ -]/.exec(lines[0] ?? '')?.[1] ?? /^(\d{3})$/.exec(lines[0] ?? '')?.[1];
  if (code === undefined)
    throw dialogue.refused(`does not speak ${dialogue.protocol} (${waitingFor} expected)`, lines[0] ?? '');
  let last = lines[0] ?? '';
  while (!(last === code || last.startsWith(`${code} `))) {
    if (lines.length >= STARTTLS_MAX_LINES)
      throw dialogue.refused(`sent a reply of more than ${STARTTLS_MAX_LINES} lines`, lines.join('\n'));
    last = await dialogue.line(waitingFor);
    lines.push(last);
  }
  return { code, lines };
}

/** Reads the 220 greeting SMTP and FTP servers open with; anything else is a refusal. */
export async function read220Greeting(dialogue: Dialogue): Promise<{ code: string; lines: string[] }> {
  const greeting = await readCodedReply(dialogue, 'the 220 greeting');
  if (greeting.code !== '220') throw dialogue.refused('did not greet with 220', greeting.lines.join('\n'));
  return greeting;
}

/** Bytes of lines as they were on the wire (CRLF ends), for a tunnel to replay. */
export function linesBytes(lines: string[]): Uint8Array {
  return Buffer.from(lines.map((line) => `${line}\r\n`).join(''));
}

/** What each protocol implements. */
export interface StartTlsDialect {
  request(dialogue: Dialogue, hostname: string): Promise<Uint8Array>;
  offer(dialogue: Dialogue, hostname: string): Promise<void>;
  skipGreeting(dialogue: Dialogue): Promise<void>;
}
