// @ts-check
/**
 * Echo, written twice over the same transports: once as a callback Protocol, once as an async
 * handler. Run: node examples/echo/main.mjs
 */
import { pathToFileURL } from 'node:url';
import { connect, createServer, serve } from 'tlskit';

/**
 * A callback protocol: whatever arrives goes straight back.
 * @returns {import('tlskit').Protocol}
 */
export function echoProtocol() {
  /** @type {import('tlskit').Transport} */
  let transport;
  return {
    connectionMade(t) {
      transport = t;
    },
    dataReceived(data) {
      transport.write(data);
    },
  };
}

/**
 * The same, as an async handler: each chunk is written back before the next is read.
 * @param {import('tlskit').Connection} connection
 */
export async function echoHandler(connection) {
  for await (const chunk of connection) await connection.write(chunk);
}

/** Starts both servers, sends each a line, prints the answers, and shuts down. */
export async function main(log = console.log) {
  const servers = {
    'callback protocol': await createServer(echoProtocol, { host: '127.0.0.1', port: 0 }),
    'async handler': await serve({ host: '127.0.0.1', port: 0 }, echoHandler),
  };
  for (const [name, server] of Object.entries(servers)) {
    const { port } = server.address;
    const conn = await connect({ host: '127.0.0.1', port });
    await conn.write(`hello from the ${name} on port ${port}\n`);
    log(`${name} answered: ${await conn.readLine()}`);
    await conn.close();
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
