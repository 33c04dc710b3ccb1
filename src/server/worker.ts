/**
 * The worker side of a server on workers. The same program runs in every worker (node:cluster
 * runs the main script again), so the worker's `serve` call lands here: it says hello, waits for
 * the primary's ticket keys and certificates, applies them to its own context, listens (the
 * primary holds the port and hands connections round), and then obeys the primary: new keys, new
 * certificates, close. Its connection count and `stats` go back to the primary when they change.
 *
 * The server this resolves to is the worker's own. Closing it (an application's SIGTERM handler
 * runs in every process), or aborting the `signal` given to `serve` there, drains this worker,
 * which then leaves the group: the primary does not restart a worker that left; a `signal` that
 * aborts before the worker listens closes it once it does. A worker whose server closed, or whose
 * listen failed, disconnects from the primary and exits once nothing else of the application
 * keeps it alive. Counts are reported until the worker's server has closed.
 */
import cluster from 'node:cluster';
import type { ReloadOptions, ServerContext } from '../tls/server-context.js';
import { InvalidArgumentError } from '../transport/errors.js';
import type { Address } from '../transport/transport.js';
import type { CloseOptions, CloseResult, FinishClose } from './close-result.js';
import { closeOnAbort, type Server, withClose } from './handle.js';
import {
  type FromWorker,
  fromWire,
  isTlskitMessage,
  type ToWorker,
  toWireError,
  type Wire,
} from './messages.js';

/** The environment variable that marks a process as a worker tlskit forked. */
export const WORKER_MARK = 'TLSKIT_WORKER';

/** How often a worker looks whether its connection count or stats changed, in milliseconds. */
export const REPORT_INTERVAL = 1000;

let claimed = false;

/** Whether this process is a worker forked by a tlskit server group. */
export function isTlskitWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_MARK] === '1';
}

function send(message: FromWorker): void {
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

/**
 * Serves this worker's part of the group: waits for `init`, applies it to `context`, then calls
 * `listenHere` (whose server must not hold `signal`: aborting it closes through here). Rejects,
 * after telling the primary, if listening fails.
 */
export function runWorker<A extends Address>(
  where: string,
  context: ServerContext | undefined,
  signal: AbortSignal | undefined,
  listenHere: () => Promise<Server<A>>,
  finishClose?: FinishClose,
): Promise<Server<A>> {
  if (claimed) {
    return Promise.reject(
      new InvalidArgumentError(
        `${where}: a tlskit worker serves one server on workers; this program calls \`serve\` or ` +
          '`createServer` with `workers` more than once (give `workers` to one of them only)',
      ),
    );
  }
  claimed = true;
  return new Promise((resolve, reject) => {
    let server: Server<A> | null = null;
    let closing: Promise<CloseResult> | null = null;
    let closeWanted: { timeout: number | undefined } | null = null;
    let reported = '';
    /** Makes the server forget `signal`, once it closes. */
    let forget = () => {};
    const sendCounts = () => {
      if (!server) return;
      const counts = { connections: server.connections, stats: server.stats };
      const text = JSON.stringify(counts);
      if (text === reported) return;
      reported = text;
      send({ tlskit: 'counts', ...counts });
    };
    const report = setInterval(sendCounts, REPORT_INTERVAL).unref();

    const closeHere = (options: CloseOptions | undefined, leaving: boolean): Promise<CloseResult> => {
      if (closing) return closing;
      forget();
      if (leaving) send({ tlskit: 'leaving' });
      process.off('message', onMessage);
      const leave = (closed: CloseResult) => {
        // What the application's server adds (serveHttp's requests), also on a close the
        // primary asked for, which does not pass through the application's own close.
        const result = finishClose ? finishClose(closed) : closed;
        // Reported until here: the group's `connections` follow the drain.
        clearInterval(report);
        sendCounts();
        // The primary counts it only when the whole group is closing.
        send({ tlskit: 'closed', result });
        cluster.worker?.disconnect();
        return result;
      };
      // A close that fails still ends this worker's part; the application's own call sees why.
      closing = server!.close(options).then(leave, (error: unknown) => {
        leave({ drained: 0, aborted: server!.connections, dropped: 0 });
        throw error;
      });
      return closing;
    };

    const listen = () =>
      listenHere().then(
        (listening) => {
          server = listening;
          send({ tlskit: 'listening', address: listening.address });
          // The application's close drains this worker, which then leaves the group.
          resolve(withClose(listening, (options) => closeHere(options, true)));
          if (closeWanted) closeHere(closeWanted, false).catch(() => {});
          // A signal that aborted while this worker started closes it now.
          else forget = closeOnAbort(signal, () => void closeHere(undefined, true).catch(() => {}));
        },
        (error: unknown) => {
          clearInterval(report);
          process.off('message', onMessage);
          send({ tlskit: 'failed', error: toWireError(error) });
          // Nothing left to serve: the primary restarts it once it exited (or fails the start).
          cluster.worker?.disconnect();
          reject(error);
        },
      );

    const onMessage = (message: unknown) => {
      if (!isTlskitMessage<ToWorker>(message)) return;
      switch (message.tlskit) {
        case 'init':
          if (context && message.keys !== null) context.rotateTicketKeys(Buffer.from(message.keys, 'base64'));
          if (context && message.credentials !== null) applyCredentials(context, message.credentials);
          void listen();
          break;
        case 'keys':
          context?.rotateTicketKeys(Buffer.from(message.keys, 'base64'));
          break;
        case 'reload':
          if (context) applyCredentials(context, message.credentials);
          break;
        case 'close':
          if (server) closeHere({ timeout: message.timeout }, false).catch(() => {});
          else closeWanted = { timeout: message.timeout };
          break;
      }
    };
    process.on('message', onMessage);
    send({ tlskit: 'hello' });
  });
}

/** Applies the primary's certificates; a failure is reported, and the old ones stay. */
function applyCredentials(context: ServerContext, credentials: Wire): void {
  try {
    context.reload(fromWire(credentials) as ReloadOptions);
  } catch (error) {
    send({ tlskit: 'reload-failed', message: toWireError(error).message });
  }
}
