import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { getSystemErrorName } from 'node:util';

/**
 * Tells a clean TLS end (the peer's close_notify) from a truncated one (the stream under TLS ended
 * first). Node reports both the same way, as an end of stream, so the verdict is taken at the moment
 * Node signals that end, from what the layer below has seen.
 *
 * - Over a JavaScript stream (the bridge), the lower stream's 'end' reaches node:tls through a
 *   listener, after the stream marked itself ended: `readableEnded` answers whether it came first.
 * - Over a native socket, OpenSSL processes a close_notify while the TCP socket is still being read;
 *   a TCP end of stream, by contrast, stops libuv's reading before Node hears of it. So asking the
 *   socket handle to start reading answers the question: `EALREADY` means it was still reading (the
 *   end came from close_notify); success means reading had stopped (the TCP stream ended first, and
 *   we stop it again). One exception: when Node itself paused the handle because our buffer was
 *   full, no TCP end can have arrived, so the end must be a close_notify.
 * - Over another native TLS engine (TLS inside TLS), the outer layer's close_notify also reaches
 *   us as an end of stream, and the socket is still being read then; but an engine that has reached
 *   its end no longer passes a start of reading down to the socket, so we ask through the engines
 *   (`probeStacked`).
 */
export type EofVerdict = 'clean' | 'truncated';

interface ReadControl {
  readStart?: () => number;
  readStop?: () => number;
  /** A TLS engine's handle names the one it reads from. */
  _parent?: ReadControl;
}

interface NativeHandle {
  reading?: boolean;
  _parent?: ReadControl;
}

/**
 * What watches one TLS socket's end of stream until the end happens. Kept on the socket itself, in
 * one slot that later holds the verdict: nothing else is kept per connection, and on a native
 * socket the handshake's watch gives way to one shared object once the handshake is over.
 */
export interface EofWatch {
  /** The JavaScript stream under the TLS socket when bridged; `null` for a native socket. */
  readonly bridge: { readonly readableEnded: boolean } | null;
  /**
   * Called at the end of stream while set. During a handshake nothing reads the TLS socket's
   * end, and Node does not fail a server-side handshake whose peer went away: startTls listens here.
   */
  onEnd: (() => void) | null;
}

const kWatch = Symbol('tlskit.eofWatch');
type Watched = TLSSocket & { [kWatch]?: EofWatch | EofVerdict };
const push = Readable.prototype.push;
/** The watch of every native socket past its handshake: nothing to call, no bridge to ask. */
const NATIVE: EofWatch = Object.freeze({ bridge: null, onEnd: null });

/**
 * Node signals a TLS end of stream by pushing `null`; this shared replacement takes the verdict at
 * that instant (one function for all sockets, so nothing is kept per connection but the watch).
 */
function pushWithVerdict(this: Watched, chunk: unknown, encoding?: BufferEncoding): boolean {
  const watch = this[kWatch];
  if (chunk === null && typeof watch === 'object') {
    // Over the bridge, the lower stream emits 'end' (readableEnded) before node:tls hears of it,
    // so an end that node:tls reports while the lower stream still runs came from close_notify.
    this[kWatch] = watch.bridge ? (watch.bridge.readableEnded ? 'truncated' : 'clean') : probeNative(this);
    watch.onEnd?.();
  }
  return push.call(this, chunk, encoding);
}

/**
 * Starts watching `socket`'s end of stream; `bridge` is the JavaScript stream under it, if any.
 * The watch returned is the handshake's: set its `onEnd`, and call `handshakeWatchDone` after.
 */
export function watchTlsEof(socket: TLSSocket, bridge: EofWatch['bridge']): EofWatch {
  const watch: EofWatch = { bridge, onEnd: null };
  (socket as Watched)[kWatch] = watch;
  socket.push = pushWithVerdict;
  return watch;
}

/** The handshake stopped listening: a native socket's watch becomes the shared one. */
export function handshakeWatchDone(socket: TLSSocket, watch: EofWatch): void {
  watch.onEnd = null;
  const watched = socket as Watched;
  if (watched[kWatch] === watch && watch.bridge === null) watched[kWatch] = NATIVE;
}

/** The verdict on `socket`'s end of stream, once the end happened (`undefined` before). */
export function eofVerdict(socket: TLSSocket): EofVerdict | undefined {
  const value = (socket as Watched)[kWatch];
  return typeof value === 'string' ? value : undefined;
}

function probeNative(socket: TLSSocket): EofVerdict {
  const handle = (socket as unknown as { _handle?: NativeHandle })._handle;
  const parent = handle?._parent;
  if (typeof parent?.readStart !== 'function') return 'truncated'; // cannot tell: assume the worst
  if (parent._parent !== undefined) return probeStacked(parent);
  if (handle?.reading === false) return 'clean';
  const result = parent.readStart();
  if (isAlready(result)) return 'clean';
  if (result === 0) parent.readStop?.();
  return 'truncated';
}

/**
 * TLS inside TLS with both engines native: this engine reads from another TLS engine. The outer
 * engine also reports its own close_notify as an end of stream, which must not pass for ours: the
 * party at the other end of the outer layer (a proxy) could then cut the inner stream short. A TLS
 * engine forwards `readStart` to the socket only while it has not reached its end, so the question
 * is whether a start requested through the engines reaches the socket. The socket's reading state
 * is read first and put back after.
 */
function probeStacked(engine: ReadControl): EofVerdict {
  let socket = engine;
  while (socket._parent !== undefined) socket = socket._parent;
  if (typeof socket.readStart !== 'function' || typeof engine.readStart !== 'function') return 'truncated';
  const wasReading = startReading(socket);
  if (!wasReading) socket.readStop?.();
  const reached = isAlready(engine.readStart()) || (!wasReading && startReading(socket));
  if (!wasReading) socket.readStop?.();
  return reached ? 'clean' : 'truncated';
}

/** Asks `handle` to start reading; true when it already was (its start fails with EALREADY). */
function startReading(handle: ReadControl): boolean {
  return isAlready(handle.readStart?.() ?? 0);
}

function isAlready(result: number): boolean {
  return result < 0 && getSystemErrorName(result) === 'EALREADY';
}
