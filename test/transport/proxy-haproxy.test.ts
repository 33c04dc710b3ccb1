/**
 * The PROXY header codec against real HAProxy (2.6 on Debian 12): HAProxy in TCP mode relays to a
 * plain `net` backend that reads the header with ProxyHeaderParser. Versions 1 and 2 carry the
 * client's real address and port (the client socket's own) and HAProxy's frontend address; the
 * version 2 TLVs HAProxy sends in TCP mode decode: unique-id and crc32c always, the SSL record
 * (and with TLS terminated at HAProxy its version, cipher, certificate details and the SNI as
 * authority); health checks send LOCAL (version 2) or their own connection's ends (version 1);
 * IPv6 where ::1 exists. Skipped, with the reason, where haproxy is not installed.
 */
import net from 'node:net';
import { type Connection, clientContext, connect, type TcpAddress } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { type ProxyHeader, ProxyHeaderParser } from '../../src/transport/proxy-header.js';
import { type HaproxyOptions, haproxyInstalled, ipv6Loopback, startHaproxy } from '../helpers/haproxy.js';
import { killPeers, withTimeout } from '../helpers/peers.js';
import { pki } from '../helpers/pki-fixtures.js';

const NOT_INSTALLED = 'haproxy is not installed (apt-get install haproxy; .ci/run installs it)';
const hasIpv6 = await ipv6Loopback();

/** The port of a header's address (TCP, as everything here is). */
const portOf = (address: ProxyHeader['source']) => (address && 'port' in address ? address.port : undefined);

/** What the backend read from one connection. */
interface Arrival {
  /**
   * The connection's real peer: HAProxy's end of its connection to us. Unknown (undefined) when
   * the connection was reset before we asked, as HAProxy does to its health checks.
   */
  peer: { host: string | undefined; port: number | undefined };
  header: ProxyHeader;
  /** The header's bytes as they came. */
  raw: Buffer;
  /** What followed the header so far. */
  after: Buffer;
}

/** A plain TCP server that reads a PROXY header at the start of each connection. */
class Backend {
  readonly arrivals: Arrival[] = [];
  readonly errors: Error[] = [];
  readonly #server: net.Server;
  readonly #waiters = new Set<() => void>();

  constructor() {
    this.#server = net.createServer((socket) => this.#read(socket));
  }

  async listen(host: string): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve) => this.#server.listen(0, host, resolve));
    return { host, port: (this.#server.address() as net.AddressInfo).port };
  }

  #read(socket: net.Socket): void {
    const parser = new ProxyHeaderParser();
    const peer = { host: socket.remoteAddress, port: socket.remotePort };
    const seen: Buffer[] = [];
    let arrival: Arrival | null = null;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (arrival) {
        arrival.after = Buffer.concat([arrival.after, chunk]);
        return this.#notify();
      }
      seen.push(chunk);
      try {
        const result = parser.push(chunk);
        if (!result.done) return;
        const all = Buffer.concat(seen);
        const raw = all.subarray(0, all.length - result.rest.length);
        arrival = { peer, header: result.header, raw, after: Buffer.from(result.rest) };
        this.arrivals.push(arrival);
      } catch (error) {
        this.errors.push(error as Error);
        socket.destroy();
      }
      this.#notify();
    });
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** The first arrival that satisfies `test`, waiting at most 10 s for it. */
  waitFor(what: string, test: (arrival: Arrival) => boolean): Promise<Arrival> {
    let check = () => {};
    const found = new Promise<Arrival>((resolve, reject) => {
      check = () => {
        if (this.errors.length > 0) reject(this.errors[0]);
        const match = this.arrivals.find(test);
        if (match) resolve(match);
      };
      this.#waiters.add(check);
      check();
    });
    return withTimeout(
      found,
      10_000,
      () => `the backend saw no ${what}: ${JSON.stringify(this.arrivals)}`,
    ).finally(() => this.#waiters.delete(check));
  }

  close(): void {
    this.#server.close();
  }
}

const backends: Backend[] = [];
afterAll(async () => {
  await killPeers();
  for (const backend of backends) backend.close();
});

/** A backend on `host` and HAProxy in front of it. */
async function setup(host: '127.0.0.1' | '::1', options: Omit<HaproxyOptions, 'backend' | 'host'>) {
  const backend = new Backend();
  backends.push(backend);
  const address = await backend.listen(host);
  const haproxy = await startHaproxy({ ...options, host, backend: address });
  return { backend, haproxy, address };
}

/** A plain client through HAProxy that says `text`; resolves with the header its connection got. */
async function plainClient(host: string, port: number, backend: Backend, text: string) {
  const socket = net.connect({ host, port });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(text);
  const local = { host: socket.localAddress!, port: socket.localPort! };
  const arrival = await backend.waitFor(
    `connection from port ${local.port}`,
    (a) => portOf(a.header.source) === local.port && a.after.length >= text.length,
  );
  socket.destroy();
  return { local, arrival };
}

function skipWithout(context: TestContext): void {
  if (!haproxyInstalled) context.skip(NOT_INSTALLED);
}

describe.each([
  ['127.0.0.1', 'tcp4'],
  ['::1', 'tcp6'],
] as const)('HAProxy over %s', (host, transport) => {
  for (const version of [1, 2] as const) {
    it(`send-proxy${version === 2 ? '-v2' : ''}: the client's real address and port, HAProxy's frontend address`, async (context) => {
      skipWithout(context);
      if (host === '::1' && !hasIpv6) return context.skip('this machine has no IPv6 loopback (::1)');
      const { backend, haproxy } = await setup(host, { sendProxy: version });
      const { local, arrival } = await plainClient(haproxy.host, haproxy.port, backend, 'hello backend');
      expect(arrival.header).toEqual({
        version,
        command: 'proxy',
        transport,
        source: local,
        destination: { host, port: haproxy.port },
        tlvs: { all: [] },
      });
      // What follows the header is the client's, byte for byte.
      expect(arrival.after.toString()).toBe('hello backend');
      await haproxy.stop();
    });
  }
});

describe('HAProxy version 2 TLVs in TCP mode', () => {
  it('unique-id (from unique-id-format), crc32c (which verifies) and ssl (no TLS: no client bits, not verified)', async (context) => {
    skipWithout(context);
    const { backend, haproxy } = await setup('127.0.0.1', {
      sendProxy: 2,
      v2Options: ['unique-id', 'crc32c', 'ssl'],
    });
    const { local, arrival } = await plainClient(haproxy.host, haproxy.port, backend, 'x');
    const { tlvs } = arrival.header;
    expect(Buffer.from(tlvs.uniqueId!).toString()).toBe(`${local.host}:${local.port}`);
    expect(tlvs.all.map((tlv) => tlv.type).sort((x, y) => x - y)).toEqual([0x03, 0x05, 0x20]);
    expect(tlvs.ssl).toEqual({ client: 0, verified: false });
    // The checksum was checked: the same bytes with one address bit flipped are refused.
    const damaged = Buffer.from(arrival.raw);
    damaged[16] = damaged[16]! ^ 0x01;
    expect(() => new ProxyHeaderParser().push(damaged)).toThrow(
      expect.objectContaining({ code: 'ERR_PROXY_CHECKSUM' }),
    );
    await haproxy.stop();
  });

  /** HAProxy terminating TLS (mode tcp): every SSL detail 2.6 can send, and the SNI as authority. */
  async function tlsThroughHaproxy(
    context: TestContext,
    clientAuth: 'none' | 'trusted' | 'untrusted',
  ): Promise<{ connection: Connection; arrival: Arrival }> {
    const { ca, server, client } = await pki();
    const stranger = await (await createCA()).issue({ subject: 'stranger', usage: 'client' });
    const { backend, haproxy } = await setup('127.0.0.1', {
      sendProxy: 2,
      v2Options: ['ssl', 'cert-cn', 'ssl-cipher', 'cert-sig', 'cert-key', 'authority', 'crc32c'],
      tls: {
        certPem: server.chainPem,
        keyPem: server.keyPem,
        ...(clientAuth !== 'none' && { clientCa: ca.certPem, verify: 'optional', ignoreVerifyErrors: true }),
      },
    });
    context.onTestFinished(() => haproxy.stop());
    const identity = clientAuth === 'trusted' ? client : clientAuth === 'untrusted' ? stranger : null;
    const connection = await connect({
      host: haproxy.host,
      port: haproxy.port,
      serverName: 'localhost',
      tls: clientContext({
        trust: ca.trust,
        ...(identity && { cert: identity.chainPem, key: identity.keyPem }),
      }),
    });
    context.onTestFinished(() => connection.abort());
    await connection.write('over TLS');
    const port = (connection.info.local as TcpAddress).port;
    const arrival = await backend.waitFor(
      `TLS connection from port ${port}`,
      (a) => portOf(a.header.source) === port && a.after.length > 0,
    );
    expect(arrival.after.toString()).toBe('over TLS');
    expect(arrival.header.tlvs.authority).toBe('localhost');
    return { connection, arrival };
  }

  it('with TLS at HAProxy: authority (SNI), ssl version and cipher, the certificate algorithms', async (context) => {
    skipWithout(context);
    const { connection, arrival } = await tlsThroughHaproxy(context, 'none');
    const tls = connection.info.tls!;
    expect(arrival.header.tlvs.ssl).toEqual({
      client: 0x01, // PP2_CLIENT_SSL only: no certificate, so not verified
      verified: false,
      version: tls.protocol,
      cipher: tls.cipher,
      signatureAlgorithm: 'ecdsa-with-SHA256',
      keyAlgorithm: 'EC256',
    });
  });

  it('with TLS at HAProxy and a verified client certificate: its common name, verified', async (context) => {
    skipWithout(context);
    const { arrival } = await tlsThroughHaproxy(context, 'trusted');
    expect(arrival.header.tlvs.ssl).toMatchObject({
      client: 0x07,
      verified: true,
      commonName: 'test client',
    });
  });

  it('with TLS at HAProxy and a client certificate that failed (let through): not verified', async (context) => {
    skipWithout(context);
    const { arrival } = await tlsThroughHaproxy(context, 'untrusted');
    expect(arrival.header.tlvs.ssl).toMatchObject({ client: 0x07, verified: false, commonName: 'stranger' });
  });
});

describe('HAProxy health checks', () => {
  it('send-proxy-v2 with check-send-proxy: a LOCAL header, its block discarded', async (context) => {
    skipWithout(context);
    const { backend, haproxy } = await setup('127.0.0.1', {
      sendProxy: 2,
      v2Options: ['crc32c'],
      healthChecks: { interval: 100 },
    });
    const check = await backend.waitFor('LOCAL health check', (a) => a.header.command === 'local');
    expect(check.header).toEqual({
      version: 2,
      command: 'local',
      transport: 'unknown',
      source: null,
      destination: null,
      tlvs: { all: [] },
    });
    expect(check.raw[12]).toBe(0x20); // version 2, LOCAL
    // HAProxy puts its TLVs (the crc32c asked for) into a LOCAL header too; they go with the block.
    expect(check.raw.readUInt16BE(14)).toBe(7);
    await haproxy.stop();
  });

  it("send-proxy (version 1 has no LOCAL): the check's own connection, as the backend sees it", async (context) => {
    skipWithout(context);
    const { backend, haproxy, address } = await setup('127.0.0.1', {
      sendProxy: 1,
      healthChecks: { interval: 100 },
    });
    // A check is HAProxy's own connection to the backend, and its header names exactly those ends:
    // the destination is the backend itself, where a relayed connection's is HAProxy's frontend.
    const check = await backend.waitFor('health check', (a) => portOf(a.header.destination) === address.port);
    expect(check.header).toEqual({
      version: 1,
      command: 'proxy',
      transport: 'tcp4',
      source: { host: '127.0.0.1', port: expect.any(Number) },
      destination: address,
      tlvs: { all: [] },
    });
    // HAProxy resets a check at once, so the backend may not learn the peer; when it does, it is
    // the header's source.
    if (check.peer.port !== undefined) expect(check.header.source).toEqual(check.peer);
    await haproxy.stop();
  });
});
