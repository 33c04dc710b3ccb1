/**
 * `serve` when a handler fails: the connection is aborted and the error reported, by default on
 * stderr with the peer's address; one line for what the peer did, the stack for a bug.
 */
import { connect, type Server, serve, type TcpAddress } from 'tlskit';
import { afterEach, describe, expect, it, vi } from 'vitest';

const loopback = { host: '127.0.0.1', port: 0 };
const portOf = (server: Server) => (server.address as TcpAddress).port;

/** console.error's calls, resolved once the first arrives. */
function captureConsoleError(): Promise<unknown[]> {
  return new Promise((resolve) => {
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => resolve(args));
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('serve: the default report of a failed handler', () => {
  it('a peer reset is one line naming the peer, although its socket is gone by then', async () => {
    const reported = captureConsoleError();
    const server = await serve(loopback, async (connection) => {
      await connection.write('ready\n');
      await connection.read(); // the client resets instead of sending
      await connection.read();
    });
    const client = await connect({ ...loopback, port: portOf(server) });
    expect(await client.readLine()).toBe('ready');
    const { port } = client.info.local as TcpAddress;
    client.abort();
    const args = await reported;
    expect(args).toHaveLength(1);
    expect(args[0]).toMatch(
      new RegExp(`^tlskit serve: the handler for 127\\.0\\.0\\.1:${port} failed: ECONNRESET: `),
    );
    await server.close();
  });

  it('any other error (a bug in the handler, likely) is printed with its stack', async () => {
    const reported = captureConsoleError();
    const server = await serve(loopback, async (connection) => {
      await connection.readLine();
      throw new TypeError('handler bug');
    });
    const client = await connect({ ...loopback, port: portOf(server) });
    const { port } = client.info.local as TcpAddress;
    await client.write('go\n');
    const args = await reported;
    expect(args[0]).toBe(`tlskit serve: the handler for 127.0.0.1:${port} failed:`);
    expect(args[1]).toBeInstanceOf(TypeError);
    client.abort();
    await server.close();
  });
});
