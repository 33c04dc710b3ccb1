/**
 * The options that run a server on several processes, and their checks. `serve` and
 * `createServer` take them beside their listening options; `src/server/workers.ts` acts on them.
 */
import type { ServerContext } from '../tls/server-context.js';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkMilliseconds } from '../transport/options.js';

/** Option names of running on workers, which `createServer` and `serve` take. */
export const WORKER_OPTIONS = ['workers', 'ticketKeyRotation'] as const;

/** The shortest rotation period: every rotation rebuilds each certificate's secure context. */
export const MIN_TICKET_KEY_ROTATION = 1000;

export interface WorkerOptions {
  /**
   * Serve from this many worker processes (node:cluster) sharing the port, one set of TLS
   * session-ticket keys and one rotation schedule, so a ticket issued by one resumes on any other.
   * The program runs again in every worker, so call `serve` the same way there; in the primary it
   * resolves to a server standing for the whole group. Crashed workers are restarted.
   */
  workers?: number;
  /**
   * Milliseconds between new session-ticket keys (at least 1000; with `workers`, made by the
   * primary and sent to every worker). Node holds one key: tickets issued before a rotation no
   * longer resume, and those clients make a full handshake once. Needs `tls`.
   */
  ticketKeyRotation?: number;
}

/** The checked settings: how many workers (or none), and the rotation period (or none). */
export interface WorkerSettings {
  workers: number | undefined;
  rotation: number | undefined;
}

const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** Checks `workers` and `ticketKeyRotation`, naming the field, the value and the fix. */
export function checkWorkerOptions(
  where: string,
  options: WorkerOptions & { tls?: ServerContext },
): WorkerSettings {
  const { workers, ticketKeyRotation } = options;
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) {
    throw new InvalidArgumentError(
      `${where}: \`workers\` must be a positive integer, the number of processes to serve from ` +
        `(os.availableParallelism() for every core), got ${shown(workers)}`,
    );
  }
  const rotation = checkMilliseconds(where, 'ticketKeyRotation', ticketKeyRotation);
  if (rotation !== undefined && rotation < MIN_TICKET_KEY_ROTATION) {
    throw new InvalidArgumentError(
      `${where}: \`ticketKeyRotation\` must be at least ${MIN_TICKET_KEY_ROTATION} ms (each rotation ` +
        `rebuilds every certificate's context and ends the resumption of earlier tickets), got ${rotation}`,
    );
  }
  if (rotation !== undefined && options.tls === undefined) {
    throw new InvalidArgumentError(
      `${where}: \`ticketKeyRotation\` rotates TLS session-ticket keys, so it needs \`tls\` (a ` +
        'serverContext()); a server without TLS has no tickets',
    );
  }
  return { workers, rotation };
}
