import type { TLSSocket } from 'node:tls';
import { getSystemErrorName } from 'node:util';

/**
 * Tells a clean TLS end (the peer's close_notify) from a truncated one (the stream under TLS ended
 * first). Node reports both the same way, as an end of stream, so the verdict is taken at the moment
 * Node signals that end, from what the layer below has seen.
 *
 * - Over a JavaScript stream (the bridge) we deliver the lower end of stream ourselves, so we know
 *   whether it came first: `lowerEnded()` answers.
 * - Over a native socket, OpenSSL processes a close_notify while the TCP socket is still being read;
 *   a TCP end of stream, by contrast, stops libuv's reading before Node hears of it. So asking the
 *   socket handle to start reading answers the question: `EALREADY` means it was still reading (the
 *   end came from close_notify); success means reading had stopped (the TCP stream ended first, and
 *   we stop it again). One exception: when Node itself paused the handle because our buffer was
 *   full, no TCP end can have arrived, so the end must be a close_notify.
 */
export type EofVerdict = 'clean' | 'truncated';

interface NativeHandle {
  reading?: boolean;
  _parent?: { readStart?: () => number; readStop?: () => number };
}

/**
 * Calls `onVerdict` once, synchronously with the TLS socket's end of stream. `lowerEnded` is given
 * for bridged sockets; native sockets are probed as described above.
 */
export function watchTlsEof(
  socket: TLSSocket,
  lowerEnded: (() => boolean) | null,
  onVerdict: (verdict: EofVerdict) => void,
): void {
  const push = socket.push;
  let decided = false;
  socket.push = function pushWithVerdict(
    this: TLSSocket,
    chunk: unknown,
    encoding?: BufferEncoding,
  ): boolean {
    if (chunk === null && !decided) {
      decided = true;
      onVerdict(lowerEnded ? (lowerEnded() ? 'truncated' : 'clean') : probeNative(socket));
    }
    return push.call(this, chunk, encoding);
  };
}

function probeNative(socket: TLSSocket): EofVerdict {
  const handle = (socket as unknown as { _handle?: NativeHandle })._handle;
  const parent = handle?._parent;
  if (typeof parent?.readStart !== 'function') return 'truncated'; // cannot tell: assume the worst
  if (handle?.reading === false) return 'clean';
  const result = parent.readStart();
  if (result < 0 && getSystemErrorName(result) === 'EALREADY') return 'clean';
  if (result === 0) parent.readStop?.();
  return 'truncated';
}
