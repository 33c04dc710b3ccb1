/**
 * Sums over a group's workers: what each one's close did, and what each counted. A group reports
 * the sum of its workers' counts, those of workers that have exited since included.
 */
import type { CloseResult } from './close-result.js';
import type { ServerStats } from './handle.js';

/** The sum of two close results. */
export function addResults(a: CloseResult, b: CloseResult): CloseResult {
  return { drained: a.drained + b.drained, aborted: a.aborted + b.aborted, dropped: a.dropped + b.dropped };
}

/** The sum of two servers' counts. */
export function addStats(a: ServerStats, b: ServerStats): ServerStats {
  const limited = { ...a.limited };
  for (const [name, count] of Object.entries(b.limited) as Array<[keyof ServerStats['limited'], number]>)
    limited[name] = (limited[name] ?? 0) + count;
  return {
    accepted: a.accepted + b.accepted,
    limited,
    handshakeFailures: a.handshakeFailures + b.handshakeFailures,
  };
}
