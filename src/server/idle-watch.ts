/*
 * idleTimeout: when a connection counts as idle
 * =============================================
 *
 * A connection is idle when, for `idleTimeout` ms, nothing was read and no write made progress.
 * Node's socket timer does most of it: a read or a completed write restarts it. What it misses is
 * one write that lasts longer than the timeout while the peer is still taking it in, a large
 * response to a slow reader. For a plain socket Node checks, when the timer fires, whether the
 * socket's queue of bytes for the kernel moved since the last time, and waits again if it did.
 * For a TLS socket it cannot: its handle is the TLS engine, which has no such queue, so Node
 * grants one more period and then fires, cutting a write that is still flowing.
 *
 * So when the timer fires the watch makes the same check on the socket underneath the engine (or
 * under every engine, TLS inside TLS): bytes queued for the kernel, and a different number than at
 * the last firing, mean the write moved, and the timer starts again. A peer that takes nothing
 * for a whole period still has the connection closed. Bytes the kernel has already accepted are
 * not activity: once the last write completed, a peer still reading the kernel's buffers is not
 * waited for. The close is graceful, so what was written is still delivered before close_notify.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/** A native stream handle as far as the watch reads it: Node's own `_onTimeout` reads the same. */
interface QueueHandle {
  _parent?: QueueHandle;
  writeQueueSize?: number;
}

/**
 * Calls `onIdle` once `stream` has been idle for `idleTimeout` ms. Streams without a socket timer
 * (not a socket) are not watched; `false` says so.
 */
export function watchIdle(stream: Duplex, idleTimeout: number, onIdle: () => void): boolean {
  const socket = stream as Partial<Pick<net.Socket, 'setTimeout'>>;
  if (typeof socket.setTimeout !== 'function') return false;
  let lastQueued = 0;
  const fired = () => {
    const queued = kernelQueue(stream);
    if (queued > 0 && queued !== lastQueued) {
      lastQueued = queued;
      socket.setTimeout!(idleTimeout, fired);
      return;
    }
    onIdle();
  };
  socket.setTimeout(idleTimeout, fired);
  return true;
}

/**
 * Bytes waiting for the kernel in the socket under `stream`'s TLS engines; 0 for a plain socket
 * (Node's own timer made this check already) or when unknown.
 */
function kernelQueue(stream: Duplex): number {
  let handle = (stream as unknown as { _handle?: QueueHandle })._handle;
  if (handle?._parent === undefined) return 0;
  while (handle?._parent !== undefined) handle = handle._parent;
  const queued = handle?.writeQueueSize;
  return typeof queued === 'number' ? queued : 0;
}
