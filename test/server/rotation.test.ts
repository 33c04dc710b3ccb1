/**
 * A rotation reaches every secure context of a server context: the default one and each `sni`
 * entry are rebuilt with the new keys, so a ticket for a name of the `sni` map stops resuming
 * after a rotation exactly as one for the default certificate does.
 */
import { clientContext, type ServerContext, serverContext, startTls } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

/** One connection over a memory pair; whether it resumed. The server greets after its tickets. */
async function resumed(client: ReturnType<typeof clientContext>, server: ServerContext, name: string) {
  const [a, b] = memoryPair();
  void startTls(b, { context: server, protocol: { connectionMade: (t) => t.write('hi') } }).catch(() => {});
  const recording = new RecordingProtocol({ keepOpenOnEof: true });
  const transport = await startTls(a, { context: client, serverName: name, protocol: recording });
  await recording.waitForBytes(2);
  const result = transport.info.tls!.resumed;
  transport.close();
  await recording.waitForLost();
  return result;
}

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('rotateTicketKeys over %s', (version) => {
  it('ends the resumption of earlier tickets for the default certificate and for every sni name', async () => {
    const ca = await createCA();
    const [own, named] = await Promise.all([
      ca.issue({ hosts: ['own.test'] }),
      ca.issue({ hosts: ['named.test'] }),
    ]);
    const server = serverContext({
      cert: own.chainPem,
      key: own.keyPem,
      sni: { 'named.test': { cert: named.chainPem, key: named.keyPem } },
      maxVersion: version,
    });
    for (const name of ['own.test', 'named.test']) {
      const client = clientContext({ trust: ca.trust, sessionCache: true });
      expect(await resumed(client, server, name)).toBe(false);
      expect(await resumed(client, server, name)).toBe(true);
      server.rotateTicketKeys();
      expect(await resumed(client, server, name), `${name}: a ticket from before the rotation`).toBe(false);
      expect(await resumed(client, server, name), `${name}: a ticket from after it`).toBe(true);
    }
  });
});
