/**
 * The proof that matters for keyLog: Wireshark's tshark, given the file, decrypts a loopback
 * capture of tlskit's connections, TLS 1.3 and TLS 1.2, with the client's log and with the
 * server's, and without the file it sees none of the application data. Skipped, with the reason,
 * where tshark is not installed or may not capture on the loopback interface.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clientContext, connect, serve } from 'tlskit';
import { keyLog } from 'tlskit/danger';
import { expect, it } from 'vitest';
import { hasCommand } from '../helpers/commands.js';
import { pki } from '../helpers/pki-fixtures.js';

const run = promisify(execFile);
const tshark = hasCommand('tshark');

/**
 * A capture of two ports: `port` (the server under test) and a sentinel port, whose connection
 * marks the end. tshark prints each packet as it writes it (`-P -l`), in capture order, so once the
 * sentinel's SYN is printed every earlier packet is in the file; stopping before that could lose
 * packets tshark had not read yet.
 */
class Capture {
  readonly #child: ChildProcess;
  readonly #sentinel: net.Server;
  #stdout = '';
  #stderr = '';

  private constructor(child: ChildProcess, sentinel: net.Server) {
    this.#child = child;
    this.#sentinel = sentinel;
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.#stdout += text;
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.#stderr += text;
    });
  }

  /** Starts capturing; resolves once tshark's capture has started, or with why it cannot. */
  static async start(port: number, file: string): Promise<Capture | string> {
    const sentinel = net.createServer((socket) => socket.resume().on('error', () => {}));
    await new Promise<void>((resolve) => sentinel.listen(0, '127.0.0.1', resolve));
    const sentinelPort = (sentinel.address() as net.AddressInfo).port;
    const filter = `tcp port ${port} or tcp port ${sentinelPort}`;
    const child = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', file, '-P', '-l'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const capture = new Capture(child, sentinel);
    // "Capturing on" comes before the filter is in place; "Capture started" once it is.
    const started = await capture.#until(() => capture.#stderr.includes('Capture started'), 15_000);
    if (started) return capture;
    await capture.stop();
    return `tshark did not start capturing: ${capture.#stderr.trim()}`;
  }

  /** Marks the end with the sentinel's connection, waits until tshark saw it, and stops. */
  async finish(): Promise<void> {
    const port = (this.#sentinel.address() as net.AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.destroy();
    const seen = await this.#until(() => this.#stdout.includes(`\u2192 ${port} [SYN]`), 15_000);
    await this.stop();
    if (!seen) throw new Error(`tshark never printed the sentinel's SYN:\n${this.#stdout}\n${this.#stderr}`);
  }

  async stop(): Promise<void> {
    this.#sentinel.close();
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGINT');
    await exited;
  }

  /** Waits for `condition`, checked on each output or exit, at most `ms`; whether it held. */
  #until(condition: () => boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        const exited = this.#child.exitCode !== null || this.#child.signalCode !== null;
        if (!condition() && !exited) return;
        done(condition());
      };
      const timer = setTimeout(() => done(condition()), ms);
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.#child.stdout!.off('data', check);
        this.#child.stderr!.off('data', check);
        this.#child.off('exit', check);
        resolve(result);
      };
      this.#child.stdout!.on('data', check);
      this.#child.stderr!.on('data', check);
      this.#child.on('exit', check);
      check();
    });
  }
}

/** The decrypted application data of TCP stream `stream`, as tshark's "follow TLS" shows it. */
async function followTls(file: string, stream: number, keys: string | null): Promise<string> {
  const args = ['-r', file, '-q', '-z', `follow,tls,ascii,${stream}`];
  if (keys) args.unshift('-o', `tls.keylog_file:${keys}`);
  const { stdout } = await run('tshark', args, { maxBuffer: 16 << 20 });
  return stdout;
}

it('tshark decrypts a loopback capture with the key log of either side, TLS 1.3 and 1.2', async (context) => {
  if (!tshark) return context.skip('tshark is not installed (apt-get install tshark)');
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-tshark-'));
  const files = {
    capture: join(dir, 'capture.pcapng'),
    client: join(dir, 'client.keys'),
    server: join(dir, 'server.keys'),
  };
  const { ca, server: leaf } = await pki();
  const serverTls = leaf.serverContext();
  const why = { reason: 'decrypt a loopback capture in a test' };
  const logs = [keyLog(serverTls, files.server, why)];
  const server = await serve({ host: '127.0.0.1', port: 0, tls: serverTls }, async (connection) => {
    const line = await connection.readLine();
    await connection.write(`reply to ${line}\n`);
  });
  const capture = await Capture.start(server.address.port, files.capture);
  if (typeof capture === 'string') {
    await server.close();
    for (const log of logs) log.stop();
    return context.skip(`cannot capture on the loopback interface: ${capture}`);
  }
  try {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const client = clientContext({ trust: ca.trust, maxVersion: version });
      logs.push(keyLog(client, files.client, why));
      const connection = await connect({
        host: '127.0.0.1',
        port: server.address.port,
        tls: client,
        serverName: 'localhost',
      });
      await connection.write(`secret over ${version}\n`);
      expect(await connection.readLine()).toBe(`reply to secret over ${version}`);
      expect(connection.info.tls?.protocol).toBe(version);
      await connection.close();
    }
    await capture.finish();
  } finally {
    await capture.stop();
    for (const log of logs) log.stop();
    await server.close();
  }
  for (const [stream, version] of [
    [0, 'TLSv1.3'],
    [1, 'TLSv1.2'],
  ] as const) {
    expect(await followTls(files.capture, stream, null)).not.toContain(`secret over ${version}`);
    for (const keys of [files.client, files.server]) {
      const decrypted = await followTls(files.capture, stream, keys);
      expect(decrypted, `${version} with ${keys}`).toContain(`secret over ${version}`);
      expect(decrypted, `${version} with ${keys}`).toContain(`reply to secret over ${version}`);
    }
  }
}, 60_000);
