import { type ClientContext, clientContext, type ServerContext, serverContext } from 'tlskit';
import { type CA, createCA, type IssuedCertificate } from 'tlskit/pki';
import { once } from './once.js';

export interface Pki {
  ca: CA;
  server: IssuedCertificate;
  client: IssuedCertificate;
  serverContext: ServerContext;
  clientContext: ClientContext;
}

/** A CA with a localhost server leaf and a client leaf, minted once per test file. */
export const pki = once(async (): Promise<Pki> => {
  const ca = await createCA();
  const server = await ca.issue({ hosts: ['localhost', '127.0.0.1', '::1'], usage: 'server' });
  const client = await ca.issue({ subject: 'test client', usage: 'client' });
  return {
    ca,
    server,
    client,
    serverContext: server.serverContext(),
    clientContext: clientContext({ trust: ca.trust }),
  };
});

export { clientContext, serverContext };
