/**
 * What the primary and its workers tell each other over the cluster's IPC channel. The channel
 * serializes as JSON (cluster's default, which tlskit leaves to the application), so bytes travel
 * explicitly encoded: `toWire` turns every Uint8Array into `{ $bytes: base64 }` and `fromWire`
 * turns them back. Every message carries a `tlskit` field naming it, so that the application's
 * own messages on the same channel are told apart and left alone.
 */
import type { Address } from '../transport/transport.js';
import type { CloseResult, RequestCounts } from './close-result.js';
import type { ServerStats } from './handle.js';

/** A JSON value. */
export type Wire = string | number | boolean | null | Wire[] | { [key: string]: Wire };

/** An error that crossed the channel: enough to raise it again on the other side. */
export interface WireError {
  name: string;
  code: string | undefined;
  message: string;
}

/** From a worker to the primary. */
export type FromWorker =
  /** The worker reached `serve` and waits for `init`. */
  | { tlskit: 'hello' }
  | { tlskit: 'listening'; address: Address }
  /** Listening failed; the worker exits. */
  | { tlskit: 'failed'; error: WireError }
  /** Its open connections and its counts, sent when they changed. */
  | { tlskit: 'counts'; connections: number; stats: ServerStats }
  /** Its server closed; the worker exits. */
  | { tlskit: 'closed'; result: CloseResult & { requests?: RequestCounts } }
  /** The application closed this worker's server: it leaves the group and is not restarted. */
  | { tlskit: 'leaving' }
  | { tlskit: 'reload-failed'; message: string };

/** From the primary to a worker. */
export type ToWorker =
  /** The group's ticket keys (base64) and certificates (as `reload` takes them), before listening. */
  | { tlskit: 'init'; keys: string | null; credentials: Wire | null }
  | { tlskit: 'keys'; keys: string }
  | { tlskit: 'reload'; credentials: Wire }
  | { tlskit: 'close'; timeout: number | undefined };

/** Whether `value` is a tlskit message rather than one of the application's. */
export function isTlskitMessage<M extends { tlskit: string }>(value: unknown): value is M {
  return typeof value === 'object' && value !== null && typeof (value as M).tlskit === 'string';
}

/** Turns bytes anywhere in `value` into `{ $bytes: base64 }`; drops `undefined` as JSON does. */
export function toWire(value: unknown): Wire {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, field]) => field !== undefined);
    return Object.fromEntries(entries.map(([key, field]) => [key, toWire(field)]));
  }
  return value as Wire;
}

/** The inverse of `toWire`. */
export function fromWire(value: Wire): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (typeof value === 'object' && value !== null) {
    if (typeof value.$bytes === 'string' && Object.keys(value).length === 1)
      return Buffer.from(value.$bytes, 'base64');
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, fromWire(field)]));
  }
  return value;
}

/** An error in a form the channel carries. */
export function toWireError(error: unknown): WireError {
  const like = (error instanceof Error ? error : new Error(String(error))) as Error & { code?: unknown };
  return {
    name: like.name,
    code: typeof like.code === 'string' ? like.code : undefined,
    message: like.message,
  };
}
