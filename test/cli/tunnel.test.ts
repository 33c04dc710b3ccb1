/**
 * `tlskit tunnel` as a user runs it: the built command in a child process (`npm test` builds
 * dist/ first), real curl and openssl clients, real signals, loopback only.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { clientContext, connect, serve, serverContext } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { offerStartTls } from '../../src/cli/starttls.js';
import { blackhole } from '../helpers/blackhole.js';
import { hasCommand } from '../helpers/commands.js';
import { freePort, killPeers, Peer, withTimeout } from '../helpers/peers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'tlskit-tunnel-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
type FileName =
  | 'ca'
  | 'cert'
  | 'key'
  | 'otherCert'
  | 'otherKey'
  | 'aliceCert'
  | 'aliceKey'
  | 'malloryCert'
  | 'malloryKey';
/** PEM file paths, and (otherCert/otherKey) the PEM text a reload swaps in. */
const files = {} as Record<FileName, string>;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  const ca = await createCA();
  const server = await ca.issue({ hosts: ['localhost', '127.0.0.1'], usage: 'server' });
  const other = await ca.issue({ hosts: ['localhost', '127.0.0.1'], usage: 'server' });
  const alice = await ca.issue({ subject: 'alice', usage: 'client' });
  const mallory = await ca.issue({ subject: 'mallory', usage: 'client' });
  Object.assign(files, {
    ca: file('ca.pem', ca.certPem),
    cert: file('cert.pem', server.chainPem),
    key: file('key.pem', server.keyPem),
    otherCert: other.chainPem,
    otherKey: other.keyPem,
    aliceCert: file('alice.pem', alice.chainPem),
    aliceKey: file('alice-key.pem', alice.keyPem),
    malloryCert: file('mallory.pem', mallory.chainPem),
    malloryKey: file('mallory-key.pem', mallory.keyPem),
  });
});
afterEach(async () => {
  // The tunnel first: servers closed before it would wait for the connections it holds.
  await killPeers();
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(killPeers);

/** Starts the tunnel and resolves once its startup line names the port it listens on. */
async function tunnel(args: string[]): Promise<Peer & { port: number }> {
  const peer = new Peer('tlskit tunnel', process.execPath, [
    'dist/cli/main.js',
    'tunnel',
    '--accept',
    '127.0.0.1:0',
    ...args,
  ]);
  const [, port] = await peer
    .waitFor(/event=listening accept=127\.0\.0\.1:(\d+)|"accept":"127\.0\.0\.1:(\d+)"/)
    .then((m) => [m[0], m[1] ?? m[2]]);
  return Object.assign(peer, { port: Number(port) });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

const helloServer = () => http.createServer((_, res) => res.end('hello from plain\n'));

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('curl', ['-sS', '--max-time', '8', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, stdout, stderr };
  }
}

/** Starts a curl GET through the tunnel; resolves once the backend has the request. */
async function transferUnderway(
  port: number,
  backend: http.Server,
): Promise<{ done: ReturnType<typeof curl> }> {
  const transfer = curl([
    '--cacert',
    files.ca,
    '-N',
    `https://localhost:${port}/`,
    '--connect-to',
    `localhost:${port}:127.0.0.1:${port}`,
  ]);
  await withTimeout(
    new Promise<void>((resolve) => backend.once('request', () => resolve())),
    8000,
    () => 'the request did not reach the backend',
  );
  return { done: transfer };
}

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['dist/cli/main.js', 'tunnel', ...args]);
    return { code: 0, stderr: '' };
  } catch (error) {
    const { code, stderr = '' } = error as { code?: number; stderr?: string };
    return { code: code ?? -1, stderr };
  }
}

/** The keys of every `--json` connection line, whatever happened to the connection. */
const CONNECTION_KEYS = [
  'bytes_in',
  'bytes_out',
  'close',
  'duration_ms',
  'event',
  'peer',
  'protocol',
  'sni',
  'time',
];

describe('tlskit tunnel: mistakes exit 2 and name the flag', () => {
  it.each([
    [
      ['--accept', '1', '--to', 'h:1', '--cert', 'c', '--key', 'k', '--ca', 'a'],
      /--cert and --ca were both given/,
    ],
    [['--accept', '1', '--to', 'h:1', '--key', 'k'], /--key was given without --cert/],
    [['--accept', '1', '--cert', 'c', '--key', 'k'], /--to is required; pass HOST:PORT/],
    [
      ['--accept', '1', '--to', 'h:1', '--ca', '/no/such.pem'],
      /--ca '\/no\/such.pem' cannot be read \(ENOENT\)/,
    ],
    [
      ['--accept', '1', '--to', 'h:1', '--ca', 'a', '--proxy-protocol', 'v3'],
      /--proxy-protocol must be v1 or v2, got 'v3'/,
    ],
    [
      ['--accept', '1', '--to', 'h:1', '--cert', 'c', '--key', 'k', '--allow-cn', 'alice'],
      /--allow-cn\/--allow-san name client certificates, which only --client-ca asks for/,
    ],
    [['--accept', '1', '--to', 'h:0', '--ca', 'a'], /the port in --to 'h:0' must be from 1 to 65535, got 0/],
    [
      ['--accept', '1', '--to', '::1:80', '--ca', 'a'],
      /--to '::1:80' is not host:port or \[v6\]:port; write an IPv6 address in brackets: \[::1\]:443/,
    ],
    [
      ['--accept', 'localhost', '--to', 'h:1', '--ca', 'a'],
      /--accept 'localhost' is not host:port .*add the port/,
    ],
    [
      ['--accept', '1', '--to', 'h:1', '--cert', 'c', '--key', 'k', '--servername', 'x'],
      /in terminate mode without --starttls it does nothing: drop it/,
    ],
    [['--accept', '1', '--to', 'h:1', '--frob'], /Unknown option '--frob'[^\n]*\nRun 'tlskit tunnel --help'/],
    [
      ['--accept', '1', '--to', 'h:1', '--ca', 'a', '--drain-timeout', '3000000000'],
      /--drain-timeout 3000000000 is longer than a Node timer can wait; use at most 2147483647/,
    ],
  ])('%j', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('a key that does not match the certificate names --key and its file', async () => {
    const args = ['--accept', '127.0.0.1:0', '--to', 'h:1', '--cert', files.cert, '--key', files.aliceKey];
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(`tlskit tunnel: --key '${files.aliceKey}': \`key\` does not match`);
  });

  it('a --ca file without a certificate names --ca and its file', async () => {
    const garbage = file('garbage.pem', 'not a certificate\n');
    const { code, stderr } = await cli(['--accept', '127.0.0.1:0', '--to', 'h:1', '--ca', garbage]);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      new RegExp(`^tlskit tunnel: --ca '${garbage}': \`trust\` holds no PEM certificate`),
    );
  });

  it('an --accept address in use says so and how to fix it', async () => {
    const taken = await listen(net.createServer());
    const args = ['--accept', `127.0.0.1:${taken}`, '--to', 'h:1', '--cert', files.cert, '--key', files.key];
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(
      `tlskit tunnel: --accept 127.0.0.1:${taken}: EADDRINUSE; something already listens there; stop it or choose another port`,
    );
  });
});

describe('tlskit tunnel: both directions', () => {
  it('terminates: curl https → tunnel → plain HTTP server, and logs the connection', async () => {
    const backend = await listen(helloServer());
    const t = await tunnel(['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key]);
    const result = await curl([
      '--cacert',
      files.ca,
      `https://localhost:${t.port}/`,
      '--connect-to',
      `localhost:${t.port}:127.0.0.1:${t.port}`,
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'hello from plain\n' });
    await t.waitFor(
      /event=connection peer=127\.0\.0\.1:\d+ sni=localhost protocol=TLSv1\.3 bytes_in=\d+ bytes_out=\d+ duration_ms=\d+ close=clean/,
    );
  });

  it('originates: plain curl → tunnel → HTTPS server, verified by --ca', async () => {
    const server = https.createServer({ cert: readText(files.cert), key: readText(files.key) }, (_, res) =>
      res.end('hello from https\n'),
    );
    const backend = await listen(server);
    const t = await tunnel([
      '--json',
      '--to',
      `127.0.0.1:${backend}`,
      '--ca',
      files.ca,
      '--servername',
      'localhost',
    ]);
    const result = await curl([`http://127.0.0.1:${t.port}/`]);
    expect(result).toMatchObject({ code: 0, stdout: 'hello from https\n' });
    const [line] = await t.waitFor(/\{[^\n]*"event":"connection"[^\n]*\}/);
    expect(JSON.parse(line)).toMatchObject({ protocol: 'TLSv1.3', close: 'clean' });
    expect(Object.keys(JSON.parse(line)).sort()).toEqual(CONNECTION_KEYS);
  });
});

describe('tlskit tunnel: client certificates', () => {
  it('--client-ca refuses a client without a certificate and says why', async () => {
    const backend = await listen(helloServer());
    const t = await tunnel([
      '--to',
      `127.0.0.1:${backend}`,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--client-ca',
      files.ca,
    ]);
    const result = await curl(['--cacert', files.ca, `https://127.0.0.1:${t.port}/`]);
    expect(result.code).not.toBe(0);
    await t.waitFor(
      /event=connection peer=127\.0\.0\.1:\d+ bytes_in=0 bytes_out=0 close="refused: [^\n]*certificate/i,
    );
  });

  it('--allow-cn refuses another CN (logged) and passes the right one', async () => {
    const backend = await listen(helloServer());
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key],
      ...['--client-ca', files.ca, '--allow-cn', 'alice'],
    ]);
    const url = `https://127.0.0.1:${t.port}/`;
    const refused = await curl([
      '--cacert',
      files.ca,
      '--cert',
      files.malloryCert,
      '--key',
      files.malloryKey,
      url,
    ]);
    expect(refused.code).not.toBe(0);
    await t.waitFor(/close="refused: client certificate CN='mallory'[^\n]*not in --allow-cn/);
    const passed = await curl([
      '--cacert',
      files.ca,
      '--cert',
      files.aliceCert,
      '--key',
      files.aliceKey,
      url,
    ]);
    expect(passed).toMatchObject({ code: 0, stdout: 'hello from plain\n' });
  });
});

describe('tlskit tunnel: signals', () => {
  it('SIGHUP: new connections see the new certificate, an open one keeps working', async () => {
    const echo = net.createServer((socket) => socket.pipe(socket));
    const backend = await listen(echo);
    const cert = file('hup.pem', readText(files.cert));
    const key = file('hup-key.pem', readText(files.key));
    const t = await tunnel(['--to', `127.0.0.1:${backend}`, '--cert', cert, '--key', key]);
    const tls = clientContext({ trust: readText(files.ca) });
    const before = await connect({ host: '127.0.0.1', port: t.port, tls, serverName: 'localhost' });
    closers.push(() => before.abort());
    const oldPrint = before.info.tls?.peerCertificates[0]?.fingerprint256;
    writeFileSync(cert, files.otherCert);
    writeFileSync(key, files.otherKey);
    const mark = t.mark();
    t.child.kill('SIGHUP');
    await t.waitFor(/event=reload/, { since: mark });
    const after = await connect({ host: '127.0.0.1', port: t.port, tls, serverName: 'localhost' });
    closers.push(() => after.abort());
    const newPrint = after.info.tls?.peerCertificates[0]?.fingerprint256;
    expect(newPrint).toBe(new X509Certificate(files.otherCert).fingerprint256);
    expect(newPrint).not.toBe(oldPrint);
    await before.write('still here\n');
    expect(await before.readLine({ timeout: 5000 })).toBe('still here');

    writeFileSync(cert, 'not a certificate');
    const mark2 = t.mark();
    t.child.kill('SIGHUP');
    // The failure names the flag and its file, as at start-up, not the library's field.
    const escaped = cert.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    await t.waitFor(
      new RegExp(
        `event=reload-failed[^\\n]*error="--cert '${escaped}': \`cert\` holds no PEM certificate[^\\n]*kept="old certificate"`,
      ),
      {
        since: mark2,
      },
    );
    const third = await connect({ host: '127.0.0.1', port: t.port, tls, serverName: 'localhost' });
    closers.push(() => third.abort());
    expect(third.info.tls?.peerCertificates[0]?.fingerprint256).toBe(newPrint);
  });

  it('SIGHUP when originating re-reads --ca (it used to end the process), and keeps the old trust on a bad file', async () => {
    const server = https.createServer({ cert: readText(files.cert), key: readText(files.key) }, (_, res) =>
      res.end('hello from https\n'),
    );
    const backend = await listen(server);
    const ca = file('hup-ca.pem', readText(files.ca));
    const t = await tunnel(['--to', `127.0.0.1:${backend}`, '--ca', ca, '--servername', 'localhost']);
    const url = `http://127.0.0.1:${t.port}/`;
    expect(await curl([url])).toMatchObject({ code: 0, stdout: 'hello from https\n' });
    // A CA that did not issue the backend's certificate: the next connection is refused.
    writeFileSync(ca, (await createCA()).certPem);
    const mark = t.mark();
    t.child.kill('SIGHUP');
    await t.waitFor(/event=reload ca=/, { since: mark });
    expect((await curl([url])).code).not.toBe(0);
    await t.waitFor(/close="backend [^"]*UNKNOWN_ISSUER|close="backend [^"]*issuer/, { since: mark });
    // A file that no longer reads: logged, and the trust of the last good one is kept.
    writeFileSync(ca, 'not a certificate');
    const mark2 = t.mark();
    t.child.kill('SIGHUP');
    await t.waitFor(/event=reload-failed ca=[^\n]*kept="old trust"/, { since: mark2 });
    expect(t.child.exitCode).toBeNull();
  });

  it('SIGHUP re-reads --client-ca: clients of the newly named CA get in, the old ones no longer', async () => {
    const backend = await listen(helloServer());
    const newCa = await createCA();
    const bob = await newCa.issue({ subject: 'bob', usage: 'client' });
    const bobCert = file('bob.pem', bob.chainPem);
    const bobKey = file('bob-key.pem', bob.keyPem);
    const clientCa = file('hup-client-ca.pem', readText(files.ca));
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key],
      ...['--client-ca', clientCa],
    ]);
    const url = `https://127.0.0.1:${t.port}/`;
    const as = (cert: string, key: string) => curl(['--cacert', files.ca, '--cert', cert, '--key', key, url]);
    expect(await as(files.aliceCert, files.aliceKey)).toMatchObject({
      code: 0,
      stdout: 'hello from plain\n',
    });
    expect((await as(bobCert, bobKey)).code).not.toBe(0);

    writeFileSync(clientCa, newCa.certPem);
    const mark = t.mark();
    t.child.kill('SIGHUP');
    await t.waitFor(/event=reload[^\n]*client_ca=/, { since: mark });
    expect(await as(bobCert, bobKey)).toMatchObject({ code: 0, stdout: 'hello from plain\n' });
    expect((await as(files.aliceCert, files.aliceKey)).code).not.toBe(0);

    // An unreadable CA file keeps the CAs (and the certificate) the tunnel had.
    writeFileSync(clientCa, 'not a certificate');
    const mark2 = t.mark();
    t.child.kill('SIGHUP');
    await t.waitFor(/event=reload-failed[^\n]*kept="old certificate"/, { since: mark2 });
    expect(await as(bobCert, bobKey)).toMatchObject({ code: 0, stdout: 'hello from plain\n' });
  });

  it('SIGTERM: an in-flight transfer completes, new connections are refused, exit 0', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = http.createServer((_, res) => {
      res.write('first half ');
      void released.then(() => res.end('second half\n'));
    });
    const backend = await listen(slow);
    const t = await tunnel(['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key]);
    const transfer = (await transferUnderway(t.port, slow)).done;
    t.child.kill('SIGTERM');
    await t.waitFor(/event=stopping signal=SIGTERM/);
    const refused = await curl(['--cacert', files.ca, `https://127.0.0.1:${t.port}/`]);
    expect(refused.code).not.toBe(0);
    release();
    expect(await transfer).toMatchObject({ code: 0, stdout: 'first half second half\n' });
    expect(await t.waitForExit()).toEqual({ code: 0, signal: null });
    expect(t.output).toMatch(/event=stopped drained=1 aborted=0/);
  });

  it('SIGTERM: a transfer still open at the drain deadline is cut and logged as close="drain deadline"', async () => {
    const slow = http.createServer((_, res) => res.write('first half '));
    const backend = await listen(slow);
    closers.push(() => slow.closeAllConnections());
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key],
      ...['--drain-timeout', '200'],
    ]);
    const transfer = (await transferUnderway(t.port, slow)).done;
    t.child.kill('SIGTERM');
    expect(await t.waitForExit()).toEqual({ code: 0, signal: null });
    expect(t.output).toMatch(/event=connection [^\n]*bytes_out=\d+ duration_ms=\d+ close="drain deadline"/);
    expect(t.output).toMatch(/event=stopped drained=0 aborted=1/);
    expect((await transfer).stdout).toBe('first half ');
  });

  it.each([
    ['SIGTERM', 'SIGTERM', 143],
    ['SIGINT', 'SIGTERM', 143],
    ['SIGTERM', 'SIGINT', 130],
  ] as const)(
    '%s, then %s during the drain: exits at once with %i, the open transfer is cut',
    async (first, second, status) => {
      const slow = http.createServer((_, res) => res.write('first half '));
      const backend = await listen(slow);
      closers.push(() => slow.closeAllConnections());
      const t = await tunnel(['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key]);
      const transfer = (await transferUnderway(t.port, slow)).done;
      t.child.kill(first);
      await t.waitFor(new RegExp(`event=stopping signal=${first}`));
      t.child.kill(second);
      expect(await t.waitForExit()).toEqual({ code: status, signal: null });
      expect(t.output).toMatch(new RegExp(`event=stopped signal=${second} forced=true`));
      const cut = await transfer;
      expect(cut.code).not.toBe(0);
      expect(cut.stdout).toBe('first half ');
    },
  );
});

/** A verified TLS client through the tunnel, its local port, and how its first read ended. */
async function tlsClient(port: number) {
  const connection = await connect({
    host: '127.0.0.1',
    port,
    tls: clientContext({ trust: readText(files.ca) }),
    serverName: 'localhost',
  });
  const ended = connection.read().then(
    (chunk) => chunk,
    (error: unknown) => error,
  );
  return { connection, port: (connection.info.local as { port: number }).port, ended };
}

/** A node:tls client of the tunnel, resolved once the tunnel's first session ticket arrived. */
async function clientPastServerHandshake(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readText(files.ca) });
  socket.on('error', () => {}); // the tunnel cuts it when it stops
  socket.resume(); // reads to the end, so that 'close' follows it
  await once(socket, 'session');
  return socket;
}

/** A terminating tunnel, with `flags`, in front of a backend that accepts and never speaks. */
async function quietTunnel(...flags: string[]) {
  const backend = await listen(net.createServer(() => {}));
  return tunnel(['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key, ...flags]);
}

describe('tlskit tunnel: limits', () => {
  it('--idle-timeout closes a connection quiet both ways with close_notify, its backend too, and logs both', async () => {
    let backendEnded!: () => void;
    const backendGone = new Promise<void>((resolve) => {
      backendEnded = resolve;
    });
    // A backend that never speaks, and tells when the tunnel ends its side.
    const backend = await listen(
      net.createServer((socket) => {
        socket.on('error', () => {});
        socket.on('end', () => {
          socket.end();
          backendEnded();
        });
        socket.resume();
      }),
    );
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key, '--idle-timeout', '200'],
    ]);
    const client = await tlsClient(t.port);
    expect(await client.ended).toBeNull(); // a clean close_notify
    await t.waitFor(
      new RegExp(`event=limit limit=idleTimeout value=200 peer=127\\.0\\.0\\.1:${client.port}`),
    );
    await backendGone; // the backend connection is not left open behind the client's
    await t.waitFor(new RegExp(`event=connection peer=127\\.0\\.0\\.1:${client.port} .*close=clean`));
    await client.connection.close();
  });

  it('--max-connections refuses the connection beyond it, and logs the refusal', async () => {
    const t = await quietTunnel(...['--max-connections', '1']);
    const first = await tlsClient(t.port);
    const second = await tlsClient(t.port).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(Error);
    await t.waitFor(/event=limit limit=maxConnections value=1 peer=127\.0\.0\.1:\d+/);
    await first.connection.close();
  });
});

describe('tlskit tunnel: a backend that never answers (its SYNs dropped)', () => {
  const hole = blackhole();
  afterAll(() => hole.stop());

  it('--connect-timeout ends the client connection, and the log says why', async () => {
    const backend = await hole.port();
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key],
      ...['--connect-timeout', '300'],
    ]);
    const client = await tlsClient(t.port);
    await client.ended;
    await t.waitFor(
      new RegExp(
        `close="backend 127\\.0\\.0\\.1:${backend} failed: connect: no connection to 127\\.0\\.0\\.1:${backend} within 300 ms"`,
      ),
    );
  });

  it('SIGTERM exits after the drain, although connects to the backend were under way', async () => {
    const backend = await hole.port();
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key],
      ...['--connect-timeout', '600000', '--drain-timeout', '200'],
    ]);
    // Each client waits for the tunnel's session ticket, which the tunnel sends only once it has
    // finished its own side of the handshake: a client's handshake completes a flight earlier, and
    // a connection still in its handshake at the signal is dropped, not aborted.
    const clients = await Promise.all([1, 2, 3].map(() => clientPastServerHandshake(t.port)));
    t.child.kill('SIGTERM');
    expect(await t.waitForExit()).toEqual({ code: 0, signal: null });
    expect(t.output).toMatch(/event=stopped drained=0 aborted=3 dropped=0/);
    await Promise.all(clients.map((c) => (c.closed ? null : once(c, 'close'))));
  });
});

describe('tlskit tunnel: --proxy-protocol', () => {
  it.each(['v1', 'v2'])('%s: the backend sees the real client address', async (version) => {
    const seen: string[] = [];
    const backend = await serve(
      { host: '127.0.0.1', port: 0, proxyProtocol: { trusted: ['127.0.0.1'] } },
      async (connection) => {
        const peer = connection.info.peer as { host: string; port: number };
        seen.push(`${peer.host}:${peer.port}`);
        await connection.write('ok\n');
      },
    );
    closers.push(() => backend.close());
    const t = await tunnel([
      '--to',
      `127.0.0.1:${backend.address.port}`,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--proxy-protocol',
      version,
    ]);
    const client = await connect({
      host: '127.0.0.1',
      port: t.port,
      tls: clientContext({ trust: readText(files.ca) }),
      serverName: 'localhost',
    });
    closers.push(() => client.abort());
    expect(await client.readLine({ timeout: 5000 })).toBe('ok');
    const local = client.info.local as { host: string; port: number };
    expect(seen).toEqual([`${local.host}:${local.port}`]);
  });
});

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

describe('tlskit tunnel beside stunnel4', () => {
  it.skipIf(!hasCommand('stunnel4'))(
    'the same curl works through both with the same certificate',
    async () => {
      const backend = await listen(helloServer());
      const t = await tunnel(['--to', `127.0.0.1:${backend}`, '--cert', files.cert, '--key', files.key]);
      const stunnelPort = await freePort();
      const config = file(
        'stunnel.conf',
        `foreground = yes\npid =\nsyslog = no\ndebug = 7\n[t]\naccept = 127.0.0.1:${stunnelPort}\nconnect = 127.0.0.1:${backend}\ncert = ${files.cert}\nkey = ${files.key}\n`,
      );
      const stunnel = new Peer('stunnel4', 'stunnel4', [config]);
      await stunnel.waitFor(new RegExp(`bound to 127\\.0\\.0\\.1:${stunnelPort}`));
      for (const p of [t.port, stunnelPort]) {
        const result = await curl([
          '--cacert',
          files.ca,
          `https://localhost:${p}/`,
          '--connect-to',
          `localhost:${p}:127.0.0.1:${p}`,
        ]);
        expect(result).toMatchObject({ code: 0, stdout: 'hello from plain\n' });
      }
    },
  );
});

describe('tlskit tunnel --starttls', () => {
  it('terminates: openssl s_client -starttls smtp → tunnel → a plain SMTP backend', async () => {
    // A plain SMTP-ish backend: its greeting (swallowed by the tunnel), then an echo of lines.
    const backend = net.createServer((socket) => {
      socket.write('220 backend.example ESMTP\r\n');
      socket.on('data', (data) => socket.write(`backend got: ${data}`));
      socket.on('error', () => {});
    });
    const backendPort = await listen(backend);
    const t = await tunnel([
      '--to',
      `127.0.0.1:${backendPort}`,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--starttls',
      'smtp',
      '--servername',
      'localhost',
    ]);
    const client = new Peer('openssl s_client', 'openssl', [
      's_client',
      '-starttls',
      'smtp',
      '-connect',
      `127.0.0.1:${t.port}`,
      '-servername',
      'localhost',
      '-verify_hostname',
      'localhost',
      '-CAfile',
      files.ca,
      '-verify_return_error',
      '-quiet',
    ]);
    await client.waitFor(/verify return:1/);
    client.child.stdin!.write('EHLO over-tls\r\n');
    await client.waitFor(/backend got: EHLO over-tls/);
    expect(client.stdout).not.toMatch(/220 backend\.example/); // the backend's greeting was swallowed
    client.child.kill(); // -quiet ignores the end of its input: end the connection for it
    await t.waitFor(/event=connection .*sni=localhost .*protocol=TLSv1\.3/);
  });

  it('terminating, a client that fails its side of STARTTLS is logged as refused, not as a backend failure', async () => {
    const backend = net.createServer((socket) => {
      socket.write('220 backend.example ESMTP\r\n');
      socket.on('error', () => {});
    });
    const backendPort = await listen(backend);
    const t = await tunnel([
      ...['--to', `127.0.0.1:${backendPort}`, '--cert', files.cert, '--key', files.key],
      ...['--starttls', 'smtp', '--servername', 'localhost'],
    ]);
    // A command pipelined behind STARTTLS: the injection the tunnel refuses.
    const client = await connect({ host: '127.0.0.1', port: t.port });
    expect(await client.readLine()).toMatch(/^220 /);
    await client.write('EHLO c\r\n');
    for (let i = 0, line = ''; i < 20 && !line.startsWith('250 '); i++)
      line = (await client.readLine()) ?? '250 ';
    await client.write('STARTTLS\r\nRCPT TO:<x@example.com>\r\n');
    await client.closed;
    const [line] = await t.waitFor(/event=connection [^\n]*close="[^"\n]*"/);
    expect(line).toMatch(/close="refused: [^"]*plaintext/);
    expect(line).not.toMatch(/backend/);
  });

  it('--connect-timeout bounds a backend that accepts and never greets, in both modes', async () => {
    const silent = await listen(
      net.createServer((socket) => {
        socket.on('error', () => {});
      }),
    );
    for (const mode of [
      ['--cert', files.cert, '--key', files.key],
      ['--ca', files.ca],
    ]) {
      const t = await tunnel([
        ...['--to', `127.0.0.1:${silent}`, ...mode, '--starttls', 'smtp', '--servername', 'localhost'],
        ...['--connect-timeout', '300'],
      ]);
      const client = await connect({ host: '127.0.0.1', port: t.port });
      if (mode[0] === '--cert') {
        // Terminating, the tunnel greets the client itself; the backend is reached after STARTTLS.
        expect(await client.readLine()).toMatch(/^220 /);
        await client.write('EHLO c\r\n');
        for (let i = 0, line = ''; i < 20 && !line.startsWith('250 '); i++)
          line = (await client.readLine()) ?? '250 ';
        await client.write('STARTTLS\r\n');
        expect(await client.readLine()).toMatch(/^220 /);
        await client.startTls({
          context: clientContext({ trust: readText(files.ca) }),
          serverName: 'localhost',
        });
      }
      await client.closed;
      const [line] = await t.waitFor(/event=connection [^\n]*close="backend [^"]*"/);
      expect(line).toMatch(/waited 300 ms/);
    }
  });

  it('originates: a plain client → tunnel → a STARTTLS server, the greeting replayed', async () => {
    const credentials = { cert: readText(files.cert), key: readText(files.key) };
    const server = await serve({ host: '127.0.0.1', port: 0, onError: () => {} }, async (connection) => {
      await offerStartTls('smtp', connection, { hostname: 'mail.example' });
      await connection.startTls({ context: serverContext(credentials) });
      for (let line = await connection.readLine(); line !== null; line = await connection.readLine())
        await connection.write(`over tls (${connection.info.tls?.protocol}): ${line}\r\n`);
    });
    closers.push(() => server.close({ timeout: 200 }));
    const t = await tunnel([
      '--to',
      `127.0.0.1:${(server.address as { port: number }).port}`,
      '--ca',
      files.ca,
      '--servername',
      'localhost',
      '--starttls',
      'smtp',
    ]);
    const plain = await connect({ host: '127.0.0.1', port: t.port });
    expect(await plain.readLine()).toMatch(/^220 mail\.example/);
    await plain.write('EHLO plain-client\r\n');
    expect(await plain.readLine()).toBe('over tls (TLSv1.3): EHLO plain-client');
    await plain.close();
  });
});
