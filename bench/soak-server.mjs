// @ts-check
/**
 * The server side of bench/soak.mjs, its own program because node:cluster runs the main script
 * again in every worker. argv[2] is JSON: { pki (file), kind: 'tlskit' | 'raw', workers,
 * proxy (trust loopback's PROXY headers) }. Every connection sends a 4-byte length and that many
 * bytes; the server answers with their SHA-256 in hex and a newline, then closes. The primary
 * prints { port } once listening and closes (draining) when stdin ends.
 *
 * 'raw' is the reference: node:tls with node:cluster written by hand, the same ticket keys in
 * every worker, no limits, no drain.
 */
import cluster from 'node:cluster';
import { createHash, randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { serve, serverContext } from 'tlskit';
import { loadPki } from './common.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const { ecdsa } = loadPki(config.pki);

/** Reads the length-prefixed request from a node:tls socket and answers its digest. */
function rawHandler(/** @type {tls.TLSSocket} */ socket) {
  /** @type {Buffer[]} */
  const chunks = [];
  let have = 0;
  let want = -1;
  const hash = createHash('sha256');
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    have += chunk.length;
    if (want < 0 && have >= 4) want = Buffer.concat(chunks).readUInt32BE(0) + 4;
    if (want >= 0 && have >= want) {
      const all = Buffer.concat(chunks);
      hash.update(all.subarray(4, want));
      socket.end(`${hash.digest('hex')}\n`);
    }
  });
}

if (config.kind === 'raw') {
  if (cluster.isPrimary) {
    const ticketKeys = randomBytes(48).toString('hex');
    let listening = 0;
    for (let i = 0; i < config.workers; i++) {
      const child = cluster.fork({ SOAK_TICKET_KEYS: ticketKeys });
      child.on('listening', (address) => {
        listening++;
        if (listening === config.workers) process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
      });
    }
    process.stdin.resume();
    process.stdin.on('end', () => {
      for (const child of Object.values(cluster.workers ?? {})) child?.kill();
      process.exit(0);
    });
  } else {
    const server = tls.createServer(
      {
        cert: ecdsa.certPem,
        key: ecdsa.keyPem,
        ticketKeys: Buffer.from(process.env.SOAK_TICKET_KEYS ?? '', 'hex'),
      },
      rawHandler,
    );
    server.listen(config.port ?? 0, '127.0.0.1');
  }
} else {
  const server = await serve(
    {
      host: '127.0.0.1',
      port: config.port ?? 0,
      tls: serverContext({ cert: ecdsa.certPem, key: ecdsa.keyPem }),
      workers: config.workers,
      proxyProtocol: config.proxy ? { trusted: ['127.0.0.1'] } : undefined,
      // A fifth of the clients abort on purpose: their handlers' failures are expected.
      onError: () => {},
    },
    async (connection) => {
      const prefix = await connection.readExactly(4);
      const length = new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0);
      const hash = createHash('sha256');
      let left = length;
      while (left > 0) {
        const chunk = await connection.read();
        if (chunk === null) throw new Error('the client left mid-request');
        const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
        hash.update(part);
        left -= part.length;
      }
      await connection.write(`${hash.digest('hex')}\n`);
    },
  );
  if (cluster.isPrimary) {
    process.stdout.write(
      `${JSON.stringify({ port: /** @type {{ port: number }} */ (server.address).port })}\n`,
    );
    process.stdin.resume();
    process.stdin.on('end', async () => {
      const result = await server.close({ timeout: 5_000 });
      process.stderr.write(`soak-server: ${JSON.stringify(result)}\n`);
      process.exit(0);
    });
  }
}
