import { clientContext, connect, serve, serverContext, startTls } from 'tlskit';
import { memoryPair } from 'tlskit/testing';
import { expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';

it('the TLS example, as written', async () => {
  const { serverCertPem: certPem, serverKeyPem: keyPem, caPem } = opensslCerts();
  const server = serverContext({ cert: certPem, key: keyPem });
  const client = clientContext({ trust: [caPem] });
  const [a, b] = memoryPair({ chunkSize: 1 });
  const [ct, st] = await Promise.all([
    startTls(a, { context: client, serverName: 'localhost' }),
    startTls(b, { context: server }),
  ]);
  // As the issue writes it: a TLS transport's info.tls is always there.
  expect(ct.info.tls.protocol).toBe('TLSv1.3');
  expect(st.info.tls.role).toBe('server');
  ct.close();
  st.close();
  const srv = await serve({ host: '127.0.0.1', port: 0, tls: server }, async (c) => {
    for await (const x of c) await c.write(x);
  });
  const conn = await connect({
    host: '127.0.0.1',
    port: srv.address.port,
    tls: client,
    serverName: 'localhost',
  });
  await conn.write('over tls\n');
  expect(await conn.readLine()).toBe('over tls');
  expect(conn.info.kind).toBe('tls');
  await conn.close();
  await srv.close();
  expect(() => clientContext({} as never)).toThrow(/`trust` is required/);
});
