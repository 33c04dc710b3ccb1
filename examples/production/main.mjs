// @ts-check
/**
 * Story: run a TLS server in production. Limits, the PROXY protocol from a trusted balancer,
 * tracing, and a graceful drain on SIGTERM, which this demo sends itself while a client is in the
 * middle of a conversation. Run: node examples/production/main.mjs
 */
import diagnostics from 'node:diagnostics_channel';
import { pathToFileURL } from 'node:url';
import { clientContext, connect, serve, serverContext } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  const { ca, certPem, keyPem } = await devCertificates();
  diagnostics.subscribe('tlskit:handshake:end', (message) => {
    const { role, peer, tls } = /** @type {import('tlskit').HandshakeEndMessage} */ (message);
    if (role === 'server' && peer && 'host' in peer) log(`handshake: ${tls.protocol} from ${peer.host}`);
  });

  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      tls: serverContext({ cert: certPem, key: keyPem }),
      maxConnections: 1000,
      maxConnectionsPerAddress: 20,
      idleTimeout: 30_000,
      // The balancer in front of us (here: this process itself) sends a PROXY header.
      proxyProtocol: { trusted: ['127.0.0.1'] },
    },
    async (connection) => {
      const { peer, proxy } = connection.info;
      const who = peer && 'host' in peer ? `${peer.host}:${peer.port}` : 'unknown';
      try {
        for (;;) {
          // Waiting for the next request ends at once when the server starts closing.
          const line = await connection.readLine({ signal: connection.serverClosing });
          if (line === null) return;
          await connection.write(
            `${line} (to ${who}, via ${proxy?.via && 'host' in proxy.via ? proxy.via.host : '-'})\n`,
          );
        }
      } catch (error) {
        if (!connection.serverClosing.aborted) throw error;
        await connection.write('goodbye: the server is shutting down\n');
      }
    },
  );

  const drained = new Promise((resolve) => {
    process.once('SIGTERM', async () => {
      const { drained, aborted, dropped } = await server.close({ timeout: 5_000 });
      log(`SIGTERM: drained ${drained}, aborted ${aborted}, dropped ${dropped}`);
      resolve(undefined);
    });
  });

  const client = await connect({
    host: '127.0.0.1',
    port: server.address.port,
    tls: clientContext({ trust: ca.trust }),
    serverName: 'localhost',
    proxyHeader: {
      version: 2,
      source: { host: '203.0.113.7', port: 40_001 },
      destination: { host: '198.51.100.1', port: 443 },
    },
  });
  await client.write('hello\n');
  log(`server said: ${await client.readLine()}`);
  process.kill(process.pid, 'SIGTERM');
  log(`server said: ${await client.readLine()}`);
  log(`then: ${(await client.read()) === null ? 'close_notify' : 'more data'}`);
  await client.close();
  await drained;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
