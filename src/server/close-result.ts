/** What closing a server did to the connections it had. */
export interface CloseResult {
  /** Connections that finished and closed cleanly before the deadline. */
  drained: number;
  /** Connections still open at the deadline, aborted then. */
  aborted: number;
  /** Connections still in their PROXY header or TLS handshake when closing began, dropped at once. */
  dropped: number;
}

/** Options of `Server.close`. */
export interface CloseOptions {
  /** Milliseconds open connections get to finish before they are aborted (default: the server's `shutdownTimeout`, 10000). */
  timeout?: number;
}
