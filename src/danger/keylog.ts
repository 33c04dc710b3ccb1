/**
 * `keyLog`: a context's TLS secrets in the NSS key-log format, for Wireshark and tshark. Whoever
 * holds the lines can decrypt every recorded connection they belong to, so this lives in
 * tlskit/danger, needs a reason, warns the process once (`TLSKIT_KEYLOG`), and writes a file only
 * its owner can read. The per-connection hook is src/tls/keylog.ts.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { ClientContext } from '../tls/client-context.js';
import { checkNoKeyLog, registerKeyLog } from '../tls/keylog.js';
import { OPTION_NAMES } from '../tls/option-names.js';
import { ServerContext } from '../tls/server-context.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkOptionNames } from '../transport/options.js';
import { requireReason, warnOnce } from './loud.js';

/**
 * Where the lines go: a file path (appended to; created with mode 0600), a function called with
 * each line (a Buffer, newline included), or a writable stream such as `process.stderr`.
 */
export type KeyLogSink = string | ((line: Buffer) => void) | NodeJS.WritableStream;

/** Options of `keyLog`. */
export interface KeyLogOptions {
  /** Why secrets are logged, e.g. "decrypt a capture of the staging handshake". Required. */
  reason: string;
}

/** A running key log. */
export interface KeyLog {
  /** The reason it was started with. */
  readonly reason: string;
  /**
   * Stops it: connections that start later get no listener, connections already running write no
   * further line, and a file sink is closed (a stream or function sink is left as it is).
   */
  stop(): void;
}

/** What a sink turns into: how to write a line, how to let go, and how to name it in messages. */
interface Writer {
  write(line: Buffer): void;
  close(): void;
  readonly name: string;
}

const noop = () => {};

function fail(message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(message, cause === undefined ? undefined : { cause });
}

/** Opens a file for appending, created 0600; refuses one that others may already read. */
function fileWriter(path: string): Writer {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (error) {
    throw fail(
      `keyLog: cannot open the \`sink\` file ${JSON.stringify(path)} for appending ` +
        `(${(error as Error).message}); give a path in a directory you can write to`,
      error,
    );
  }
  const stats = fstatSync(fd);
  if (process.platform !== 'win32' && stats.isFile() && (stats.mode & 0o077) !== 0) {
    closeSync(fd);
    throw fail(
      `keyLog: the \`sink\` file ${JSON.stringify(path)} can be read or written by other users ` +
        `(mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}) and would hold TLS secrets; ` +
        `run chmod 600 on it, or give a new path (keyLog creates files with mode 0600)`,
    );
  }
  return {
    name: path,
    write(line) {
      for (let at = 0; at < line.length; ) at += writeSync(fd, line, at);
    },
    close: () => closeSync(fd),
  };
}

function streamWriter(stream: NodeJS.WritableStream): Writer {
  return {
    name: 'a stream',
    write(line) {
      if (!stream.writable) throw new Error('the stream is no longer writable');
      stream.write(line);
    },
    close: noop,
  };
}

/** The sink, checked, as a Writer. */
function writerFor(sink: unknown): Writer {
  if (typeof sink === 'function') return { name: 'a function', write: sink as Writer['write'], close: noop };
  if (typeof sink === 'string') {
    if (sink === '') throw fail('keyLog: `sink` is an empty path; give a file name such as "keys.log"');
    return fileWriter(sink);
  }
  if (
    typeof sink === 'object' &&
    sink !== null &&
    typeof (sink as NodeJS.WritableStream).write === 'function'
  ) {
    return streamWriter(sink as NodeJS.WritableStream);
  }
  throw fail(
    'keyLog: `sink` must be a file path (appended to, created with mode 0600), a function called with ' +
      `each line, or a writable stream such as process.stderr; got ${sink === null ? 'null' : typeof sink}`,
  );
}

/**
 * Logs the secrets of every connection of `context` that starts from now on, in the NSS key-log
 * format Wireshark reads (TLS 1.2 `CLIENT_RANDOM` lines, TLS 1.3 handshake, traffic and exporter
 * secrets), one line per secret, until `stop()`. Works for client and server contexts, over any
 * transport. A context has one key log at a time; connections of other contexts cost nothing.
 * A sink that throws (or a file write that fails) stops the log with a `TLSKIT_KEYLOG_FAILED`
 * warning; the connections go on.
 */
export function keyLog(
  context: ClientContext | ServerContext,
  sink: KeyLogSink,
  options: KeyLogOptions,
): KeyLog {
  if (!(context instanceof ClientContext) && !(context instanceof ServerContext)) {
    throw fail(
      'keyLog: `context` must come from clientContext(), serverContext() or insecureClientContext(); ' +
        `got ${context === null ? 'null' : typeof context}`,
    );
  }
  const reason = requireReason(
    'keyLog',
    (options as Partial<KeyLogOptions> | undefined)?.reason,
    'TLS secrets are logged',
    'decrypt a capture in Wireshark',
    (_field, message) => fail(message),
  );
  checkOptionNames('keyLog', options, OPTION_NAMES.keyLog);
  checkNoKeyLog(context); // before a file is made for nothing
  const writer = writerFor(sink);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unregister();
    writer.close();
  };
  const unregister = registerKeyLog(context, (line) => {
    try {
      writer.write(line);
    } catch (error) {
      stop();
      process.emitWarning(`tlskit: the key log to ${writer.name} stopped: ${(error as Error).message}`, {
        code: 'TLSKIT_KEYLOG_FAILED',
      });
    }
  });
  warnOnce(
    'TLSKIT_KEYLOG',
    `tlskit: the TLS secrets of a ${context.role} context are being logged to ${writer.name} ` +
      `(reason: ${reason}). Anyone who reads them can decrypt the connections they belong to.`,
  );
  return { reason, stop };
}
