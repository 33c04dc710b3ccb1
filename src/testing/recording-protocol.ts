import {
  checkBoolean,
  checkFunction,
  checkMilliseconds,
  checkOptionNames,
  checkOptionsObject,
  type OptionNames,
} from '../transport/options.js';
import type { Protocol } from '../transport/protocol.js';
import type { Transport } from '../transport/transport.js';

/** Options of a RecordingProtocol. */
export interface RecordingOptions {
  /** What `eofReceived` returns: `true` keeps our side writable after the peer's end of stream. */
  keepOpenOnEof?: boolean;
  /** Called inside `connectionMade`, after it was recorded: e.g. to refuse the peer with `abort()`. */
  onMade?: (transport: Transport) => void;
  /** Called after each chunk is recorded, e.g. to echo it. */
  onData?: (data: Uint8Array, transport: Transport) => void;
  /** Called inside `eofReceived`, after it was recorded and before it returns. */
  onEof?: (transport: Transport) => void;
  /** Milliseconds the `waitFor…` helpers wait before failing with a message (default 10000). */
  timeout?: number;
}

export const RECORDING_OPTIONS: OptionNames = {
  known: ['keepOpenOnEof', 'onMade', 'onData', 'onEof', 'timeout'],
};

/**
 * A protocol that records every callback and checks the contract as it goes: nothing before
 * `connectionMade` or inside it, no empty chunks, no data after end of stream or while paused,
 * nothing after `connectionLost`, which comes exactly once. Broken rules land in `violations`.
 */
export class RecordingProtocol implements Protocol {
  transport: Transport | null = null;
  readonly chunks: Uint8Array[] = [];
  readonly events: string[] = [];
  readonly violations: string[] = [];
  receivedBytes = 0;
  eofCount = 0;
  lostCount = 0;
  lostError: Error | null | undefined = undefined;
  pauseWritingCount = 0;
  resumeWritingCount = 0;
  /** Set by `pauseReading()` here; data arriving meanwhile is a violation. */
  readingPaused = false;
  readonly #options: RecordingOptions;
  #inMade = false;
  readonly #timeout: number;
  #waiters: Array<() => void> = [];

  constructor(options: RecordingOptions = {}) {
    checkOptionsObject('RecordingProtocol', options, '{ keepOpenOnEof: true }');
    checkOptionNames('RecordingProtocol', options, RECORDING_OPTIONS);
    checkBoolean('RecordingProtocol', 'keepOpenOnEof', options.keepOpenOnEof);
    for (const hook of ['onMade', 'onData', 'onEof'] as const)
      checkFunction('RecordingProtocol', hook, options[hook]);
    this.#timeout = checkMilliseconds('RecordingProtocol', 'timeout', options.timeout) ?? 10_000;
    this.#options = options;
  }

  connectionMade(transport: Transport): void {
    if (this.lostCount > 0) this.violations.push('connectionMade after connectionLost');
    this.transport = transport;
    this.events.push('made');
    this.#inMade = true;
    try {
      this.#options.onMade?.(transport);
    } finally {
      this.#inMade = false;
    }
    this.#notify();
  }

  dataReceived(data: Uint8Array): void {
    if (!this.transport) this.violations.push('dataReceived before connectionMade');
    if (this.#inMade) this.violations.push('dataReceived inside connectionMade');
    if (data.length === 0) this.violations.push('dataReceived with an empty chunk');
    if (this.eofCount > 0) this.violations.push('dataReceived after eofReceived');
    if (this.lostCount > 0) this.violations.push('dataReceived after connectionLost');
    if (this.readingPaused) this.violations.push('dataReceived while reading was paused');
    this.chunks.push(data.slice());
    this.receivedBytes += data.length;
    if (this.events.at(-1) !== 'data') this.events.push('data');
    this.#options.onData?.(data, this.transport!);
    this.#notify();
  }

  eofReceived(): boolean {
    if (this.eofCount > 0) this.violations.push('eofReceived called twice');
    if (this.lostCount > 0) this.violations.push('eofReceived after connectionLost');
    if (!this.transport) this.violations.push('eofReceived before connectionMade');
    if (this.#inMade) this.violations.push('eofReceived inside connectionMade');
    this.eofCount++;
    this.events.push('eof');
    this.#options.onEof?.(this.transport!);
    this.#notify();
    return this.#options.keepOpenOnEof === true;
  }

  connectionLost(error: Error | null): void {
    if (this.lostCount > 0) this.violations.push('connectionLost called twice');
    if (this.#inMade) this.violations.push('connectionLost before connectionMade returned');
    this.lostCount++;
    this.lostError = error;
    this.events.push(error ? `lost:${(error as { code?: string }).code ?? error.name}` : 'lost');
    this.#notify();
  }

  pauseWriting(): void {
    if (this.lostCount > 0) this.violations.push('pauseWriting after connectionLost');
    if (this.pauseWritingCount !== this.resumeWritingCount)
      this.violations.push('pauseWriting twice in a row');
    this.pauseWritingCount++;
    this.events.push('pauseWriting');
    this.#notify();
  }

  resumeWriting(): void {
    if (this.lostCount > 0) this.violations.push('resumeWriting after connectionLost');
    if (this.resumeWritingCount >= this.pauseWritingCount)
      this.violations.push('resumeWriting without pauseWriting');
    this.resumeWritingCount++;
    this.events.push('resumeWriting');
    this.#notify();
  }

  /** Everything received, joined. */
  received(): Uint8Array {
    return Buffer.concat(this.chunks);
  }

  /** Everything received, as UTF-8 text. */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** Pauses the transport's reading and records that data must not arrive now. */
  pauseReading(): void {
    this.readingPaused = true;
    this.transport?.pauseReading();
  }

  /** Resumes reading. */
  resumeReading(): void {
    this.readingPaused = false;
    this.transport?.resumeReading();
  }

  /** Resolves once `predicate()` holds; rejects after the timeout with `what` in the message. */
  waitFor(what: string, predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    const timeout = this.#timeout;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== listener);
        reject(
          new Error(`timed out after ${timeout} ms waiting for ${what}; events: ${this.events.join(' ')}`),
        );
      }, timeout);
      const listener = () => {
        if (check()) this.#waiters = this.#waiters.filter((waiter) => waiter !== listener);
      };
      this.#waiters.push(listener);
    });
  }

  waitForBytes(count: number): Promise<void> {
    return this.waitFor(`${count} bytes (have ${this.receivedBytes})`, () => this.receivedBytes >= count);
  }

  waitForEof(): Promise<void> {
    return this.waitFor('eofReceived', () => this.eofCount > 0);
  }

  /** Resolves with the error `connectionLost` received. */
  async waitForLost(): Promise<Error | null> {
    await this.waitFor('connectionLost', () => this.lostCount > 0);
    return this.lostError ?? null;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
