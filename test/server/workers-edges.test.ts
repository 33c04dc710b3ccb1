/**
 * A server on workers at the edges of its life: a `signal` that aborts during start-up, in the
 * primary or in a worker; workers that leave before the start completes; a restarted worker that
 * cannot listen; counts while draining; a new port after the last worker restarts; certificates
 * that go. Each test runs test/fixtures/workers-edges.mjs (its header lists the scenarios) as its
 * own program, against the built package, and waits on the events it prints.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, killPeers, Peer } from '../helpers/peers.js';
import { openConnection, workerCertificates } from '../helpers/workers.js';

const FIXTURE = new URL('../fixtures/workers-edges.mjs', import.meta.url).pathname;
const started: Peer[] = [];

afterEach(async () => {
  const peers = started.splice(0);
  await killPeers();
  for (const peer of peers) expect(peer.stderr).not.toMatch(/UNHANDLED REJECTION/);
});

type Event = Record<string, unknown>;

/** The fixture running `scenario`: its events, and commands to it. */
class Edges {
  readonly peer: Peer;

  constructor(scenario: string, config: Record<string, unknown>) {
    this.peer = new Peer(`workers-edges ${scenario}`, process.execPath, [
      FIXTURE,
      JSON.stringify({ scenario, ...config }),
    ]);
    started.push(this.peer);
  }

  /** The first event with `key` printed after `since` for which `where` holds. */
  async event(key: string, options: { since?: number; where?: (event: Event) => boolean } = {}) {
    let since = options.since ?? 0;
    for (;;) {
      const match = await this.peer.waitFor(new RegExp(`^\\{"${key}":.*\\}$`, 'm'), { since });
      since += match.index! + match[0].length;
      const event = JSON.parse(match[0]) as Event;
      if (!options.where || options.where(event)) return event;
    }
  }

  /** Every event with `key` printed so far. */
  events(key: string): Event[] {
    const lines = this.peer.stdout.match(new RegExp(`^\\{"${key}":.*\\}$`, 'gm')) ?? [];
    return lines.map((line) => JSON.parse(line) as Event);
  }

  command(line: string): void {
    this.peer.send(`${line}\n`);
  }

  /** Closes the group; resolves with its result once the primary exited with code 0. */
  async close(timeout?: number): Promise<unknown> {
    const since = this.peer.mark();
    this.command(timeout === undefined ? 'close' : `close ${timeout}`);
    const { closed } = await this.event('closed', { since });
    expect(await this.peer.waitForExit()).toEqual({ code: 0, signal: null });
    return closed;
  }
}

async function edges(scenario: string, config: Record<string, unknown> = {}) {
  const certificates = await workerCertificates();
  return { fixture: new Edges(scenario, { ...certificates, ...config }), certificates };
}

/** The subject of the certificate a client naming `servername` is given, and which worker served. */
function presented(port: number, servername: string): Promise<{ pid: number; subject: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!text.includes('\n')) return;
      const subject = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve({ pid: (JSON.parse(text.slice(0, text.indexOf('\n'))) as { pid: number }).pid, subject });
    });
    socket.once('error', reject);
  });
}

/** Connects (60 times at most) until the last subject each of `workers` workers gave passes `done`. */
async function subjectsOf(port: number, workers: number, done: (subject: unknown) => boolean) {
  const last = new Map<number, unknown>();
  for (let i = 0; i < 60; i++) {
    const { pid, subject } = await presented(port, 'a.test');
    last.set(pid, subject);
    if (last.size === workers && [...last.values()].every(done)) break;
  }
  return [...last.values()];
}

describe('a server on workers, at the edges of its life', () => {
  it.each([
    ['aborts the signal it gave serve before it listens', 'worker-abort'],
    ['closes its own server right after listening', 'worker-leaves'],
  ])('every worker that %s leaves the group, and serve in the primary resolves', async (_, scenario) => {
    const { fixture } = await edges(scenario);
    await fixture.event('ready');
    const left = [await fixture.event('exit')];
    left.push(await fixture.event('exit', { where: (event) => event.exit !== left[0]!.exit }));
    expect(left.map((event) => event.code)).toEqual([0, 0]);
    expect(await fixture.close()).toEqual({ drained: 0, aborted: 0, dropped: 0 });
    expect(fixture.events('listening')).toHaveLength(2); // neither was restarted
  });

  it("the primary's signal aborting while serve starts: serve resolves once the workers listen, and the group closes", async () => {
    const { fixture } = await edges('abort-start');
    await fixture.event('ready');
    expect(await fixture.close()).toEqual({ drained: 0, aborted: 0, dropped: 0 });
    expect(fixture.events('exit').map((event) => event.code)).toEqual([0, 0]);
  });

  it('a restarted worker whose listen fails (its port taken) exits and is restarted', async () => {
    const { fixture } = await edges('listen-fails', { workers: 1, port: await freePort() });
    const { ready } = await fixture.event('ready');
    const failed = await fixture.event('workerFailed');
    expect(failed.workerFailed).toBe('EADDRINUSE');
    const since = fixture.peer.mark();
    await fixture.event('exit', { where: (event) => event.exit === failed.pid });
    const { listening } = await fixture.event('listening', { since });
    expect(listening).not.toBe(failed.pid);
    expect(await connects((ready as { port: number }).port)).toBe(true);
    await fixture.close();
  });

  it("during close({ timeout }) the group's connections follow the workers' reports", async () => {
    const { fixture, certificates } = await edges('drain', { workers: 1 });
    const { ready } = await fixture.event('ready');
    const { port } = ready as { port: number };
    const open = [await openConnection(port, certificates), await openConnection(port, certificates)];
    await fixture.event('counts', { where: (event) => event.counts === 2 });
    const closing = fixture.peer.mark();
    fixture.command('close 5000');
    // The handlers are told, and each connection finishes when its client says so.
    for (const connection of open) expect(await connection.nextLine()).toBe('closing');
    open[0]!.socket.write('one\n');
    expect(await open[0]!.nextLine()).toBe('bye one');
    await fixture.event('counts', { since: closing, where: (event) => event.counts === 1 });
    const asked = fixture.peer.mark();
    fixture.command('connections');
    expect((await fixture.event('connections', { since: asked })).connections).toBe(1);
    open[1]!.socket.write('two\n');
    expect(await open[1]!.nextLine()).toBe('bye two');
    expect((await fixture.event('closed', { since: closing })).closed).toEqual({
      drained: 2,
      aborted: 0,
      dropped: 0,
    });
    expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('with port 0, address follows the new port once the last worker restarted', async () => {
    const { fixture } = await edges('port0', { workers: 1 });
    await fixture.event('ready');
    const { listening: first } = await fixture.event('listening');
    const since = fixture.peer.mark();
    process.kill(first as number, 'SIGKILL');
    await fixture.event('serving', { since });
    const asked = fixture.peer.mark();
    fixture.command('address');
    const { address } = await fixture.event('address', { since: asked });
    expect(await connects((address as { port: number }).port)).toBe(true);
    await fixture.close();
  });

  it('reload({ sni: {} }) in the primary removes the sni certificates in every worker', async () => {
    const { fixture } = await edges('sni-all');
    const { ready } = await fixture.event('ready');
    const { port } = ready as { port: number };
    expect((await presented(port, 'a.test')).subject).toBe('second');
    const since = fixture.peer.mark();
    fixture.command('sni-empty');
    await fixture.event('reloaded', { since });
    expect(await subjectsOf(port, 2, (subject) => subject === 'first')).toEqual(['first', 'first']);
    await fixture.close();
  });

  it('workers serve the sni map the primary holds (none), not the one they read themselves', async () => {
    const { fixture } = await edges('sni-workers');
    const { ready } = await fixture.event('ready');
    const { port } = ready as { port: number };
    expect(await subjectsOf(port, 2, (subject) => subject === 'first')).toEqual(['first', 'first']);
    await fixture.close();
  });
});

/** Whether a TCP connection to `port` on loopback is accepted. */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
