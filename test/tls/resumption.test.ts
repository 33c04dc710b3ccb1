import { X509Certificate } from 'node:crypto';
import {
  type ClientContext,
  clientContext,
  createConnection,
  createServer,
  type ServerContext,
  spkiPin,
  startTls,
} from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

/**
 * Session resumption skips certificate verification: the server proves it holds the session's
 * secret instead. So a client may only ever resume sessions of servers it verified, for the same
 * server name, and what it reports about a resumed connection must be what it verified then.
 */

interface Attempt {
  error: (Error & { code?: string }) | null;
  resumed?: boolean;
  subjects?: string[];
}

/** One connection over a memory pair; the server greets, after its TLS 1.3 tickets. */
async function attempt(client: ClientContext, server: ServerContext, serverName: string): Promise<Attempt> {
  const [a, b] = memoryPair();
  const serverSide = startTls(b, {
    context: server,
    protocol: { connectionMade: (transport) => transport.write('hello') },
  }).catch(() => null);
  try {
    const recording = new RecordingProtocol({ keepOpenOnEof: true });
    const transport = await startTls(a, { context: client, serverName, protocol: recording });
    await recording.waitForBytes(5); // the tickets, if any, arrived before this
    const tls = transport.info.tls!;
    transport.close();
    await recording.waitForLost();
    return {
      error: null,
      resumed: tls.resumed,
      subjects: tls.peerCertificates.map((certificate) => certificate.subject),
    };
  } catch (error) {
    (await serverSide)?.abort();
    return { error: error as Error };
  }
}

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('session resumption over %s', (version) => {
  it('never resumes a session of a server that failed the host name check', async () => {
    const ca = await createCA();
    const impostor = (await ca.issue({ hosts: ['attacker.test'] })).serverContext({ maxVersion: version });
    const client = clientContext({ trust: ca.trust, sessionCache: true });
    for (let i = 0; i < 3; i++) {
      const result = await attempt(client, impostor, 'bank.test');
      expect(result.error).toMatchObject({ code: 'HOSTNAME_MISMATCH' });
    }
  });

  it('never resumes a session of a server that failed the pin check', async () => {
    const ca = await createCA();
    const server = (await ca.issue({ hosts: ['bank.test'] })).serverContext({ maxVersion: version });
    const other = await ca.issue({ hosts: ['elsewhere.test'] });
    const client = clientContext({
      trust: ca.trust,
      sessionCache: true,
      pins: [spkiPin(new X509Certificate(other.certPem))],
    });
    for (let i = 0; i < 3; i++) {
      const result = await attempt(client, server, 'bank.test');
      expect(result.error).toMatchObject({ code: 'PIN_MISMATCH' });
    }
  });

  it('resumes a verified server, for the same name only, and reports the chain it verified', async () => {
    const ca = await createCA();
    const intermediate = await ca.intermediate();
    const leaf = await intermediate.issue({ hosts: ['bank.test', 'other.test'] });
    const server = leaf.serverContext({ maxVersion: version });
    const client = clientContext({ trust: ca.trust, sessionCache: true });
    const first = await attempt(client, server, 'bank.test');
    expect(first).toMatchObject({ error: null, resumed: false });
    expect(first.subjects).toHaveLength(3); // leaf, intermediate, and the trusted root
    const second = await attempt(client, server, 'bank.test');
    expect(second).toMatchObject({ error: null, resumed: true, subjects: first.subjects });
    const otherName = await attempt(client, server, 'other.test');
    expect(otherName).toMatchObject({ error: null, resumed: false });
  });

  it('resumes over TCP when node:tls opens the socket itself (createConnection with tls), and not for another name', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['bank.test', 'other.test'] });
    const server = await createServer(() => ({ connectionMade: (transport) => transport.write('hello') }), {
      host: '127.0.0.1',
      port: 0,
      tls: leaf.serverContext({ maxVersion: version }),
    });
    const client = clientContext({ trust: ca.trust, sessionCache: true });
    const once = async (serverName: string) => {
      const recording = new RecordingProtocol({ keepOpenOnEof: true });
      const transport = await createConnection(() => recording, {
        host: '127.0.0.1',
        port: server.address.port,
        tls: client,
        serverName,
      });
      await recording.waitForBytes(5); // the TLS 1.3 tickets arrived before the greeting
      const resumed = transport.info.tls!.resumed;
      transport.close();
      await recording.waitForLost();
      return resumed;
    };
    try {
      expect(await once('bank.test')).toBe(false);
      expect(await once('bank.test')).toBe(true);
      expect(await once('bank.test')).toBe(true);
      expect(await once('other.test')).toBe(false);
    } finally {
      await server.close();
    }
  });
});
