/**
 * Servers on workers for the tests: test/fixtures/workers-server.mjs, run as its own Node program
 * (cluster.fork() runs the main script again, which under vitest would be vitest), against the
 * built package. Its primary prints JSON events and takes commands on stdin; every worker answers
 * a connection with `{ pid, key, with }`. `greet` is the client: node:tls, so that the test decides
 * which session each connection offers.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { TcpAddress, UnixAddress } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { expect } from 'vitest';
import { once } from './once.js';
import { PEER_TIMEOUT, Peer } from './peers.js';

const FIXTURE = new URL('../fixtures/workers-server.mjs', import.meta.url).pathname;

/** PEM files: a CA, and two localhost leaves of it, `first` (served at start) and `second`. */
export interface WorkerCertificates {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  nextCert: string;
  nextKey: string;
}

export const workerCertificates = once(async (): Promise<WorkerCertificates> => {
  const ca = await createCA();
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-workers-'));
  const write = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem);
    return join(dir, name);
  };
  const issued = await Promise.all(
    ['first', 'second'].map((subject) => ca.issue({ hosts: ['localhost', '127.0.0.1'], subject })),
  );
  return {
    dir,
    ca: write('ca.pem', ca.certPem),
    cert: write('first.pem', issued[0]!.chainPem),
    key: write('first-key.pem', issued[0]!.keyPem),
    nextCert: write('second.pem', issued[1]!.chainPem),
    nextKey: write('second-key.pem', issued[1]!.keyPem),
  };
});

/** The fixture's configuration (see its header). */
export interface FixtureConfig {
  api?: 'serve' | 'createServer' | 'serveHttp';
  workers?: number;
  ticketKeyRotation?: number;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  port?: number;
  path?: string;
  plain?: boolean;
  crash?: 'before-serve' | 'after-listen';
  second?: boolean;
  foreign?: boolean;
  /** More options for serve, such as limits. */
  limits?: Record<string, unknown>;
  /** Give serve an AbortSignal, which the `abort` command aborts. */
  signal?: boolean;
}

/** A running fixture: its primary's events, and commands to it. */
export class WorkersFixture {
  readonly peer: Peer;

  constructor(config: FixtureConfig & Partial<WorkerCertificates>) {
    this.peer = new Peer('the workers fixture', process.execPath, [FIXTURE, JSON.stringify(config)]);
  }

  /** The first event (a JSON line) with `key` printed after `since`, and where it ended. */
  async event<T = unknown>(
    key: string,
    options: { since?: number; timeout?: number; where?: (value: T) => boolean } = {},
  ): Promise<{ value: T; at: number }> {
    let since = options.since ?? 0;
    for (;;) {
      const match = await this.peer.waitFor(new RegExp(`^\\{"${key}":.*\\}$`, 'm'), {
        since,
        timeout: options.timeout ?? PEER_TIMEOUT,
      });
      const at = since + match.index! + match[0].length;
      const value = (JSON.parse(match[0]) as Record<string, T>)[key]!;
      if (!options.where || options.where(value)) return { value, at };
      since = at;
    }
  }

  /** Waits until the group listens; returns its address. */
  async ready(): Promise<TcpAddress & UnixAddress> {
    return (await this.event<TcpAddress & UnixAddress>('ready')).value;
  }

  command(line: string): void {
    this.peer.send(`${line}\n`);
  }

  /** Asks the primary to close the group and resolves with what close() returned. */
  async close(timeout?: number): Promise<unknown> {
    const since = this.peer.mark();
    this.command(timeout === undefined ? 'close' : `close ${timeout}`);
    return (await this.event('closed', { since, timeout: PEER_TIMEOUT + (timeout ?? 0) })).value;
  }

  /** Fails the test if any process of the fixture reported an unhandled rejection. */
  expectNoUnhandledRejection(): void {
    expect(this.peer.stderr).not.toMatch(/UNHANDLED REJECTION/);
  }
}

/** What a worker answered, and how the connection went. */
export interface Greeting {
  pid: number;
  /** The worker's ticket key name, in hex. */
  key: string;
  with: 'serve' | 'createServer' | 'serveHttp';
  resumed: boolean;
  /** The last session the server sent, to offer on a later connection. */
  session: Buffer | undefined;
  /** The subject of the certificate the server presented (on a full handshake). */
  subject: string | undefined;
}

/**
 * Connects over TLS (offering `session`), reads the worker's greeting and closes. With `http`,
 * asks for it with a GET and reads it from the response body (a serveHttp worker).
 */
export function greet(
  where: { port: number } | { path: string },
  certificates: WorkerCertificates,
  options: { session?: Buffer; maxVersion?: tls.SecureVersion; http?: boolean } = {},
): Promise<Greeting> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...('port' in where ? { host: '127.0.0.1', port: where.port } : { path: where.path }),
      servername: 'localhost',
      ca: readFileSync(certificates.ca),
      session: options.session,
      maxVersion: options.maxVersion,
    });
    let session: Buffer | undefined;
    let text = '';
    socket.setEncoding('utf8');
    socket.on('session', (ticket: Buffer) => {
      session = ticket;
    });
    if (options.http) socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const start = options.http ? text.indexOf('\r\n\r\n') + 4 : 0;
      const end = text.indexOf('\n', start);
      if (start < 4 && options.http) return;
      if (end < 0) return;
      const greeting = JSON.parse(text.slice(start, end)) as Pick<Greeting, 'pid' | 'key' | 'with'>;
      const cn = socket.getPeerCertificate()?.subject?.CN;
      const subject = Array.isArray(cn) ? cn.join(', ') : cn;
      const resumed = socket.isSessionReused();
      socket.end();
      socket.once('close', () => resolve({ ...greeting, resumed, session, subject }));
    });
    socket.once('error', reject);
  });
}

/**
 * Greets until a connection is served by a worker `which` accepts (round robin alternates, so a
 * few tries suffice), or fails after `tries`.
 */
export async function greetWorker(
  where: { port: number } | { path: string },
  certificates: WorkerCertificates,
  which: (pid: number) => boolean,
  options: { session?: Buffer; tries?: number; maxVersion?: tls.SecureVersion; http?: boolean } = {},
): Promise<Greeting> {
  const tries = options.tries ?? 20;
  const seen: number[] = [];
  for (let i = 0; i < tries; i++) {
    const greeting = await greet(where, certificates, options);
    if (which(greeting.pid)) return greeting;
    seen.push(greeting.pid);
  }
  throw new Error(`no wanted worker served ${tries} connections in a row; they went to ${seen.join(', ')}`);
}

/** A connection kept open after the greeting: `ended` says whether the server ended it cleanly. */
export interface OpenConnection {
  pid: number;
  socket: tls.TLSSocket;
  /** The next line the worker sends; rejects if the connection ends first. */
  nextLine(): Promise<string>;
  /** True on the server's close_notify (a clean end), false if the connection was cut. */
  ended: Promise<boolean>;
}

/** Connects over TLS, reads the worker's greeting and keeps the connection open. */
export async function openConnection(
  port: number,
  certificates: WorkerCertificates,
): Promise<OpenConnection> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: readFileSync(certificates.ca),
  });
  socket.setEncoding('utf8');
  let text = '';
  let gone = false;
  const waiting = new Set<() => void>();
  const wake = () => {
    for (const check of [...waiting]) check();
  };
  socket.on('data', (chunk: string) => {
    text += chunk;
    wake();
  });
  socket.on('error', () => {}); // a cut shows as `ended` resolving to false
  const ended = new Promise<boolean>((done) => {
    socket.once('end', () => done(true));
    socket.once('close', () => {
      gone = true;
      wake();
      done(false);
    });
  });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const end = text.indexOf('\n');
        if (end >= 0) {
          waiting.delete(check);
          const line = text.slice(0, end);
          text = text.slice(end + 1);
          resolve(line);
        } else if (gone) {
          waiting.delete(check);
          reject(new Error(`the connection ended before a line; it had sent ${JSON.stringify(text)}`));
        }
      };
      waiting.add(check);
      check();
    });
  const greeting = JSON.parse(await nextLine()) as { pid: number };
  return { pid: greeting.pid, socket, nextLine, ended };
}
