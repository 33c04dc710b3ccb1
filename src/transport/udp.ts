/**
 * UDP endpoints over node:dgram. Subtleties:
 *
 * - Connected (`remote` given): the kernel filters datagrams from anybody else, and ICMP errors
 *   about our datagrams (port unreachable) come back as an error on the next receive. node:dgram
 *   emits that as `'error'` and keeps the socket usable, so it becomes `errorReceived`, never a
 *   close.
 * - Every send gets a completion callback: node:dgram drops an error the kernel returns at once
 *   (EACCES for a broadcast, ENETUNREACH) when there is none, and the contract says such errors
 *   reach `errorReceived`.
 * - Flow control on a connected endpoint reads node:dgram's own send queue (`getSendQueueSize`),
 *   which fills only when the kernel's send buffer is full (EAGAIN). An unconnected send first
 *   resolves `to` (a later tick even for an address literal), so there a datagram counts from
 *   `send` until its callback: `close()` right after `send(data, to)` waits for it.
 * - The bind (and connect) can be cancelled with `signal`; the socket is closed and nothing leaks.
 *   A failed connect rejects (node:dgram hands its error to the callback, not to `'error'`).
 */
import dgram from 'node:dgram';
import {
  BaseDatagramTransport,
  type DatagramAddress,
  type DatagramInfo,
  MAX_UDP4_PAYLOAD,
  MAX_UDP6_PAYLOAD,
} from './datagram-base.js';
import { AbortError, ConnectionError, InvalidArgumentError, toTransportError } from './errors.js';
import { sameIp } from './ip.js';
import { checkBoolean, checkOptionNames, checkSignal, type OptionNames } from './options.js';
import {
  checkBufferSize,
  checkFamily,
  checkLocal,
  checkMappedSize,
  checkRemote,
  checkTo,
  isMapped,
  type UdpType,
} from './udp-options.js';

/** Options of `createDatagramEndpoint`. */
export interface DatagramEndpointOptions {
  /** `'udp4'` or `'udp6'`. */
  type: 'udp4' | 'udp6';
  /** Where to bind; default: any address, port 0 (the OS chooses). */
  local?: Partial<DatagramAddress>;
  /** The peer of a connected endpoint: `send(data)` goes there, datagrams from others are dropped. */
  remote?: DatagramAddress;
  /** Let several sockets bind the same address (SO_REUSEADDR). */
  reuseAddress?: boolean;
  /** Kernel send buffer size in bytes (SO_SNDBUF). */
  sendBufferSize?: number;
  /** Kernel receive buffer size in bytes (SO_RCVBUF). */
  receiveBufferSize?: number;
  /** Cancels the bind (and connect). */
  signal?: AbortSignal;
}

export const DATAGRAM_ENDPOINT_OPTIONS: OptionNames = {
  known: ['type', 'local', 'remote', 'reuseAddress', 'sendBufferSize', 'receiveBufferSize', 'signal'],
  elsewhere: {
    host: 'the address to bind goes in `local: { host, port }`, the peer in `remote`',
    port: 'the port to bind goes in `local: { host, port }`, the peer in `remote`',
    tls: 'node:tls has no DTLS; run TLS over a stream transport instead',
  },
};

const WHERE = 'createDatagramEndpoint';

/**
 * Binds a UDP socket and resolves with its transport (bind a protocol with `setProtocol`). With
 * `remote`, the socket is connected to it.
 */
export async function createDatagramEndpoint(options: DatagramEndpointOptions): Promise<UdpTransport> {
  checkOptionNames(WHERE, options, DATAGRAM_ENDPOINT_OPTIONS);
  const { type, remote, signal } = options;
  if (type !== 'udp4' && type !== 'udp6') {
    throw new InvalidArgumentError(`${WHERE}: \`type\` must be 'udp4' or 'udp6', got ${String(type)}`);
  }
  checkBoolean(WHERE, 'reuseAddress', options.reuseAddress);
  checkSignal(WHERE, signal);
  checkBufferSize('sendBufferSize', options.sendBufferSize);
  checkBufferSize('receiveBufferSize', options.receiveBufferSize);
  const local = checkLocal(options.local);
  checkRemote(remote);
  checkFamily(type, 'local.host', local.host);
  checkFamily(type, 'remote.host', remote?.host);
  const socket = dgram.createSocket({ type, reuseAddr: options.reuseAddress === true });
  try {
    const where = `bind \`local\` ${local.host ?? 'any address'}:${local.port ?? 0}`;
    await step(socket, signal, where, (done) =>
      socket.bind({ port: local.port ?? 0, address: local.host }, done),
    );
    applyBufferSizes(socket, options);
    if (remote) {
      const where = `connect to \`remote\` ${remote.host}:${remote.port}`;
      await step(socket, signal, where, (done) => socket.connect(remote.port, remote.host, done));
    }
  } catch (error) {
    socket.close();
    throw error;
  }
  return new UdpTransport(socket, type, remote !== undefined);
}

/**
 * Sets the kernel buffers once bound: given to createSocket, node:dgram applies them inside the
 * bind and a refusal there is an uncaught exception; here it rejects.
 */
function applyBufferSizes(socket: dgram.Socket, options: DatagramEndpointOptions): void {
  const { sendBufferSize, receiveBufferSize } = options;
  const apply = (field: string, size: number | undefined, set: (size: number) => void) => {
    if (size === undefined) return;
    try {
      set(size);
    } catch (error) {
      throw new InvalidArgumentError(
        `${WHERE}: the OS refused \`${field}\` ${size} (${(error as Error).message}); use a smaller size`,
        { cause: error },
      );
    }
  };
  apply('sendBufferSize', sendBufferSize, (size) => socket.setSendBufferSize(size));
  apply('receiveBufferSize', receiveBufferSize, (size) => socket.setRecvBufferSize(size));
}

/** Runs one asynchronous socket step, failing on its error, on `'error'` or on `signal`. */
function step(
  socket: dgram.Socket,
  signal: AbortSignal | undefined,
  what: string,
  start: (done: (error?: Error | null) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(`${WHERE}: aborted before the bind`, signal.reason));
      return;
    }
    const cleanup = () => {
      socket.off('error', settle);
      signal?.removeEventListener('abort', onAbort);
    };
    const settle = (error?: Error | null) => {
      cleanup();
      if (error) reject(stepError(what, error));
      else resolve();
    };
    const onAbort = () => {
      cleanup();
      reject(new AbortError(`${WHERE}: aborted`, signal?.reason));
    };
    socket.once('error', settle);
    signal?.addEventListener('abort', onAbort, { once: true });
    start(settle);
  });
}

/** The OS error of a bind or connect, saying which one failed; the OS code stays the code. */
function stepError(what: string, error: Error): Error {
  const cause = toTransportError(error);
  const syscall = cause instanceof ConnectionError ? cause.syscall : undefined;
  return new ConnectionError(cause.code, `${WHERE}: cannot ${what}: ${error.message}`, {
    cause: error,
    syscall,
  });
}

/** A UDP endpoint: the transport `createDatagramEndpoint` resolves with. */
export class UdpTransport extends BaseDatagramTransport {
  readonly #socket: dgram.Socket;
  readonly #type: UdpType;
  readonly #connected: boolean;
  #info: DatagramInfo | null = null;
  #socketClosed = false;
  #mappedPeer: boolean | undefined;
  /** Bytes of unconnected sends whose callback has not run (resolving `to`, or queued). */
  #unconnectedBytes = 0;
  readonly #onSent = (error: Error | null) => {
    if (error) this._onNetworkError(error);
    this._onDrained();
  };

  constructor(socket: dgram.Socket, type: UdpType, connected: boolean, closeTimeout?: number) {
    super(WHERE, closeTimeout);
    this.#socket = socket;
    this.#type = type;
    this.#connected = connected;
    socket.on('error', (error) => this._onNetworkError(error));
    socket.on('close', () => this._onClosed(null));
  }

  /** IPv6's limit on udp6, unless connected to an IPv4-mapped peer: that datagram goes over IPv4. */
  get maxDatagramSize(): number {
    if (this.#type === 'udp4') return MAX_UDP4_PAYLOAD;
    if (!this.#connected) return MAX_UDP6_PAYLOAD; // an IPv4-mapped `to` is checked per send
    // Once: the peer is read from the socket (unless it closed unread), and every send asks.
    this.#mappedPeer ??= !this.#socketClosed && isMapped(this.info.peer!.host);
    return this.#mappedPeer ? MAX_UDP4_PAYLOAD : MAX_UDP6_PAYLOAD;
  }

  get info(): DatagramInfo {
    if (this.#info) return this.#info;
    const local = this.#socket.address();
    const remote = this.#connected ? this.#socket.remoteAddress() : null;
    this.#info = {
      kind: this.#type,
      local: { host: local.address, port: local.port },
      peer: remote ? { host: remote.address, port: remote.port } : null,
      sendBufferSize: this.#socket.getSendBufferSize(),
      receiveBufferSize: this.#socket.getRecvBufferSize(),
    };
    return this.#info;
  }

  protected get _queuedBytes(): number {
    if (this.#socketClosed) return 0;
    return this.#connected ? this.#socket.getSendQueueSize() : this.#unconnectedBytes;
  }

  protected _start(): void {
    this.info; // read the addresses while the socket is open
    this.#socket.on('message', (data, rinfo) =>
      this._onDatagram(data, { host: rinfo.address, port: rinfo.port }),
    );
  }

  protected _destination(to: DatagramAddress | undefined): void {
    if (!this.#connected) {
      if (to === undefined) {
        throw new InvalidArgumentError('send: this endpoint is not connected; pass `to: { host, port }`');
      }
      checkTo(this.#type, to);
      return;
    }
    if (to === undefined) return;
    checkTo(this.#type, to);
    const peer = this.info.peer!;
    if (to.port !== peer.port || (to.host !== peer.host && !sameIp(to.host, peer.host))) {
      throw new InvalidArgumentError(
        `send: this endpoint is connected to ${peer.host}:${peer.port}; omit \`to\`, or make an unconnected endpoint to send to ${to.host}:${to.port}`,
      );
    }
  }

  protected _send(data: Uint8Array, to: DatagramAddress | undefined): void {
    const socket = this.#socket;
    if (this.#connected) {
      socket.send(data, this.#onSent);
      return;
    }
    if (this.#type === 'udp6') checkMappedSize(data.length, to!.host);
    const size = data.length;
    socket.send(data, to!.port, to!.host, (error) => {
      this.#unconnectedBytes -= size;
      this.#onSent(error);
    });
    this.#unconnectedBytes += size; // after: a send that throws is not counted, the callback is later
  }

  protected _destroy(): void {
    this.#socketClosed = true;
    try {
      this.#socket.close();
    } catch {
      // already closed by the OS side
    }
  }
}
