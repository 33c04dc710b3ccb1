/**
 * Where `serve` and `createServer` go when they are given `workers` or `ticketKeyRotation`. The
 * same program runs in every process (node:cluster runs the main script again in each worker), so
 * one call, `serve({ port, tls, workers: 2 }, handler)`, plays both roles:
 *
 * - in the primary it forks the workers and resolves to a server for the whole group
 *   (`primary.ts`); the handler never runs there;
 * - in a worker tlskit forked it waits for the primary's ticket keys and certificates, then
 *   listens and serves with the handler (`worker.ts`);
 * - with `ticketKeyRotation` alone, one process listens and rotates its own keys (`rotation.ts`).
 *
 * To run another script in the workers, call `cluster.setupPrimary({ exec })` before `serve`;
 * that script must call `serve` with `workers` too.
 */
import cluster from 'node:cluster';
import type { ServerContext } from '../tls/server-context.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkEndpoint } from '../transport/net.js';
import type { Address } from '../transport/transport.js';
import type { FinishClose } from './close-result.js';
import { checkServerSignal, type Server } from './handle.js';
import { checkWorkerOptions, type WorkerOptions } from './options.js';
import { startGroup } from './primary.js';
import { withRotation } from './rotation.js';
import { isTlskitWorker, runWorker, WORKER_MARK } from './worker.js';

/** The part of a server's options this module reads. */
export type GroupOptions = WorkerOptions & {
  tls?: ServerContext;
  shutdownTimeout?: number;
  signal?: AbortSignal;
};

/**
 * Runs the server on workers, or with a key schedule, or returns `null` when neither option is
 * given (the caller then listens as usual). `listenHere` listens in this process with the options
 * it is given: these options without `workers` and `ticketKeyRotation`.
 */
export function inWorkers<O extends GroupOptions, A extends Address>(
  where: string,
  options: O,
  listenHere: (options: O) => Promise<Server<A>>,
  finishClose?: FinishClose,
): Promise<Server<A>> | null {
  const { workers, rotation } = checkWorkerOptions(where, options);
  if (workers === undefined && rotation === undefined) return null;
  const here = { ...options, workers: undefined, ticketKeyRotation: undefined };
  const { tls: context, signal } = options;
  if (workers === undefined) {
    return listenHere(here).then((server) => withRotation(server, context!, rotation!, signal));
  }
  // A worker's own server closes through runWorker when `signal` aborts, so that it leaves.
  if (isTlskitWorker())
    return runWorker(where, context, signal, () => listenHere({ ...here, signal: undefined }), finishClose);
  if (!cluster.isPrimary) {
    throw new InvalidArgumentError(
      `${where}: \`workers\` was given in a cluster worker that tlskit did not fork (no ${WORKER_MARK} ` +
        'in its environment); give `workers` in the primary, or leave it out to listen in this worker',
    );
  }
  // Checked here, so that a bad endpoint or signal fails in the primary rather than in every worker.
  checkEndpoint(where, options, true);
  checkServerSignal(where, signal);
  return startGroup<A>(where, {
    workers,
    rotation,
    context,
    shutdownTimeout: options.shutdownTimeout,
    signal,
  });
}
