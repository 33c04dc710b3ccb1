/**
 * A server on workers (src/server/): one port, one set of session-ticket keys and one rotation
 * schedule across processes, certificate reloads that reach every worker, restarts after
 * crashes with a bound on crash loops, and a shutdown that drains them all. Each test runs the
 * fixture program (test/helpers/workers.ts says why) and talks to it over loopback; every
 * process of it reports unhandled rejections on stderr, which fails the test.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createServer, serve } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_EARLY_DEATHS } from '../../src/server/primary.js';
import { unixPath } from '../helpers/pairs.js';
import { freePort, killPeers, Peer } from '../helpers/peers.js';
import { pki } from '../helpers/pki-fixtures.js';
import {
  type FixtureConfig,
  type Greeting,
  greet,
  greetWorker,
  type OpenConnection,
  openConnection,
  type WorkerCertificates,
  WorkersFixture,
  workerCertificates,
} from '../helpers/workers.js';

const started: WorkersFixture[] = [];

afterEach(async () => {
  const fixtures = started.splice(0);
  await killPeers();
  for (const fixture of fixtures) fixture.expectNoUnhandledRejection();
});

async function start(config: FixtureConfig): Promise<{
  fixture: WorkersFixture;
  port: number;
  certificates: WorkerCertificates;
}> {
  const certificates = await workerCertificates();
  const fixture = new WorkersFixture({ ...certificates, ...config });
  started.push(fixture);
  const { port } = await fixture.ready();
  return { fixture, port, certificates };
}

/** Closes the group; the primary must then exit with code 0, after every worker did. */
async function closeAndExit(fixture: WorkersFixture): Promise<unknown> {
  const result = await fixture.close();
  expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
  return result;
}

/** Asks the primary for its connection count until it is `count` (workers report within a second). */
async function untilConnections(fixture: WorkersFixture, count: number): Promise<void> {
  let connections: number | null = null;
  for (let i = 0; connections !== count && i < 100; i++) {
    const since = fixture.peer.mark();
    fixture.command('connections');
    connections = (await fixture.event<number>('connections', { since })).value;
    // Workers report their counts when they change, within a second: ask again a little later.
    if (connections !== count) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(connections).toBe(count);
}

/** Greets each of `pids` until `done` holds for what it answered (bounded). */
async function untilEach(
  port: number,
  certificates: WorkerCertificates,
  pids: number[],
  done: (greeting: Greeting) => boolean,
): Promise<Greeting[]> {
  const answers: Greeting[] = [];
  for (const pid of pids) {
    let greeting = await greetWorker({ port }, certificates, (p) => p === pid);
    for (let i = 0; !done(greeting) && i < 100; i++)
      greeting = await greetWorker({ port }, certificates, (p) => p === pid);
    answers.push(greeting);
  }
  return answers;
}

describe('a server on workers', () => {
  it('resumes a session ticket issued by one worker on the other in at least 95% of tries', async () => {
    const { fixture, port, certificates } = await start({ workers: 2 });
    const TRIES = 40;
    let crossed = 0;
    let resumed = 0;
    for (let i = 0; crossed < TRIES && i < TRIES * 3; i++) {
      const first = await greet({ port }, certificates);
      expect(first.resumed).toBe(false);
      const second = await greet({ port }, certificates, { session: first.session });
      if (second.pid === first.pid) continue; // not a try across workers
      crossed++;
      if (second.resumed) resumed++;
    }
    expect(crossed).toBe(TRIES);
    expect(resumed / crossed).toBeGreaterThanOrEqual(0.95);
    await closeAndExit(fixture);
  });

  it('TLS 1.2 with openssl s_client: a session saved from one worker (-sess_out) is reused on the other (-sess_in)', async () => {
    const { fixture, port, certificates } = await start({ workers: 2, maxVersion: 'TLSv1.2' });
    const file = `${certificates.dir}/s_client-session.pem`;
    const sClient = async (session: string[]) => {
      const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'];
      const peer = new Peer('s_client', 'openssl', [...args, '-CAfile', certificates.ca, ...session]);
      const [, pid] = await peer.waitFor(/"pid":(\d+)/);
      peer.endInput();
      await peer.waitForExit();
      return { pid: Number(pid), reused: /^Reused, TLSv1\.2/m.test(peer.stdout) };
    };
    let outcome: { first: number; second: number; reused: boolean } | null = null;
    for (let i = 0; !outcome && i < 10; i++) {
      const first = await sClient(['-sess_out', file]);
      const second = await sClient(['-sess_in', file]);
      if (second.pid !== first.pid) outcome = { first: first.pid, second: second.pid, reused: second.reused };
    }
    expect(outcome).toMatchObject({ reused: true });
    await closeAndExit(fixture);
  });

  it("rotateTicketKeys() on the primary's context reaches every worker: older tickets stop resuming, newer ones resume everywhere", async () => {
    const { fixture, port, certificates } = await start({ workers: 2 });
    const before = await greet({ port }, certificates);
    const other = await greetWorker({ port }, certificates, (pid) => pid !== before.pid);
    expect(other.key).toBe(before.key);
    const pids = [before.pid, other.pid];
    fixture.command('rotate');
    const { value: rotated } = await fixture.event<string>('rotated');
    expect(rotated).not.toBe(before.key);
    const answers = await untilEach(port, certificates, pids, (greeting) => greeting.key === rotated);
    expect(answers.map((greeting) => greeting.key)).toEqual([rotated, rotated]);
    const after = await greet({ port }, certificates);
    for (const pid of pids) {
      const old = await greetWorker({ port }, certificates, (p) => p === pid, { session: before.session });
      expect(old.resumed, `a ticket from before the rotation, on ${pid}`).toBe(false);
      const fresh = await greetWorker({ port }, certificates, (p) => p === pid, { session: after.session });
      expect(fresh.resumed, `a ticket from after the rotation, on ${pid}`).toBe(true);
    }
    await closeAndExit(fixture);
  });

  it('ticketKeyRotation: the primary makes new keys on schedule and every worker takes the same ones', async () => {
    const { fixture, port, certificates } = await start({ workers: 2, ticketKeyRotation: 1000 });
    const before = await greet({ port }, certificates);
    const other = await greetWorker({ port }, certificates, (pid) => pid !== before.pid);
    // Both workers end up on one new key: the schedule's, not one per worker.
    let keys: string[] = [];
    for (let i = 0; i < 200; i++) {
      const answers = await untilEach(
        port,
        certificates,
        [before.pid, other.pid],
        (g) => g.key !== before.key,
      );
      keys = answers.map((greeting) => greeting.key);
      if (keys[0] === keys[1]) break;
    }
    expect(keys[0]).not.toBe(before.key);
    expect(keys[1]).toBe(keys[0]);
    for (const pid of [before.pid, other.pid]) {
      const old = await greetWorker({ port }, certificates, (p) => p === pid, { session: before.session });
      expect(old.resumed).toBe(false);
    }
    await closeAndExit(fixture);
  });

  it('reload() on the primary reaches every worker, and a worker killed with SIGKILL is restarted with the current certificate and keys while the port keeps serving', async () => {
    const { fixture, port, certificates } = await start({ workers: 2 });
    const first = await greet({ port }, certificates);
    const other = await greetWorker({ port }, certificates, (pid) => pid !== first.pid);
    expect([first.subject, other.subject]).toEqual(['first', 'first']);
    fixture.command('reload');
    await fixture.event('reloaded');
    const reloaded = await untilEach(
      port,
      certificates,
      [first.pid, other.pid],
      (g) => g.subject === 'second',
    );
    expect(reloaded.map((greeting) => greeting.subject)).toEqual(['second', 'second']);

    fixture.command('rotate');
    const { value: key } = await fixture.event<string>('rotated');
    const since = fixture.peer.mark();
    process.kill(first.pid, 'SIGKILL');
    await fixture.event('exit', { since, where: (pid) => pid === first.pid });
    const { value: restarted } = await fixture.event<number>('listening', { since });
    const fresh = await greetWorker({ port }, certificates, (pid) => pid === restarted);
    expect(fresh).toMatchObject({ subject: 'second', key });

    const served = new Set<number>();
    for (let i = 0; i < 10; i++) served.add((await greet({ port }, certificates)).pid);
    expect([...served].sort()).toEqual([other.pid, restarted].sort());
    await closeAndExit(fixture);
  });

  it('close({ timeout }) drains every worker: idle connections end at once, requests in flight finish with no byte lost, one that does not finish is aborted at the deadline; the sum comes back and the primary exits', async () => {
    const { fixture, port, certificates } = await start({ workers: 2 });
    // On each worker: two idle connections and one with a request in flight; one more stalls.
    const byWorker = new Map<number, OpenConnection[]>();
    for (let i = 0; [...byWorker.values()].filter((list) => list.length >= 3).length < 2 && i < 30; i++) {
      const connection = await openConnection(port, certificates);
      const list = byWorker.get(connection.pid) ?? [];
      if (list.length < 3) list.push(connection);
      else connection.socket.end();
      byWorker.set(connection.pid, list);
    }
    expect([...byWorker.values()].map((list) => list.length)).toEqual([3, 3]);
    const idle = [...byWorker.values()].flatMap((list) => list.slice(0, 2));
    const busy = [...byWorker.values()].map((list) => list[2]!);
    const stalled = await openConnection(port, certificates);
    for (const connection of [...busy, stalled]) connection.socket.write('hold\n');
    await untilConnections(fixture, 7);

    const result = fixture.close(2000);
    // Both workers began closing once every idle connection saw the server's close_notify.
    expect(await Promise.all(idle.map((connection) => connection.ended))).toEqual([true, true, true, true]);
    const payload = randomBytes(30_000).toString('hex');
    for (const connection of busy) connection.socket.write(`${payload}\n`);
    for (const connection of busy) expect(await connection.nextLine()).toBe(`held ${payload}`);
    expect(await Promise.all(busy.map((connection) => connection.ended))).toEqual([true, true]);
    // The stalled one is cut at the deadline, unanswered (node:tls reports a TCP end without
    // close_notify as an end too, so the server's count tells the cut: `aborted`).
    await expect(stalled.nextLine()).rejects.toThrow(/ended before a line/);
    expect(await result).toEqual({ drained: 6, aborted: 1, dropped: 0 });
    expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
    const exits = fixture.peer.stdout.match(/^\{"exit":.*\}$/gm) ?? [];
    expect(exits.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ code: 0, signal: null }),
      expect.objectContaining({ code: 0, signal: null }),
    ]);
  });

  it.each([
    ['closes its own server', 'leave'],
    ['aborts the signal it gave serve', 'abort'],
  ])('a worker that %s drains and leaves the group; it is not restarted', async (_, line) => {
    const { fixture, port, certificates } = await start({ workers: 2, signal: true });
    const since = fixture.peer.mark();
    const leaving = await openConnection(port, certificates);
    leaving.socket.write(`${line}\n`);
    expect(await leaving.ended).toBe(true);
    const leaver = leaving.pid;
    const { value: exited } = await fixture.event<number>('exit', { since });
    expect(exited).toBe(leaver);
    const served = new Set<number>();
    for (let i = 0; i < 10; i++) served.add((await greet({ port }, certificates)).pid);
    expect(served.size).toBe(1);
    expect(served.has(leaver)).toBe(false);
    expect(fixture.peer.stdout.slice(since)).not.toMatch(/"listening"/);
    await closeAndExit(fixture);
  });

  it("the group's stats sum its workers' counts, and its limits apply in each worker", async () => {
    const { fixture, port, certificates } = await start({ workers: 2, limits: { maxConnections: 1 } });
    const first = await openConnection(port, certificates);
    const second = await openConnection(port, certificates);
    expect(second.pid).not.toBe(first.pid); // round robin; each worker now holds its one connection
    const refused = await openConnection(port, certificates).then(
      (connection) => connection,
      () => null,
    );
    expect(refused, "a third connection, beyond both workers' maxConnections").toBeNull();
    type Counts = { accepted: number; limited: { maxConnections: number } };
    let stats: Counts | null = null as Counts | null;
    for (let i = 0; stats?.accepted !== 3 && i < 100; i++) {
      const since = fixture.peer.mark();
      fixture.command('stats');
      stats = (await fixture.event<Counts>('stats', { since })).value;
      // Workers report their counts when they change, within a second: ask again a little later.
      if (stats.accepted !== 3) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stats).toMatchObject({ accepted: 3, limited: { maxConnections: 1 } });
    await closeAndExit(fixture);
  });

  it('aborting the `signal` given to serve in the primary closes the whole group', async () => {
    const { fixture, port, certificates } = await start({ workers: 2, signal: true });
    const open = await openConnection(port, certificates);
    fixture.command('abort');
    expect(await open.ended).toBe(true);
    expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
    expect(fixture.peer.stdout).not.toMatch(/"closed"/);
    expect((fixture.peer.stdout.match(/^\{"exit":.*"code":0/gm) ?? []).length).toBe(2);
  });

  it('serves on a Unix socket path from every worker', async () => {
    const certificates = await workerCertificates();
    const path = unixPath();
    const fixture = new WorkersFixture({ ...certificates, workers: 2, path });
    started.push(fixture);
    expect(await fixture.ready()).toEqual({ path });
    const first = await greet({ path }, certificates);
    const second = await greetWorker({ path }, certificates, (pid) => pid !== first.pid, {
      session: first.session,
    });
    expect(second.resumed).toBe(true);
    await closeAndExit(fixture);
  });

  it('serves plain TCP on workers too', async () => {
    const { fixture, port } = await start({ workers: 2, plain: true });
    const pids = new Set<number>();
    for (let i = 0; pids.size < 2 && i < 20; i++) {
      const socket = net.connect(port, '127.0.0.1');
      const line = await new Promise<string>((resolve, reject) => {
        socket.setEncoding('utf8');
        socket.once('data', resolve);
        socket.once('error', reject);
      });
      socket.end();
      pids.add(JSON.parse(line).pid);
    }
    expect(pids.size).toBe(2);
    await closeAndExit(fixture);
  });
});

describe('a server on workers that cannot run', () => {
  it(`stops restarting after ${MAX_EARLY_DEATHS} early deaths in a row during start-up: serve rejects and the primary exits`, async () => {
    const certificates = await workerCertificates();
    const fixture = new WorkersFixture({ ...certificates, workers: 2, crash: 'before-serve' });
    started.push(fixture);
    const { value } = await fixture.event('failed', { timeout: 30_000 });
    expect(value).toMatchObject({
      code: 'ERR_WORKERS_CRASHING',
      message: expect.stringMatching(/5 workers in a row died .*exited with code 3.*stopped restarting/),
    });
    expect(await fixture.peer.waitForExit()).toEqual({ code: 1, signal: null });
    const forks = fixture.peer.stdout.match(/^\{"exit":/gm) ?? [];
    expect(forks.length).toBeLessThanOrEqual(MAX_EARLY_DEATHS + 1);
  });

  it('stops restarting workers that die right after listening, and exits with code 1', async () => {
    const certificates = await workerCertificates();
    const fixture = new WorkersFixture({ ...certificates, workers: 2, crash: 'after-listen' });
    started.push(fixture);
    expect(await fixture.peer.waitForExit(30_000)).toEqual({ code: 1, signal: null });
    expect(fixture.peer.output).toMatch(/ERR_WORKERS_CRASHING/);
    expect((fixture.peer.stdout.match(/^\{"exit":/gm) ?? []).length).toBeLessThanOrEqual(
      MAX_EARLY_DEATHS + 2,
    );
  });

  it('rejects with the error of a worker that cannot listen (a port in use), and stops the others', async () => {
    const taken = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const certificates = await workerCertificates();
      const fixture = new WorkersFixture({ ...certificates, workers: 2, port });
      started.push(fixture);
      expect((await fixture.event('failed')).value).toMatchObject({ code: 'EADDRINUSE' });
      expect(await fixture.peer.waitForExit()).toEqual({ code: 1, signal: null });
    } finally {
      taken.close();
    }
  });

  it('refuses a second server on workers in the same program while the first runs', async () => {
    const { fixture } = await start({ workers: 2, second: true });
    expect((await fixture.event('second')).value).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(/already runs a server on workers/),
    });
    await closeAndExit(fixture);
  });

  it('refuses `workers` in a cluster worker tlskit did not fork', async () => {
    const certificates = await workerCertificates();
    const fixture = new WorkersFixture({ ...certificates, plain: true, foreign: true });
    started.push(fixture);
    expect((await fixture.event('foreign')).value).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(/cluster worker that tlskit did not fork/),
    });
    expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
  });
});

describe('the options of workers, refused before anything is forked', () => {
  const loopback = { host: '127.0.0.1', port: 0 };
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['workers: 0', { workers: 0 }, /`workers` must be a positive integer.*availableParallelism.*got 0$/],
    ["workers: 'x'", { workers: 'x' }, /`workers` must be a positive integer.*got "x"$/],
    ['workers: 1.5', { workers: 1.5 }, /got 1\.5$/],
    ['ticketKeyRotation without tls', { ticketKeyRotation: 60_000 }, /`ticketKeyRotation` .*needs `tls`/],
    ['ticketKeyRotation below a second', { ticketKeyRotation: 10, tls: true }, /at least 1000 ms.*got 10$/],
    ['ticketKeyRotation: -1', { ticketKeyRotation: -1, tls: true }, /positive number of milliseconds/],
    ['a bad port, with workers', { workers: 2, port: 70_000 }, /`port` must be an integer from 0 to 65535/],
  ];
  for (const [name, extra, message] of cases) {
    it(name, async () => {
      const { serverContext } = await pki();
      const options = { ...loopback, ...extra, tls: extra.tls ? serverContext : undefined };
      for (const call of [
        () => serve(options as Parameters<typeof serve>[0], () => {}),
        () => createServer(() => ({}), options as Parameters<typeof createServer>[1]),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message });
      }
      expect(Object.keys(cluster.workers ?? {})).toEqual([]);
    });
  }
});
