/** What closing a server did to the connections it had. */
export interface CloseResult {
  /** Connections that finished and closed cleanly before the deadline. */
  drained: number;
  /** Connections still open at the deadline, aborted then. */
  aborted: number;
  /** Connections still in their PROXY header or TLS handshake when closing began, dropped at once. */
  dropped: number;
}

/**
 * @internal What a server on workers adds to each worker's result before the primary sums them
 * (serveHttp: the requests in flight, which only the worker saw), and the counts it adds.
 */
export type FinishClose = (result: CloseResult) => CloseResult & { requests?: RequestCounts };

/** @internal Requests in flight at a close, finished or cut: summed over a group's workers. */
export interface RequestCounts {
  completed: number;
  cut: number;
}

/** Options of `Server.close`. */
export interface CloseOptions {
  /** Milliseconds open connections get to finish before they are aborted (default: the server's `shutdownTimeout`, 10000). */
  timeout?: number;
}
