/**
 * Carrying bytes between standard input/output and a trusted server after `tlskit connect`'s
 * report, as `openssl s_client` does, but without its trap: s_client quits as soon as its input
 * ends, often before the server's answer arrives. Here the end of input only half-closes (sends
 * close_notify), and the server's bytes are still written out until the server ends too; the
 * server ending first stops the reading of input. Output is written with backpressure, so a slow
 * reader of stdout slows the server down instead of filling memory.
 */
import { fstatSync } from 'node:fs';
import type { Connection } from '../stream/connection.js';

/** Whether standard input is a pipe, a file or a socket: data to send, rather than a terminal or /dev/null. */
export function stdinIsPiped(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isFile() || stat.isSocket();
  } catch {
    return false;
  }
}

function written(output: NodeJS.WritableStream, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    output.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Carries bytes both ways until both directions ended, or the server ended; resolves once the
 * connection is closed. Rejects with the connection's error (a reset, a truncation).
 */
export async function relay(
  connection: Connection,
  input: NodeJS.ReadableStream & { destroy?: () => void },
  output: NodeJS.WritableStream,
): Promise<void> {
  let serverEnded = false;
  const sending = (async () => {
    try {
      for await (const chunk of input) {
        if (serverEnded) break;
        await connection.write(typeof chunk === 'string' ? chunk : new Uint8Array(chunk as Buffer));
      }
      if (!serverEnded) connection.end();
    } catch {
      // The server went away while we wrote; the receiving side reports how.
    }
  })();
  try {
    for await (const chunk of connection) await written(output, chunk);
  } finally {
    serverEnded = true;
    input.destroy?.();
    await connection.close().catch(() => {});
    await sending;
  }
}
