// @ts-check
/**
 * Story: serve on every core. The same program runs in the primary and in each worker (node:cluster
 * runs this script again in every worker): `serve` with `workers` forks them in the primary and
 * listens in each worker, all on one port with one set of session-ticket keys, so a client's
 * ticket resumes whichever worker it reaches. SIGTERM drains every worker and the program ends.
 * Here the primary then plays the client, and sends itself the SIGTERM a supervisor would.
 * Run: node examples/workers/main.mjs (TLSKIT_EXAMPLES_WORKERS=N for N workers instead of one per core)
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { clientContext, connect, serve, serverContext } from 'tlskit';
import { devCertificates } from '../dev-certs.mjs';

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  // Every process reads them; the workers then serve whatever the primary's context holds.
  const { ca, certPem, keyPem, source } = await devCertificates();
  const cores = Number(process.env.TLSKIT_EXAMPLES_WORKERS) || availableParallelism();

  // #region readme
  const tls = serverContext({ cert: certPem, key: keyPem });
  const server = await serve(
    { host: '127.0.0.1', port: 0, tls, workers: cores, ticketKeyRotation: 12 * 3600_000 },
    async (connection) => {
      await connection.write(`hello from worker ${process.pid}\n`);
    },
  );
  // Stop accepting, give open connections 10 s to finish, and resolve once every worker exited.
  process.once('SIGTERM', async () => {
    const { drained, aborted, dropped } = await server.close({ timeout: 10_000 });
    log(`closed: drained ${drained}, aborted ${aborted}, dropped ${dropped}`);
  });
  // #endregion readme

  if (!cluster.isPrimary) return;
  log(`certificates: ${source}`);
  log(`${cores} workers on port ${server.address.port}`);
  const client = clientContext({ trust: ca.trust, sessionCache: true });
  for (let i = 0; i < 4; i++) {
    const connection = await connect({ host: '127.0.0.1', port: server.address.port, tls: client });
    log(`${await connection.readLine()}, resumed: ${connection.info.tls?.resumed}`);
    await connection.close();
  }
  process.kill(process.pid, 'SIGTERM');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
