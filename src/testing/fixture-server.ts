import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

/** What a fixture server needs: a chain and its key (a `ChainFixture` from tlskit/pki fits). */
export interface FixtureCredentials {
  chainPem: string;
  keyPem: string;
}

/** A running fixture server. */
export interface FixtureServer {
  host: string;
  port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/**
 * Serves a certificate chain, good or deliberately broken, on loopback so a client can be tested
 * against it. It is a plain `node:tls` server at OpenSSL security level 0, because tlskit's own
 * contexts refuse to present weak chains; it greets every client with `hello\n` and then closes.
 * For tests only.
 *
 * The server runs on this process's event loop, so a client run with `spawnSync` (or any other
 * blocking call) from the same process deadlocks: the server cannot answer while the loop is
 * blocked. Run clients asynchronously (`child_process.spawn`), or let `gradeClient` over
 * `startLab()` do it: it serves every case at once and runs a client command per case.
 */
export async function serveFixture(fixture: FixtureCredentials, host = '127.0.0.1'): Promise<FixtureServer> {
  const server = tls.createServer(
    { cert: fixture.chainPem, key: fixture.keyPem, ciphers: 'DEFAULT:@SECLEVEL=0', minVersion: 'TLSv1.2' },
    (socket) => {
      socket.on('error', () => {});
      socket.end('hello\n');
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
