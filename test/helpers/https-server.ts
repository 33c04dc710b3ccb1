import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** A running loopback HTTPS server. */
export interface TestHttpsServer {
  port: number;
  /** TLS connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A `node:https` server on 127.0.0.1 for the HTTP client tests. It runs at OpenSSL security level 0,
 * like `serveFixture`, so it can present the weak chains a client must refuse. Every request gets
 * `200` and a JSON body echoing the method, the path and the request body.
 */
export async function httpsServer(credentials: {
  chainPem: string;
  keyPem: string;
}): Promise<TestHttpsServer> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = https.createServer(
    { cert: credentials.chainPem, key: credentials.keyPem, ciphers: 'DEFAULT:@SECLEVEL=0' },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = JSON.stringify({
          method: request.method,
          url: request.url,
          body: Buffer.concat(chunks).toString(),
        });
        response.writeHead(200, {
          'content-type': 'application/json',
          'x-big': request.headers['x-want-big'] ? 'x'.repeat(4096) : '',
        });
        response.end(body);
      });
    },
  );
  server.on('secureConnection', () => {
    connections += 1;
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
