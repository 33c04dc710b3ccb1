/**
 * The primary side of a server on workers: it forks the workers, holds the group's state, and
 * stands for the whole group as one `Server`.
 *
 * One context, every process
 * --------------------------
 * The primary's `ServerContext` is the group's. A worker that says hello gets its ticket keys and
 * its certificates (`init`), and applies them to its own context before it listens, so every
 * worker, a restarted one included, issues and accepts the same tickets and presents the same
 * certificate. Later changes on the primary's context (`reload`, `rotateTicketKeys`, and the
 * `ticketKeyRotation` schedule, which calls the latter) reach every worker through the context's
 * internal change listener. Node's cluster holds the port in the primary and hands connections
 * to the workers in turn (round robin, except on Windows).
 *
 * Crashes
 * -------
 * A worker that exits without having been told to close, and without having closed its own
 * server, is restarted. A worker that dies before it has been listening for `CRASH_WINDOW` ms is
 * an early death; after `MAX_EARLY_DEATHS` in a row (none of the workers in between stayed up
 * that long) restarting stops: during start-up `serve` rejects with `ERR_WORKERS_CRASHING`; later
 * the group closes (the survivors drain) and the error is then thrown as an uncaught exception,
 * as an 'error' event without a listener would be, so the process ends unless the application
 * catches it (`process.on('uncaughtException')`). A worker whose
 * listen fails during start-up (a port in use, a bad option) fails the start at once; a restarted
 * one whose listen fails disconnects and exits (killed after `EXIT_GRACE` ms if something holds
 * it), an early death like any other.
 *
 * Closing
 * -------
 * `close()` stops restarting, tells every worker to close with the same options, and resolves,
 * once all have exited, with the sum of what they reported. A worker still starting is stopped
 * (it has no connections); a worker that has not exited `timeout` + `EXIT_GRACE` ms after the
 * close began, or `EXIT_GRACE` ms after it reported its result, is killed, and the connections it
 * last reported count as aborted. The `signal` closes the group the same way; one that aborts
 * during start-up does so once the start completes, as a one-process server closes once it listens.
 * Workers that leave during start-up (their own server closed) count as started.
 */
import cluster, { type Worker } from 'node:cluster';
import {
  type ContextChange,
  kCurrentCredentials,
  kOnContextChange,
  type ServerContext,
} from '../tls/server-context.js';
import { ConnectionError, InvalidArgumentError, TlskitError } from '../transport/errors.js';
import type { Address } from '../transport/transport.js';
import type { CloseOptions, CloseResult } from './close-result.js';
import { addResults, addStats } from './counts.js';
import { closeDeadline, closeOnAbort, emptyStats, type Server, type ServerStats } from './handle.js';
import { DEFAULT_SHUTDOWN_TIMEOUT } from './limits.js';
import {
  type FromWorker,
  isTlskitMessage,
  type ToWorker,
  toWire,
  type Wire,
  type WireError,
} from './messages.js';
import { rotateEvery } from './rotation.js';
import { WORKER_MARK } from './worker.js';

/** A worker that dies before it has been listening this long (ms) died early. */
export const CRASH_WINDOW = 5000;
/** Early deaths in a row after which workers are no longer restarted. */
export const MAX_EARLY_DEATHS = 5;
/** How long (ms) a closed worker may take to exit before it is killed. */
export const EXIT_GRACE = 2000;

/** What the group needs from the server's options, checked. */
export interface GroupSettings {
  workers: number;
  rotation: number | undefined;
  context: ServerContext | undefined;
  shutdownTimeout: number | undefined;
  /** Closes the group when it aborts. */
  signal: AbortSignal | undefined;
}

interface Member {
  readonly worker: Worker;
  state: 'forked' | 'hello' | 'listening' | 'closing' | 'leaving';
  /** It listened (whatever came after): it counts towards the start. */
  listened: boolean;
  /** Listening for `CRASH_WINDOW` ms: its death is not an early one. */
  steady: boolean;
  connections: number;
  stats: ServerStats;
  result: CloseResult | null;
  failure: WireError | null;
  timers: NodeJS.Timeout[];
}

let running = false;

/** Forks the workers and resolves to the group's server once all of them listen. */
export function startGroup<A extends Address>(where: string, settings: GroupSettings): Promise<Server<A>> {
  if (running) {
    return Promise.reject(
      new InvalidArgumentError(
        `${where}: this process already runs a server on workers; a program runs one at a time ` +
          '(close it first, or serve the other without `workers`)',
      ),
    );
  }
  running = true;
  return new Promise((resolve, reject) => {
    try {
      new Group<A>(where, settings, resolve, reject);
    } catch (error) {
      // Nothing was started (cluster.fork threw, say): the next server on workers may try again.
      running = false;
      throw error;
    }
  });
}

class Group<A extends Address> {
  readonly #members = new Set<Member>();
  readonly #stops: Array<() => void> = [];
  #address: A | null = null;
  #phase: 'starting' | 'running' | 'closing' = 'starting';
  #earlyDeaths = 0;
  #closing: Promise<CloseResult> | null = null;
  #totals: CloseResult = { drained: 0, aborted: 0, dropped: 0 };
  /** What workers that have exited counted. */
  #pastStats: ServerStats = emptyStats();
  #emptied: (() => void) | null = null;
  /** Workers that listened, then left the group and exited: their part of the start is done. */
  #departed = 0;

  constructor(
    readonly where: string,
    readonly settings: GroupSettings,
    readonly started: (server: Server<A>) => void,
    readonly failed: (error: Error) => void,
  ) {
    const { context, rotation } = settings;
    if (context) {
      this.#stops.push(context[kOnContextChange]((change) => this.#broadcast(context, change)));
      if (rotation !== undefined) this.#stops.push(rotateEvery(context, rotation));
    }
    try {
      for (let i = 0; i < settings.workers; i++) this.#fork();
    } catch (error) {
      // cluster.fork threw (no processes left, say): undo what was started, and say why.
      for (const stop of this.#stops.splice(0)) stop();
      for (const member of this.#members) member.worker.kill();
      throw error;
    }
  }

  #fork(): void {
    const worker = cluster.fork({ [WORKER_MARK]: '1' });
    const member: Member = {
      worker,
      state: 'forked',
      listened: false,
      steady: false,
      connections: 0,
      stats: emptyStats(),
      result: null,
      failure: null,
      timers: [],
    };
    this.#members.add(member);
    worker.on('message', (message: unknown) => {
      if (isTlskitMessage<FromWorker>(message)) this.#onMessage(member, message);
    });
    // A send to a worker that just died fails; its exit tells the rest.
    worker.on('error', () => {});
    worker.once('exit', (code: number | null, signal: string | null) => this.#onExit(member, code, signal));
  }

  #onMessage(member: Member, message: FromWorker): void {
    switch (message.tlskit) {
      case 'hello':
        if (this.#phase === 'closing') {
          member.worker.kill();
          return;
        }
        member.state = 'hello';
        send(member, { tlskit: 'init', ...this.#current() });
        return;
      case 'listening':
        this.#onListening(member, message.address as A);
        return;
      case 'failed':
        member.failure = message.error;
        if (this.#phase === 'starting') this.#failStart(raise(message.error));
        // It disconnects and exits, to be restarted (an early death); if something holds it, it is killed.
        else member.timers.push(setTimeout(() => kill(member), EXIT_GRACE));
        return;
      case 'counts':
        member.connections = message.connections;
        member.stats = message.stats;
        return;
      case 'closed':
        member.result = message.result;
        member.timers.push(setTimeout(() => kill(member), EXIT_GRACE));
        return;
      case 'leaving':
        member.state = 'leaving';
        return;
      case 'reload-failed':
        process.emitWarning(
          `${this.where}: worker ${member.worker.process.pid} kept its certificates: ${message.message}`,
          { code: 'TLSKIT_WORKER_RELOAD' },
        );
        return;
    }
  }

  #onListening(member: Member, address: A): void {
    if (member.state === 'hello') member.state = 'listening';
    member.listened = true;
    // With port 0, a worker that listens once all others died has a new port: the latest holds.
    this.#address = address;
    member.timers.push(
      setTimeout(() => {
        member.steady = true;
        this.#earlyDeaths = 0;
      }, CRASH_WINDOW).unref(),
    );
    this.#checkStarted();
  }

  /**
   * Starts the group once every worker listened, those that left since included (if all of them
   * left, the group is empty and its `close` resolves at once). A `signal` that aborted during
   * the start closes the group then, as a one-process server closes once it listens.
   */
  #checkStarted(): void {
    if (this.#phase !== 'starting') return;
    let listened = this.#departed;
    for (const member of this.#members) if (member.listened) listened++;
    if (listened < this.settings.workers) return;
    this.#phase = 'running';
    this.started(this.#server());
    this.#stops.push(closeOnAbort(this.settings.signal, () => void this.close()));
  }

  #onExit(member: Member, code: number | null, signal: string | null): void {
    this.#members.delete(member);
    for (const timer of member.timers) clearTimeout(timer);
    this.#pastStats = addStats(this.#pastStats, member.stats);
    if (this.#phase === 'closing') {
      const result = member.result ?? { drained: 0, aborted: member.connections, dropped: 0 };
      this.#totals = addResults(this.#totals, result);
      if (this.#members.size === 0) this.#emptied?.();
      return;
    }
    if (member.state === 'leaving') {
      this.#departed++;
      return;
    }
    if (member.steady) {
      this.#fork();
      return;
    }
    if (++this.#earlyDeaths < MAX_EARLY_DEATHS) {
      this.#fork();
      return;
    }
    const error = new TlskitError(
      'ERR_WORKERS_CRASHING',
      `${this.where}: ${MAX_EARLY_DEATHS} workers in a row died within ${CRASH_WINDOW} ms of starting ` +
        `(the last ${howItEnded(member, code, signal)}); tlskit stopped restarting them. Their own ` +
        'errors are above; run the program without `workers` to see them alone',
    );
    if (this.#phase === 'starting') {
      this.#failStart(error);
      return;
    }
    // Raised as an uncaught exception once the survivors drained, as an 'error' event nobody
    // listens to would be: the process ends with code 1 and its supervisor sees the failure.
    void this.close().then(() =>
      process.nextTick(() => {
        throw error;
      }),
    );
  }

  /** What a worker starts from: the group's ticket keys and certificates. */
  #current(): { keys: string | null; credentials: Wire | null } {
    const context = this.settings.context;
    if (!context) return { keys: null, credentials: null };
    const credentials = context[kCurrentCredentials]();
    return { keys: context.ticketKeys.toString('base64'), credentials: credentials && toWire(credentials) };
  }

  #broadcast(context: ServerContext, change: ContextChange): void {
    const { keys, credentials } = this.#current();
    const message: ToWorker | null =
      change === 'ticketKeys'
        ? { tlskit: 'keys', keys: keys! }
        : credentials !== null
          ? { tlskit: 'reload', credentials }
          : null;
    if (!message || context !== this.settings.context) return;
    for (const member of this.#members) {
      if (member.state === 'hello' || member.state === 'listening') send(member, message);
    }
  }

  #server(): Server<A> {
    const group = this;
    return {
      get address() {
        return group.#address!;
      },
      /** The sum of what the workers last reported (each reports changes within a second). */
      get connections() {
        let count = 0;
        for (const member of group.#members) count += member.connections;
        return count;
      },
      /** The same sum, workers that have exited included. */
      get stats() {
        let stats = group.#pastStats;
        for (const member of group.#members) stats = addStats(stats, member.stats);
        return stats;
      },
      close: (options) => group.close(options),
    };
  }

  /** Closes every worker and resolves with the sum of their results once all have exited. */
  close(options?: CloseOptions): Promise<CloseResult> {
    const fallback = this.settings.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    const timeout = closeDeadline(this.where, options, fallback); // checked on every call
    if (this.#closing) return this.#closing;
    this.#closing = new Promise((resolve) => {
      this.#phase = 'closing';
      this.#stopAll();
      for (const member of this.#members) {
        if (member.state === 'forked') member.worker.kill();
        else if (member.state !== 'leaving') {
          member.state = 'closing';
          send(member, { tlskit: 'close', timeout: options?.timeout });
        }
      }
      const deadline = setTimeout(() => {
        for (const member of this.#members) kill(member);
      }, timeout + EXIT_GRACE);
      this.#emptied = () => {
        clearTimeout(deadline);
        running = false;
        resolve(this.#totals);
      };
      if (this.#members.size === 0) this.#emptied();
    });
    return this.#closing;
  }

  /** A start that cannot succeed: stops every worker, then rejects with `error`. */
  #failStart(error: Error): void {
    this.#phase = 'closing';
    this.#closing = Promise.resolve(this.#totals);
    this.#stopAll();
    const deadline = setTimeout(() => {
      for (const member of this.#members) kill(member);
    }, EXIT_GRACE);
    this.#emptied = () => {
      clearTimeout(deadline);
      running = false;
      this.failed(error);
    };
    for (const member of this.#members) member.worker.kill();
    if (this.#members.size === 0) this.#emptied();
  }

  #stopAll(): void {
    for (const stop of this.#stops.splice(0)) stop();
  }
}

function send(member: Member, message: ToWorker): void {
  if (member.worker.isConnected()) member.worker.send(message, undefined, () => {});
}

function kill(member: Member): void {
  if (member.worker.process.exitCode === null && member.worker.process.signalCode === null)
    member.worker.process.kill('SIGKILL');
}

function howItEnded(member: Member, code: number | null, signal: string | null): string {
  if (member.failure) return `failed to listen: ${member.failure.message}`;
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** The worker's error, raised again in the primary with its class where tlskit has one. */
function raise(error: WireError): Error {
  if (error.name === 'InvalidArgumentError') return new InvalidArgumentError(error.message);
  if (error.name === 'ConnectionError' && error.code) return new ConnectionError(error.code, error.message);
  return new TlskitError(error.code ?? 'ERR_WORKER', error.message);
}
