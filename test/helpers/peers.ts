/**
 * Independent TLS peers for interoperability tests: the openssl, gnutls and curl command-line tools,
 * run as child processes on 127.0.0.1. Everything here waits on output or events with a deadline,
 * never on a fixed sleep, and every process it starts can be killed with `killPeers()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { type ClientContext, createConnection, type Server, type TcpAddress, type Transport } from 'tlskit';
import { type MemoryPairOptions, memoryPair, RecordingProtocol } from 'tlskit/testing';
import { afterEach } from 'vitest';
import { opensslCerts } from './openssl-certs.js';

/** Default deadline for waiting on a peer, in milliseconds. */
export const PEER_TIMEOUT = 8_000;

const live = new Set<Peer>();

/** How a peer process ended. */
export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running command-line TLS tool with piped stdin, stdout and stderr. */
export class Peer {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout, to stderr, and both interleaved in arrival order. */
  stdout = '';
  stderr = '';
  output = '';
  exit: PeerExit | null = null;
  readonly #listeners = new Set<() => void>();
  readonly exited: Promise<PeerExit>;

  constructor(name: string, command: string, args: string[]) {
    this.name = name;
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.child.stdout!.setEncoding('latin1');
    this.child.stderr!.setEncoding('latin1');
    this.child.stdout!.on('data', (text: string) => {
      this.stdout += text;
      this.output += text;
      this.#notify();
    });
    this.child.stderr!.on('data', (text: string) => {
      this.stderr += text;
      this.output += text;
      this.#notify();
    });
    // Writing to a process that already exited raises EPIPE on stdin; the exit is what matters.
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.output += `\n[spawn error: ${error.message}]`;
        this.exit ??= { code: null, signal: null };
        live.delete(this);
        this.#notify();
        resolve(this.exit);
      });
      // 'close' rather than 'exit': it comes after the process's output was read to the end.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        this.#notify();
        resolve(this.exit);
      });
    });
  }

  /** A position in the interleaved output; pass it as `since` to wait only for later output. */
  mark(): number {
    return this.output.length;
  }

  /**
   * Resolves with the first match of `pattern` in the interleaved output (from `since` on). Rejects
   * with the output so far if the deadline passes or the process ends without printing it.
   *
   * The OpenSSL tools write what they receive straight to stdout but their own messages through a
   * buffered stream, so one can land inside a line of the other: match received data by its text
   * and newline, not by `^` … `$`.
   */
  waitFor(pattern: RegExp, options: { since?: number; timeout?: number } = {}): Promise<RegExpMatchArray> {
    const { since = 0, timeout = PEER_TIMEOUT } = options;
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this.output.slice(since).match(pattern);
        if (match) {
          done();
          resolve(match);
        } else if (this.exit) {
          done();
          reject(
            new Error(`${this.name} ${describeExit(this.exit)} without printing ${pattern}${this.#tail()}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeout} ms${this.#tail()}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Resolves when the process has ended (and its output was read); rejects after the deadline. */
  waitForExit(timeout = PEER_TIMEOUT): Promise<PeerExit> {
    return withTimeout(
      this.exited,
      timeout,
      () => `${this.name} did not exit within ${timeout} ms${this.#tail()}`,
    );
  }

  /** Writes to the process's stdin. */
  send(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Closes the process's stdin (the tools treat that as "quit", closing their TLS side). */
  endInput(): void {
    this.child.stdin!.end();
  }

  /** Kills the process (SIGKILL by default: no chance to send close_notify) and waits for its end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<PeerExit> {
    if (!this.exit) this.child.kill(signal);
    return this.waitForExit();
  }

  #tail(): string {
    return `; its output ends with:\n${this.output.slice(-1500)}`;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

function describeExit(exit: PeerExit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** Rejects with `message()` if `promise` has not settled within `timeout` milliseconds. */
export function withTimeout<T>(promise: Promise<T>, timeout: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), timeout);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Kills every peer still running; for `afterEach`. */
export async function killPeers(): Promise<void> {
  await Promise.all([...live].map((peer) => peer.kill()));
}

/** A TCP port that was free a moment ago on `host` (127.0.0.1): listen on port 0, read it, close. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts a server tool on a fresh port and waits until it says it is listening. Another process
 * may grab the port between `freePort()` and the tool's bind, so a bind failure is retried.
 */
async function startServer(
  name: string,
  command: string,
  args: (port: number) => string[],
  ready: RegExp,
): Promise<PeerServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const peer = new Peer(name, command, args(port)) as PeerServer;
    try {
      await peer.waitFor(ready);
      Object.assign(peer, { port });
      return peer;
    } catch (error) {
      const inUse = /address already in use|bind/i.test(peer.output);
      await peer.kill();
      if (!inUse || attempt >= 3) throw error;
    }
  }
}

/** A server tool, listening. */
export type PeerServer = Peer & { readonly port: number };

/**
 * `openssl s_server` on 127.0.0.1 with the test server certificate, ready once it printed ACCEPT.
 * It serves one connection at a time and keeps listening. Its stdin stays open: what is written
 * there is sent to the client, and a line that is only a letter is a command: `k`/`K` (KeyUpdate,
 * `K` asking for one back), `r`/`R` (renegotiate), `q` (end the connection), `Q` (quit). `q`, `Q`
 * and closing stdin close the socket before a close_notify could be sent.
 */
export function opensslServer(extra: string[] = [], options: { cert?: string; key?: string } = {}) {
  const { paths } = opensslCerts();
  return startServer(
    'openssl s_server',
    'openssl',
    (port) => [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      options.cert ?? paths.serverCert,
      '-key',
      options.key ?? paths.serverKey,
      ...extra,
    ],
    /^ACCEPT$/m,
  );
}

/**
 * `gnutls-serv --echo` with the test server certificate (it listens on all addresses; tests only
 * connect to 127.0.0.1), ready once it announced its IPv4 listener.
 */
export function gnutlsServer(
  extra: string[] = [],
  options: { cert?: string; key?: string; mode?: 'echo' | 'http' } = {},
) {
  const { paths } = opensslCerts();
  const mode = options.mode ?? 'echo';
  return startServer(
    mode === 'echo' ? 'gnutls-serv' : 'gnutls-serv --http',
    'gnutls-serv',
    (port) => [
      '--port',
      String(port),
      `--${mode}`,
      '--x509certfile',
      options.cert ?? paths.serverCert,
      '--x509keyfile',
      options.key ?? paths.serverKey,
      ...extra,
    ],
    /listening on IPv4 .* port \d+\.\.\.done/,
  );
}

/** `openssl s_client` to 127.0.0.1:`port`, verifying the server against the test CA. */
export function opensslClient(port: number, extra: string[] = []): Peer {
  const { paths } = opensslCerts();
  return new Peer('openssl s_client', 'openssl', [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-verify_hostname',
    'localhost',
    '-verify_return_error',
    '-CAfile',
    paths.ca,
    ...extra,
  ]);
}

/** `gnutls-cli` to 127.0.0.1:`port`, verifying the server against the test CA and the name localhost. */
export function gnutlsClient(port: number, extra: string[] = []): Peer {
  const { paths } = opensslCerts();
  return new Peer('gnutls-cli', 'gnutls-cli', [
    '--port',
    String(port),
    '--x509cafile',
    paths.ca,
    '--verify-hostname',
    'localhost',
    ...extra,
    '127.0.0.1',
  ]);
}

/** Runs curl to completion with the test CA; resolves with its exit and output. */
export async function curl(url: string, extra: string[] = []): Promise<Peer & { exit: PeerExit }> {
  const { paths } = opensslCerts();
  const peer = new Peer('curl', 'curl', [
    '--silent',
    '--show-error',
    '--max-time',
    String(PEER_TIMEOUT / 1000),
    '--cacert',
    paths.ca,
    ...extra,
    url,
  ]);
  await peer.waitForExit(PEER_TIMEOUT + 2_000);
  return peer as Peer & { exit: PeerExit };
}

let rsaCached: { cert: string; key: string; certPem: string; keyPem: string } | undefined;

/**
 * An RSA 2048 server certificate for localhost/127.0.0.1, issued by the test CA. The static-RSA
 * and ECDHE-RSA suites can only be negotiated with an RSA key, so refusing them is only meaningful
 * for a server that has one.
 */
export function rsaServerCert(): { cert: string; key: string; certPem: string; keyPem: string } {
  if (rsaCached) return rsaCached;
  const { dir, paths } = opensslCerts();
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  writeFileSync(
    join(dir, 'rsa-server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'rsa-server.key',
    '-out',
    'rsa-server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  run([
    'x509',
    '-req',
    '-in',
    'rsa-server.csr',
    '-CA',
    paths.ca,
    '-CAkey',
    paths.caKey,
    '-CAcreateserial',
    '-out',
    'rsa-server.pem',
    '-days',
    '2',
    '-extfile',
    'rsa-server.ext',
  ]);
  const cert = join(dir, 'rsa-server.pem');
  const key = join(dir, 'rsa-server.key');
  rsaCached = {
    cert,
    key,
    certPem: readFileSync(cert, 'utf8'),
    keyPem: readFileSync(key, 'utf8'),
  };
  return rsaCached;
}

/**
 * `gnutls-serv --http` with the test server certificate: it answers each request with an HTML page
 * and then ends the connection itself, with a close_notify (`-d 5` makes it log the alerts it sends
 * and receives: `REC: Sending Alert[1|0] - Close notify`).
 */
export function gnutlsHttpServer(extra: string[] = [], options: { cert?: string; key?: string } = {}) {
  return gnutlsServer(extra, { ...options, mode: 'http' });
}

/**
 * A plain JavaScript Duplex relaying a connected `net.Socket`, counting the bytes it carries. It is
 * not a `net.Socket`, so `startTls(fromDuplex(relay))` cannot hand a descriptor to node:tls and must
 * take the bridged engine path; the counters show that the TLS records really went through here.
 */
export class SocketRelay extends Duplex {
  readonly socket: net.Socket;
  /** Bytes read from the socket (what the peer sent) and written to it (what we sent). */
  bytesRead = 0;
  bytesWritten = 0;
  #ended = false;

  constructor(socket: net.Socket) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.push(null);
    });
    socket.on('error', (error) => this.destroy(error));
    // After the peer's FIN the relay drains and ends by itself; a close without one is abrupt.
    socket.on('close', () => {
      if (!this.#ended && !this.destroyed) this.destroy();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

/** A `net.Socket` connected to 127.0.0.1:`port`, half-open allowed (TLS needs it), within the deadline. */
export function connectSocket(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const connected = new Promise<net.Socket>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
  return withTimeout(connected, PEER_TIMEOUT, () => `could not connect to 127.0.0.1:${port}`).catch(
    (error: unknown) => {
      socket.destroy();
      throw error;
    },
  );
}

/**
 * One end of a memory pair whose other end relays to a connected `net.Socket`: TLS over the
 * returned end is bridged, and the memory pair's delivery plan (`{ chunkSize: 1 }`: a byte at a
 * time) decides how the real peer's records are cut up before node:tls sees them. Ends of stream
 * go both ways; a socket that closes without one aborts the memory end.
 */
export function memoryRelay(socket: net.Socket, options: MemoryPairOptions = {}): Transport {
  const [near, far] = memoryPair(options);
  let ended = false;
  socket.setNoDelay(true);
  far.setProtocol({
    dataReceived: (data) => {
      // Once the socket is gone, bytes for it vanish, as a kernel drops them after a reset;
      // pausing for a 'drain' that never comes would hold them (and the writer) forever.
      if (socket.destroyed) return;
      if (!socket.write(data)) far.pauseReading();
    },
    eofReceived: () => {
      socket.end();
      return true;
    },
    pauseWriting: () => socket.pause(),
    resumeWriting: () => socket.resume(),
    connectionLost: (error) => {
      if (error) socket.destroy();
    },
  });
  socket.on('drain', () => far.resumeReading());
  socket.on('data', (chunk: Buffer) => far.write(chunk));
  socket.on('end', () => {
    ended = true;
    far.end();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!ended) far.abort();
    else far.resumeReading();
  });
  return near;
}

/** An RSA CA and two leaves for localhost/127.0.0.1 with one key, signed with MD5 and with SHA-256. */
export interface Md5Certs {
  caPem: string;
  /** File paths, for the tools. */
  ca: string;
  key: string;
  md5Cert: string;
  sha256Cert: string;
  keyPem: string;
  md5CertPem: string;
  sha256CertPem: string;
}

let md5Cached: Md5Certs | undefined;

/**
 * Certificates signed with MD5 (md5WithRSAEncryption), made by the openssl CLI: tlskit/pki cannot
 * mint them, since WebCrypto has no MD5. OpenSSL 3.0 still signs with MD5 (`x509 -md5`); security
 * levels only judge certificates being used, so a tool must lower its level to 0
 * (`-cipher DEFAULT@SECLEVEL=0`) before it even loads one ("ca md too weak" otherwise). The SHA-256
 * leaf has the same key, issuer, names and usages (serverAuth and clientAuth): the signature
 * algorithm is the only difference.
 */
export function md5SignedCerts(): Md5Certs {
  if (md5Cached) return md5Cached;
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-md5-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=tlskit MD5 test CA',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    join(dir, 'leaf.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  for (const digest of ['md5', 'sha256']) {
    run([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      `-${digest}`,
      '-out',
      `${digest}.pem`,
      '-days',
      '2',
      '-extfile',
      'leaf.ext',
    ]);
  }
  const path = (file: string) => join(dir, file);
  const read = (file: string) => readFileSync(path(file), 'utf8');
  md5Cached = {
    caPem: read('ca.pem'),
    ca: path('ca.pem'),
    key: path('leaf.key'),
    md5Cert: path('md5.pem'),
    sha256Cert: path('sha256.pem'),
    keyPem: read('leaf.key'),
    md5CertPem: read('md5.pem'),
    sha256CertPem: read('sha256.pem'),
  };
  return md5Cached;
}

/** A gnutls priority string that allows one TLS version only, e.g. `gnutlsOnly('1.2')`. */
export const gnutlsOnly = (version: string) => `--priority=NORMAL:-VERS-ALL:+VERS-TLS${version}`;

/** Connects a tlskit TLS client to a peer on 127.0.0.1 and records what it sees. */
export async function connectRecorded(port: number, context: ClientContext) {
  const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT });
  const transport = await createConnection(() => recording, {
    host: '127.0.0.1',
    port,
    tls: context,
    serverName: 'localhost',
  });
  return { transport, recording };
}

/**
 * The tlskit servers a test file starts: push each one here, and after every test the peer tools
 * are killed and the servers closed.
 */
export function serversClosedAfterEach(): Server<TcpAddress>[] {
  const servers: Server<TcpAddress>[] = [];
  afterEach(async () => {
    await killPeers();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return servers;
}
