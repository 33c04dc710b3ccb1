/**
 * tlskit/danger's keyLog: what each side logs is the real secret of the connection (TLS 1.3: an
 * exporter value recomputed from the logged EXPORTER_SECRET equals the one OpenSSL gives; TLS 1.2:
 * the logged master secret is the session's), both sides log the same lines, on both engine paths;
 * a file sink is created 0600 and appended to; stop() stops; a context without a key log costs its
 * connections no listener; the process is warned once. keylog-tshark.test.ts decrypts a capture.
 */
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type ClientContext, clientContext, type ServerContext, startTls, type Transport } from 'tlskit';
import { keyLog } from 'tlskit/danger';
import { memoryPair } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import type { StreamTransport } from '../../src/transport/stream.js';
import { tcpPair } from '../helpers/pairs.js';
import { pki } from '../helpers/pki-fixtures.js';

const warnings: Array<Error & { code?: string }> = [];
process.on('warning', (warning) => warnings.push(warning));

type Version = 'TLSv1.2' | 'TLSv1.3';
const reason = { reason: 'keylog tests' };
const dir = mkdtempSync(join(tmpdir(), 'tlskit-keylog-'));
let files = 0;
const freshPath = () => join(dir, `keys-${++files}.log`);

/** A new client and server context (key logs are per context), at most `version`. */
async function contexts(
  version: Version = 'TLSv1.3',
): Promise<{ client: ClientContext; server: ServerContext }> {
  const { ca, server } = await pki();
  return {
    client: clientContext({ trust: ca.trust, maxVersion: version }),
    server: server.serverContext({ maxVersion: version }),
  };
}

const pairs = {
  'native (TCP)': tcpPair,
  'bridged (memory pair)': async () => memoryPair(),
};

/** Both handshakes over a fresh pair of `kind`: [client, server]. */
async function handshake(
  kind: keyof typeof pairs,
  client: ClientContext,
  server: ServerContext,
): Promise<[Transport, Transport]> {
  const [a, b] = await pairs[kind]();
  return Promise.all([
    startTls(a, { context: client, serverName: 'localhost' }),
    startTls(b, { context: server }),
  ]);
}

const socketOf = (transport: Transport) => (transport as StreamTransport).stream as TLSSocket;

/** A sink that keeps the lines. */
function collector(): { lines: string[]; sink: (line: Buffer) => void } {
  const lines: string[] = [];
  return { lines, sink: (line) => lines.push(line.toString('latin1')) };
}

interface Entry {
  label: string;
  clientRandom: string;
  secret: Buffer;
}

function parse(lines: string[]): Entry[] {
  return lines.map((line) => {
    expect(line).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,}\n$/);
    const [label, clientRandom, secret] = line.trim().split(' ') as [string, string, string];
    return { label, clientRandom, secret: Buffer.from(secret, 'hex') };
  });
}

const TLS13_LABELS = [
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'CLIENT_TRAFFIC_SECRET_0',
  'EXPORTER_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_TRAFFIC_SECRET_0',
];

/** RFC 8446 section 7.1 HKDF-Expand-Label, and section 7.5's exporter over an exporter secret. */
function expandLabel(hash: string, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`);
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff, full.length]),
    full,
    Buffer.from([context.length]),
    context,
  ]);
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * previous.length < length || blocks.length === 0; i++) {
    previous = createHmac(hash, secret)
      .update(Buffer.concat([previous, info, Buffer.from([i])]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function tls13Exporter(hash: string, exporterSecret: Buffer, label: string, context: Buffer, length: number) {
  const digest = (data: Buffer) => createHash(hash).update(data).digest();
  const size = digest(Buffer.alloc(0)).length;
  const derived = expandLabel(hash, exporterSecret, label, digest(Buffer.alloc(0)), size);
  return expandLabel(hash, derived, 'exporter', digest(context), length);
}

/**
 * The master key of a session from `getSession()`: OpenSSL's DER SSL_SESSION (version,
 * ssl_version, cipher, id, master key, ...). Node 22 and later put their own head in front
 * (`\0nodejs:tls:session:1\0`, then the server name with a 16-bit length), which is skipped.
 */
function sessionMasterKey(session: Buffer): Buffer {
  let der = session;
  if (session[0] === 0) {
    const nameAt = session.indexOf(0, 1) + 1;
    der = session.subarray(nameAt + 2 + session.readUInt16BE(nameAt));
  }
  const element = (at: number) => {
    let length = der[at + 1]!;
    let start = at + 2;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      length = der.readUIntBE(at + 2, bytes);
      start += bytes;
    }
    return { start, end: start + length };
  };
  let at = element(0).start; // inside the SEQUENCE
  for (let i = 0; i < 4; i++) at = element(at).end;
  expect(der[at]).toBe(0x04);
  const key = element(at);
  return der.subarray(key.start, key.end);
}

describe.each(['TLSv1.3', 'TLSv1.2'] as const)('keyLog over %s', (version) => {
  describe.each(Object.keys(pairs) as Array<keyof typeof pairs>)('%s', (kind) => {
    it('client and server each log the same lines, which hold the secrets OpenSSL uses', async () => {
      const { client, server } = await contexts(version);
      const clientLog = collector();
      const serverLog = collector();
      const logs = [keyLog(client, clientLog.sink, reason), keyLog(server, serverLog.sink, reason)];
      const [ct, st] = await handshake(kind, client, server);
      expect(ct.info.tls?.protocol).toBe(version);
      expect([...clientLog.lines].sort()).toEqual([...serverLog.lines].sort());
      const entries = parse(clientLog.lines);
      expect(new Set(entries.map((entry) => entry.clientRandom)).size).toBe(1);
      const socket = socketOf(ct);
      if (version === 'TLSv1.3') {
        expect(entries.map((entry) => entry.label).sort()).toEqual(TLS13_LABELS);
        const hash = socket.getCipher().name.endsWith('SHA384') ? 'sha384' : 'sha256';
        const exporter = entries.find((entry) => entry.label === 'EXPORTER_SECRET')!.secret;
        const context = Buffer.from('tlskit');
        const expected = socket.exportKeyingMaterial(32, 'EXPORTER-tlskit-test', context);
        expect(tls13Exporter(hash, exporter, 'EXPORTER-tlskit-test', context, 32)).toEqual(expected);
      } else {
        expect(entries.map((entry) => entry.label)).toEqual(['CLIENT_RANDOM']);
        expect(entries[0]!.secret).toEqual(sessionMasterKey(socket.getSession()!));
      }
      for (const log of logs) log.stop();
      ct.abort();
      st.abort();
    });
  });
});

describe('keyLog', () => {
  it('adds no listener to connections of a context without a key log', async () => {
    const { client, server } = await contexts();
    for (const kind of Object.keys(pairs) as Array<keyof typeof pairs>) {
      const [ct, st] = await handshake(kind, client, server);
      expect(socketOf(ct).listenerCount('keylog')).toBe(0);
      expect(socketOf(st).listenerCount('keylog')).toBe(0);
      ct.abort();
      st.abort();
    }
    const log = keyLog(server, () => {}, reason);
    const [ct, st] = await handshake('native (TCP)', client, server);
    expect(socketOf(ct).listenerCount('keylog')).toBe(0);
    expect(socketOf(st).listenerCount('keylog')).toBe(1);
    log.stop();
    ct.abort();
    st.abort();
  });

  it('misses no line when the ClientHello is already buffered at the upgrade (native path)', async () => {
    const { client, server } = await contexts();
    const clientLog = collector();
    const serverLog = collector();
    const logs = [keyLog(client, clientLog.sink, reason), keyLog(server, serverLog.sink, reason)];
    const [a, b] = await tcpPair();
    // The server's plaintext protocol reads the first bytes of the ClientHello, then upgrades with
    // them: node:tls finds them in the socket's buffer when it starts.
    const serverSide = new Promise<Transport>((resolve, reject) => {
      b.setProtocol({
        dataReceived(data) {
          if (b.protocol !== this) return;
          startTls(b, { context: server, unconsumed: data, pendingPlaintext: 'handshake' }).then(
            resolve,
            reject,
          );
        },
      });
    });
    const [ct, st] = await Promise.all([
      startTls(a, { context: client, serverName: 'localhost' }),
      serverSide,
    ]);
    expect(serverLog.lines).toHaveLength(5);
    expect([...serverLog.lines].sort()).toEqual([...clientLog.lines].sort());
    for (const log of logs) log.stop();
    ct.abort();
    st.abort();
  });

  it('writes a file sink created with mode 0600, and appends to one that exists', async () => {
    const { client, server } = await contexts();
    const created = freshPath();
    const log = keyLog(client, created, reason);
    expect(statSync(created).mode & 0o777).toBe(0o600);
    let [ct, st] = await handshake('native (TCP)', client, server);
    ct.abort();
    st.abort();
    log.stop();
    const first = readFileSync(created, 'latin1');
    expect(parse(first.split(/(?<=\n)/)).map((entry) => entry.label)).toHaveLength(5);

    const existing = freshPath();
    writeFileSync(existing, '# earlier lines\n', { mode: 0o600 });
    const again = keyLog(server, existing, reason);
    [ct, st] = await handshake('bridged (memory pair)', client, server);
    ct.abort();
    st.abort();
    again.stop();
    const text = readFileSync(existing, 'latin1');
    expect(text.startsWith('# earlier lines\n')).toBe(true);
    expect(parse(text.slice('# earlier lines\n'.length).split(/(?<=\n)/))).toHaveLength(5);
  });

  it('refuses a file others can read, since it would hold secrets', async () => {
    const { client } = await contexts();
    const open = freshPath();
    writeFileSync(open, '', { mode: 0o644 });
    expect(() => keyLog(client, open, reason)).toThrow(
      /can be read or written by other users \(mode 0644\).*chmod 600/,
    );
  });

  it('stop() gives later connections no listener, and running ones write no further line', async () => {
    const { client, server } = await contexts();
    const { lines, sink } = collector();
    const log = keyLog(client, sink, reason);
    log.stop();
    log.stop(); // a second stop is a no-op
    let [ct, st] = await handshake('native (TCP)', client, server);
    expect(socketOf(ct).listenerCount('keylog')).toBe(0);
    expect(lines).toEqual([]);
    ct.abort();
    st.abort();

    // Stopped at its first line, a connection's log holds that one line of its five.
    const path = freshPath();
    let stopper: { stop(): void } | null = null;
    stopper = keyLog(
      client,
      (line) => {
        writeFileSync(path, line, { flag: 'a' });
        stopper?.stop();
      },
      reason,
    );
    [ct, st] = await handshake('bridged (memory pair)', client, server);
    expect(readFileSync(path, 'latin1').split('\n').filter(Boolean)).toHaveLength(1);
    ct.abort();
    st.abort();
    // And the context may log again.
    keyLog(client, () => {}, reason).stop();
  });

  it('writes to a stream, and a failing sink stops its log with a warning while connections go on', async () => {
    const { client, server } = await contexts();
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const toStream = keyLog(client, stream, reason);
    let [ct, st] = await handshake('native (TCP)', client, server);
    expect(
      parse(
        Buffer.concat(chunks)
          .toString('latin1')
          .split(/(?<=\n)/),
      ),
    ).toHaveLength(5);
    ct.abort();
    st.abort();
    toStream.stop();

    const before = warnings.length;
    let calls = 0;
    keyLog(
      server,
      () => {
        calls++;
        throw new Error('disk full');
      },
      reason,
    );
    [ct, st] = await handshake('bridged (memory pair)', client, server);
    expect(calls).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    const failed = warnings.slice(before).filter((warning) => warning.code === 'TLSKIT_KEYLOG_FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.message).toMatch(/the key log to a function stopped: disk full/);
    ct.abort();
    st.abort();
    // It stopped, so the context is free again.
    keyLog(server, () => {}, reason).stop();
  });

  it('refuses what it cannot use, naming the argument and the fix', async () => {
    const { client } = await contexts();
    const call = (context: unknown, sink: unknown, options: unknown) => () =>
      keyLog(context as ClientContext, sink as string, options as typeof reason);
    expect(call({}, () => {}, reason)).toThrow(/`context` must come from clientContext\(\)/);
    expect(call(client, 42, reason)).toThrow(
      /`sink` must be a file path \(appended to, created with mode 0600\), a function .* got number/,
    );
    expect(call(client, {}, reason)).toThrow(/`sink` must be .* got object/);
    expect(call(client, '', reason)).toThrow(/`sink` is an empty path/);
    expect(call(client, join(dir, 'missing', 'keys.log'), reason)).toThrow(
      /cannot open the `sink` file .* for appending \(ENOENT.*give a path in a directory you can write to/,
    );
    expect(call(client, () => {}, undefined)).toThrow(/keyLog: `reason` is required: say why TLS secrets/);
    expect(call(client, () => {}, { reason: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(call(client, () => {}, { ...reason, mode: 0o644 })).toThrow(/unknown option `mode`; .*mode 0600/);
    const log = keyLog(client, () => {}, reason);
    expect(call(client, () => {}, reason)).toThrow(
      /already logs its keys; call stop\(\) on that key log first/,
    );
    const never = freshPath();
    expect(call(client, never, reason)).toThrow(/already logs its keys/);
    expect(existsSync(never)).toBe(false); // refused before a file was made
    log.stop();
  });

  it('warns the process once, naming the reason (after the key logs above)', () => {
    const ours = warnings.filter((warning) => warning.code === 'TLSKIT_KEYLOG');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toMatch(
      /TLS secrets of a client context are being logged to a function \(reason: keylog tests\)\. Anyone who reads them can decrypt/,
    );
  });
});
