import type net from 'node:net';
import { kLost } from '../transport/base.js';
import type { StreamTransport } from '../transport/stream.js';
import type { Address } from '../transport/transport.js';

const PENDING = 1;
const DONE = 2;
const DROPPED = 4;
const CUT = 8;

/**
 * One accepted socket, from accept to gone: what the server's bookkeeping keeps per connection.
 * Its yes/no states share one integer, as the transport's do: a server holds its idle
 * connections by the thousand.
 */
export class Entry {
  readonly socket: net.Socket;
  /** The lowest transport, once there is one. */
  transport: StreamTransport | null = null;
  /** Ends a handshake running on the socket itself (`acceptTls`), until it settles. */
  abortHandshake: ((error?: Error) => void) | null = null;
  /** The per-address count this connection holds, if any. */
  addressKey: string | null = null;
  /** When `tlskit:connection:open` was published (0 when nobody listened). */
  opened = 0;
  peer: Address | null = null;
  #flags: number;
  /** The server's handler for a connection that ended, shared by all its entries. */
  readonly #gone: (entry: Entry, error: Error | null) => void;

  constructor(socket: net.Socket, pending: boolean, gone: (entry: Entry, error: Error | null) => void) {
    this.socket = socket;
    this.#flags = pending ? PENDING : 0;
    this.#gone = gone;
  }

  /** The transport's end (`kOnLost`): the entry is its own listener, no closure per connection. */
  [kLost](error: Error | null): void {
    this.#gone(this, error);
  }

  /** Counts against `maxPendingHandshakes` until handed over. */
  get pending(): boolean {
    return this.#is(PENDING);
  }
  set pending(value: boolean) {
    this.#set(PENDING, value);
  }

  /** Set when the entry stopped counting (gone, or dropped by close). */
  get done(): boolean {
    return this.#is(DONE);
  }
  set done(value: boolean) {
    this.#set(DONE, value);
  }

  /** Set when closing the server dropped it before it was handed over. */
  get dropped(): boolean {
    return this.#is(DROPPED);
  }
  set dropped(value: boolean) {
    this.#set(DROPPED, value);
  }

  /** Set when the server aborted it at the shutdown deadline. */
  get cut(): boolean {
    return this.#is(CUT);
  }
  set cut(value: boolean) {
    this.#set(CUT, value);
  }

  #is(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }

  #set(bit: number, value: boolean): void {
    this.#flags = value ? this.#flags | bit : this.#flags & ~bit;
  }
}
