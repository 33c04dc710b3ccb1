/**
 * The PROXY protocol on tlskit servers: headers from trusted proxies name the client, anyone
 * else's are refused, and a bad header fails its one connection while the server keeps serving.
 */
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import fc from 'fast-check';
import {
  connect,
  encodeProxyHeader,
  type ListenOptions,
  type ProxyHeaderInit,
  type Server,
  serve,
  type TcpAddress,
  type TransportInfo,
} from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { world } from '../options/support.js';

const loopback = { host: '127.0.0.1', port: 0 };
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 100 })));
});

/** A server that answers each connection with its info as JSON, then closes. */
async function infoServer(options: Partial<ListenOptions>, errors: Error[] = []) {
  const server = await serve(
    { ...loopback, ...options, onHandshakeError: (error) => errors.push(error) },
    async (connection) => {
      const { peer, local, proxy, kind } = connection.info;
      await connection.write(`${JSON.stringify({ peer, local, proxy, kind })}\n`);
    },
  );
  servers.push(server);
  return { server, port: (server.address as TcpAddress).port, errors };
}

/** Sends raw bytes, collects everything until the server closes. */
function rawExchange(port: number, ...chunks: Uint8Array[]): Promise<{ data: Buffer; error: Error | null }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let error: Error | null = null;
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', (e) => {
      error = e;
    });
    socket.on('close', () => resolve({ data: Buffer.concat(received), error }));
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      socket.end();
    });
  });
}

const header = (version: 1 | 2, extra: Partial<Parameters<typeof encodeProxyHeader>[0]> = {}) =>
  encodeProxyHeader({
    version,
    source: { host: '203.0.113.7', port: 40_001 },
    destination: { host: '198.51.100.1', port: 443 },
    ...extra,
  });

/** Starts a TLS info server trusting loopback, connects through it with `proxyHeader`, returns the info. */
async function infoBehindProxy(proxyHeader: ProxyHeaderInit): Promise<TransportInfo> {
  const { serverContext, clientContext } = await world();
  const { port } = await infoServer({ tls: serverContext, proxyProtocol: { trusted: ['127.0.0.1'] } });
  const connection = await connect({
    ...loopback,
    port,
    tls: clientContext,
    serverName: 'localhost',
    proxyHeader,
  });
  const info = JSON.parse((await connection.readLine())!) as TransportInfo;
  await connection.close();
  return info;
}

describe('a server with proxyProtocol', () => {
  for (const version of [1, 2] as const) {
    it(`over TLS, takes the client's addresses from a trusted proxy's v${version} header`, async () => {
      const info = await infoBehindProxy({
        version,
        source: { host: '203.0.113.7', port: 40_001 },
        destination: { host: '198.51.100.1', port: 443 },
      });
      expect(info.kind).toBe('tls');
      expect(info.peer).toEqual({ host: '203.0.113.7', port: 40_001 });
      expect(info.local).toEqual({ host: '198.51.100.1', port: 443 });
      expect(info.proxy).toMatchObject({ version, command: 'proxy', via: { host: '127.0.0.1' } });
    });
  }

  it('over plain TCP, reads the header and hands the bytes after it to the handler', async () => {
    const seen: string[] = [];
    const server = await serve(
      { ...loopback, proxyProtocol: { trusted: ['127.0.0.0/8'] } },
      async (connection) => {
        seen.push(JSON.stringify(connection.info.peer), (await connection.readLine())!);
      },
    );
    servers.push(server);
    // Header and payload in one segment, as a proxy usually sends them.
    const hello = Buffer.concat([header(2), Buffer.from('hello\n')]);
    await rawExchange((server.address as TcpAddress).port, hello);
    expect(seen).toEqual([JSON.stringify({ host: '203.0.113.7', port: 40_001 }), 'hello']);
  });

  it('exposes v2 TLVs such as ALPN and authority', async () => {
    const info = await infoBehindProxy({
      version: 2,
      source: { host: '2001:db8::7', port: 5000 },
      destination: { host: '2001:db8::1', port: 443 },
      tlvs: [
        { type: 0x01, value: 'h2' },
        { type: 0x02, value: 'example.com' },
        { type: 0x05, value: 'conn-42' },
      ],
      checksum: true,
    });
    expect(info.peer).toEqual({ host: '2001:db8::7', port: 5000 });
    expect(info.proxy?.tlvs).toMatchObject({ alpn: 'h2', authority: 'example.com' });
  });

  it("takes a LOCAL header (a proxy's health check) and keeps the socket's own addresses", async () => {
    const seen: Array<TransportInfo['peer']> = [];
    const server = await serve({ ...loopback, proxyProtocol: { trusted: ['127.0.0.1'] } }, (connection) => {
      seen.push(connection.info.peer);
      expect(connection.info.proxy?.command).toBe('local');
    });
    servers.push(server);
    await rawExchange(
      (server.address as TcpAddress).port,
      encodeProxyHeader({ version: 2, command: 'local' }),
    );
    expect(seen).toEqual([expect.objectContaining({ host: '127.0.0.1' })]);
  });

  it('refuses a header from a peer not in `trusted`, so no client can forge its address', async () => {
    const { serverContext, clientContext } = await world();
    const { port, errors, server } = await infoServer({
      tls: serverContext,
      proxyProtocol: { trusted: ['10.0.0.0/8'] },
    });
    const attempt = connect({
      ...loopback,
      port,
      tls: clientContext,
      serverName: 'localhost',
      proxyHeader: {
        version: 1,
        source: { host: '1.2.3.4', port: 1 },
        destination: { host: '5.6.7.8', port: 2 },
      },
    });
    await expect(attempt).rejects.toThrow();
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toMatchObject({ code: 'ERR_PROXY_UNTRUSTED' });
    expect(errors[0]!.message).toMatch(/127\.0\.0\.1.*not in `proxyProtocol.trusted`/);
    expect(server.stats.limited.proxyProtocol).toBe(1);
    // An untrusted client without a header is served as usual, with its own address.
    const direct = await connect({ ...loopback, port, tls: clientContext, serverName: 'localhost' });
    expect(JSON.parse((await direct.readLine())!).peer).toMatchObject({ host: '127.0.0.1' });
    await direct.close();
  });

  it('fails a trusted connection without a header, and keeps serving', async () => {
    const { serverContext, clientContext } = await world();
    const { port, errors } = await infoServer({
      tls: serverContext,
      proxyProtocol: { trusted: ['127.0.0.1'] },
    });
    await expect(
      connect({ ...loopback, port, tls: clientContext, serverName: 'localhost' }),
    ).rejects.toThrow();
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toMatchObject({ code: 'ERR_PROXY_MALFORMED' });
  });

  it('fails malformed, oversized, truncated and slow headers one connection at a time', async () => {
    const errors: Error[] = [];
    const { port } = await infoServer(
      { proxyProtocol: { trusted: ['127.0.0.1'], maxSize: 256 }, handshakeTimeout: 200 },
      errors,
    );
    await rawExchange(port, Buffer.from('PROXY TCP4 not-an-address 1.2.3.4 1 2\r\n'));
    const big = header(2, { tlvs: [{ type: 0xe0, value: new Uint8Array(1000) }] });
    await rawExchange(port, big);
    await rawExchange(port, header(2).subarray(0, 20));
    const slow = net.connect(port, '127.0.0.1');
    slow.on('error', () => {});
    slow.write(header(1).subarray(0, 10));
    await new Promise((resolve) => slow.once('close', resolve));
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual([
      'ERR_PROXY_MALFORMED',
      'ERR_PROXY_TOO_LARGE',
      'ERR_PROXY_TRUNCATED',
      'ERR_TIMEOUT',
    ]);
    // ...and the next client is served.
    const { data } = await rawExchange(port, header(1));
    expect(JSON.parse(data.toString()).peer).toEqual({ host: '203.0.113.7', port: 40_001 });
  });

  it('does not count a connection that closes without a byte (a health check) as a refused header', async () => {
    const limits: unknown[] = [];
    const onLimit = (message: unknown) => limits.push(message);
    diagnostics.subscribe('tlskit:limit', onLimit);
    try {
      const { serverContext } = await world();
      const plain = await infoServer({ proxyProtocol: { trusted: ['127.0.0.1'] } });
      const overTls = await infoServer({ tls: serverContext, proxyProtocol: { trusted: ['127.0.0.1'] } });
      for (const { port, server } of [plain, overTls]) {
        await rawExchange(port);
        await expect.poll(() => server.connections).toBe(0);
        expect(server.stats.accepted).toBe(1);
        expect(server.stats.limited.proxyProtocol).toBe(0);
      }
      // Over TLS it is what the same peer is without PROXY headers: a failed handshake.
      expect(plain.server.stats.handshakeFailures).toBe(0);
      expect(plain.errors).toEqual([]);
      expect(overTls.server.stats.handshakeFailures).toBe(1);
      expect(overTls.errors).toMatchObject([{ message: 'the connection ended before sending anything' }]);
      expect(limits).toEqual([]);
    } finally {
      diagnostics.unsubscribe('tlskit:limit', onLimit);
    }
  });

  it('survives random bytes and random splits of real headers', async () => {
    const { port, errors, server } = await infoServer({
      proxyProtocol: { trusted: ['127.0.0.1'] },
      handshakeTimeout: 500,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(header(2)), fc.constant(header(1))),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (bytes, cuts) => {
          const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
          const pieces = [0, ...points, bytes.length]
            .slice(1)
            .map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1]!, end));
          const { data } = await rawExchange(port, ...pieces.filter((piece) => piece.length > 0));
          if (data.length > 0)
            expect(JSON.parse(data.toString()).peer).toEqual({ host: '203.0.113.7', port: 40_001 });
        },
      ),
      { numRuns: 60 },
    );
    // Nothing held: every connection, good or bad, is gone.
    await expect.poll(() => server.connections).toBe(0);
    expect(
      errors.every((error) => /^ERR_PROXY_|^ERR_TIMEOUT/.test((error as { code?: string }).code ?? '')),
    ).toBe(true);
  });

  it('refuses bad proxyProtocol options with errors naming the field', async () => {
    const start = (proxyProtocol: unknown) => serve({ ...loopback, proxyProtocol } as never, () => {});
    await expect(start({})).rejects.toThrow(/`proxyProtocol.trusted` must list the proxies/);
    await expect(start({ trusted: ['10.0.0.0/33'] })).rejects.toThrow(/CIDR blocks.*"10.0.0.0\/33"/);
    await expect(start({ trusted: ['example.com'] })).rejects.toThrow(/IP addresses or CIDR/);
    await expect(start({ trusted: ['::1'], versions: [3] })).rejects.toThrow(/`versions` must list 1, 2/);
    await expect(start({ trusted: ['::1'], trust: [] })).rejects.toThrow(/trust/);
    await expect(start(true)).rejects.toThrow(/must be an object/);
  });
});
