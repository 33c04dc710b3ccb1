/**
 * Sums over a group's workers: what each one's close did, and what each counted. A group reports
 * the sum of its workers' counts, those of workers that have exited since included.
 */
import type { CloseResult, RequestCounts } from './close-result.js';
import type { ServerStats } from './handle.js';

type Counted = CloseResult & { requests?: RequestCounts };

/** The sum of two close results, with the requests in flight when either counted them. */
export function addResults(a: Counted, b: Counted): Counted {
  const sum: Counted = {
    drained: a.drained + b.drained,
    aborted: a.aborted + b.aborted,
    dropped: a.dropped + b.dropped,
  };
  if (a.requests || b.requests) {
    const none = { completed: 0, cut: 0 };
    const [x, y] = [a.requests ?? none, b.requests ?? none];
    sum.requests = { completed: x.completed + y.completed, cut: x.cut + y.cut };
  }
  return sum;
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
