/**
 * Ways around verification that must stay closed: a pin met by a certificate that signs nothing,
 * a session resumed into a server that requires a client certificate, and a session verified
 * against a CA that a reload removed. Each was open once (2026-12-04 review).
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import { type ClientContext, clientContext, connect, type ServerContext, spkiPin, startTls } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A certificate named after `nameOf`'s subject, carrying `keyOf`'s public key, signed by a stray key. */
async function forgedWithKey(nameOf: string, keyOf: string): Promise<string> {
  const name = new x509.X509Certificate(nameOf).subjectName;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const stray = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const forged = await x509.X509CertificateGenerator.create({
    serialNumber: '0badc0de',
    subject: name,
    issuer: name,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: await new x509.X509Certificate(keyOf).publicKey.export(),
    signingKey: stray.privateKey,
    signingAlgorithm: algorithm,
  });
  return `${forged.toString('pem')}\n`;
}

describe('pins', () => {
  it('are checked on the path the signatures make, not on what the server appended to its chain', async () => {
    const pinned = await createCA(); // the CA the client pins
    const other = await createCA(); // another CA the client also trusts
    const leaf = await other.issue({ hosts: ['bank.test'] });
    const forged = await forgedWithKey(other.certPem, pinned.certPem);
    const server = tls.createServer({ cert: leaf.certPem + forged, key: leaf.keyPem }, (socket) =>
      socket.end('hello\n'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const context = clientContext({
        trust: [pinned.certPem, other.certPem],
        pins: [`sha256/${spkiPin(pinned.certificate)}`],
      });
      const port = (server.address() as { port: number }).port;
      await expect(
        connect({ host: '127.0.0.1', port, tls: context, serverName: 'bank.test' }),
      ).rejects.toMatchObject({
        code: 'PIN_MISMATCH',
      });
    } finally {
      server.close();
    }
  });
});

/** One connection over a memory pair: what the server decided about the client. */
async function attempt(client: ClientContext, server: ServerContext) {
  const [a, b] = memoryPair();
  const decided = startTls(b, {
    context: server,
    protocol: { connectionMade: (t) => t.write('hello') },
  }).then(
    (transport) => ({ accepted: true, resumed: transport.info.tls!.resumed }),
    (error: { code?: string }) => ({ accepted: false, code: error.code }),
  );
  const recording = new RecordingProtocol({ keepOpenOnEof: true });
  const opened = await startTls(a, { context: client, serverName: 'bank.test', protocol: recording }).catch(
    () => null,
  );
  const outcome = await decided;
  if (opened) {
    if (outcome.accepted) await recording.waitForBytes(5);
    opened.abort();
  }
  b.abort();
  return outcome;
}

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('client certificates over %s', (version) => {
  it('a session from a context that asked for none does not resume where one is required', async () => {
    const ticketKeys = randomBytes(48); // shared, as for several processes
    const serverCA = await createCA();
    const leaf = await serverCA.issue({ hosts: ['bank.test'] });
    const open = leaf.serverContext({ maxVersion: version, ticketKeys });
    const guarded = leaf.serverContext({
      maxVersion: version,
      ticketKeys,
      clientAuth: 'required',
      trust: (await createCA()).certPem,
    });
    const client = clientContext({ trust: serverCA.trust, sessionCache: true }); // no certificate
    expect(await attempt(client, open)).toMatchObject({ accepted: true });
    expect(await attempt(client, guarded)).toMatchObject({ accepted: false, code: 'NO_CERTIFICATE' });
  });

  it('after reload({ trust }) drops a CA, its client certificates no longer get in by resuming', async () => {
    const serverCA = await createCA();
    const oldClientCA = await createCA();
    const server = (await serverCA.issue({ hosts: ['bank.test'] })).serverContext({
      maxVersion: version,
      clientAuth: 'required',
      trust: oldClientCA.certPem,
    });
    const certificate = await oldClientCA.issue({ hosts: ['client.test'], usage: 'client' });
    const client = certificate.clientContext({ trust: serverCA.trust, sessionCache: true });
    expect(await attempt(client, server)).toMatchObject({ accepted: true, resumed: false });
    expect(await attempt(client, server)).toMatchObject({ accepted: true, resumed: true });
    server.reload({ trust: (await createCA()).certPem });
    expect(await attempt(client, server)).toMatchObject({ accepted: false, code: 'UNKNOWN_ISSUER' });
  });
});
