/*
 * Key logging: the hook every TLS connection passes through
 * =========================================================
 *
 * OpenSSL can hand out each connection's secrets as NSS key-log lines (`CLIENT_RANDOM …` for
 * TLS 1.2, `…_TRAFFIC_SECRET_0` and friends for TLS 1.3), which is what Wireshark needs to decrypt
 * a capture. Node passes them on as a TLSSocket's `'keylog'` event, and asks OpenSSL for them only
 * once that event has a listener (the `'newListener'` hook in `_tls_wrap.js`): a socket without one
 * costs nothing. So the choice is made per context, here, and per connection in `startTls`:
 *
 * - The state lives in a WeakMap from context to key log, not on the contexts, so the contexts stay
 *   free of it and a dropped context takes its key log with it. `attachKeyLog` is one WeakMap lookup
 *   per connection; a context without a key log gets no listener, and OpenSSL never makes the lines.
 * - The listener is one function per key log, shared by every connection of its context, not a
 *   closure per connection.
 * - It must be attached before OpenSSL computes a secret. Both engine paths allow that: node:tls
 *   feeds a TLSSocket its first bytes (bytes already buffered included) on the next tick at the
 *   earliest, and a client's first secret needs the server's answer.
 * - `stop()` removes the key log for connections that start later, and silences the listener of
 *   connections already running: after `stop()` not one more line is written, which is what
 *   someone who stopped handing out secrets expects (and a closed file is never written to).
 *
 * The public side, with its checks, sinks and warning, is `keyLog` in tlskit/danger.
 */
import type { TLSSocket } from 'node:tls';
import { InvalidArgumentError } from '../transport/errors.js';
import type { ClientContext } from './client-context.js';
import type { ServerContext } from './server-context.js';

type Context = ClientContext | ServerContext;

/** One context's key log: what its connections listen with. */
interface Entry {
  readonly listener: (line: Buffer) => void;
}

const logs = new WeakMap<Context, Entry>();

/** Throws if `context` already has a key log: a context has one at a time. */
export function checkNoKeyLog(context: Context): void {
  if (logs.has(context)) {
    throw new InvalidArgumentError(
      'keyLog: this context already logs its keys; call stop() on that key log first, or log both to one sink',
    );
  }
}

/**
 * Makes every connection of `context` that starts from now on pass its key-log lines to `write`,
 * until the returned function is called. A context has one key log at a time.
 */
export function registerKeyLog(context: Context, write: (line: Buffer) => void): () => void {
  checkNoKeyLog(context);
  let active = true;
  const entry: Entry = {
    listener: (line) => {
      if (active) write(line);
    },
  };
  logs.set(context, entry);
  return () => {
    active = false;
    if (logs.get(context) === entry) logs.delete(context);
  };
}

/** @internal Called by startTls right after it made `socket`: the listener, if `context` logs keys. */
export function attachKeyLog(socket: TLSSocket, context: Context): void {
  const entry = logs.get(context);
  if (entry !== undefined) socket.on('keylog', entry.listener);
}
