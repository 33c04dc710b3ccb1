/**
 * A tlskit TLS server behind real HAProxy (TCP mode, `send-proxy` and `send-proxy-v2`): the
 * client's own address, not HAProxy's, reaches `info.peer`, for curl and for a tlskit client.
 * Skipped, with the reason, where haproxy is not installed.
 */
import { clientContext, connect, type Server, serve, serverContext, type TcpAddress } from 'tlskit';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { haproxyInstalled, startHaproxy } from '../helpers/haproxy.js';
import { opensslCerts } from '../helpers/openssl-certs.js';
import { curl, killPeers } from '../helpers/peers.js';

const NOT_INSTALLED = 'haproxy is not installed (apt-get install haproxy; .ci/run installs it)';
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  killPeers();
});

/**
 * A TLS server that trusts loopback as its proxy and answers an HTTP request with the peer it
 * saw, and HAProxy in front of it.
 */
async function behindHaproxy(context: TestContext, sendProxy: 1 | 2) {
  if (!haproxyInstalled) context.skip(NOT_INSTALLED);
  const certs = opensslCerts();
  const server: Server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
      proxyProtocol: { trusted: ['127.0.0.1'] },
    },
    async (connection) => {
      await connection.readUntil('\r\n\r\n');
      const body = JSON.stringify({ peer: connection.info.peer, proxy: connection.info.proxy?.version });
      await connection.write(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  );
  cleanups.push(() => server.close({ timeout: 500 }));
  const haproxy = await startHaproxy({ backend: server.address as TcpAddress, sendProxy });
  cleanups.push(() => haproxy.stop());
  return { haproxy, certs };
}

describe.sequential('behind HAProxy', () => {
  for (const sendProxy of [1, 2] as const) {
    it(`a tlskit client's own address reaches info.peer (send-proxy${sendProxy === 2 ? '-v2' : ''})`, async (context) => {
      const { haproxy, certs } = await behindHaproxy(context, sendProxy);
      const client = await connect({
        host: '127.0.0.1',
        port: haproxy.port,
        tls: clientContext({ trust: certs.caPem }),
        serverName: 'localhost',
      });
      await client.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await client.readUntil('\r\n\r\n');
      const seen = JSON.parse(new TextDecoder().decode((await client.read())!));
      expect(seen).toEqual({ peer: client.info.local, proxy: sendProxy });
      await client.close();
    });
  }

  it('curl through HAProxy: the server sees curl, not HAProxy', async (context) => {
    const { haproxy } = await behindHaproxy(context, 2);
    // curl's source port is pinned, so the peer the server reports can be checked exactly.
    const result = await curl(`https://localhost:${haproxy.port}/`, [
      '--resolve',
      `localhost:${haproxy.port}:127.0.0.1`,
      '--local-port',
      '42100-42199',
    ]);
    expect(result.exit, result.output).toMatchObject({ code: 0 });
    const seen = JSON.parse(result.stdout);
    expect(seen.proxy).toBe(2);
    expect(seen.peer.host).toBe('127.0.0.1');
    expect(seen.peer.port).toBeGreaterThanOrEqual(42_100);
    expect(seen.peer.port).toBeLessThanOrEqual(42_199);
  });
});
