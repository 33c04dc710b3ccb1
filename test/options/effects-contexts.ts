/**
 * The contexts. clientContext, and tlskit/danger's insecureClientContext, which takes the same
 * options but for those about verification: the shared ones run through both, by way of a context
 * factory. serverContext and serverContext.reload: what the client sees, or what the server refuses.
 */
import { randomBytes } from 'node:crypto';
import {
  type ClientContext,
  type ClientContextOptions,
  clientContext,
  type ServerContext,
  serverContext,
  spkiPin,
  startTls,
} from 'tlskit';
import { insecureClientContext } from 'tlskit/danger';
import { createCA, type IssuedCertificate } from 'tlskit/pki';
import { memoryPair } from 'tlskit/testing';
import { expect } from 'vitest';
import {
  closeAgainstSilentPeer,
  cutTowards,
  type EffectTable,
  encryptedKey,
  handshake,
  rejectsWith,
  secondResumes,
  secured,
  within,
  world,
} from './support.js';

type Shared = Omit<ClientContextOptions, 'trust' | 'pins' | 'crl' | 'sessionCache'>;
type Make = (options: Shared) => Promise<ClientContext>;

function sharedEffects(make: Make): EffectTable {
  /** A server that asks for, and checks, a client certificate. */
  const demanding = async () => {
    const { server, ca } = await world();
    return server.serverContext({ clientAuth: 'required', trust: ca.trust });
  };
  const subjectSeenByServer = async (context: Promise<ClientContext>) => {
    const [ct, st] = await secured(await context, await demanding());
    const subject = st.info.tls?.peerCertificates[0]?.subject;
    ct.abort();
    return subject;
  };
  return {
    async cert() {
      const { client } = await world();
      expect(await subjectSeenByServer(make({ cert: client.chainPem, key: client.keyPem }))).toMatch(
        /CN=test client/,
      );
    },
    async key() {
      const { client, stranger } = await world();
      await expect(make({ cert: client.chainPem, key: stranger.keyPem })).rejects.toMatchObject({
        code: 'ERR_CONTEXT_KEY_MISMATCH',
      });
    },
    async passphrase() {
      const { client } = await world();
      const key = encryptedKey(client.keyPem, 'open sesame');
      await expect(make({ cert: client.chainPem, key })).rejects.toBeInstanceOf(Error);
      expect(
        await subjectSeenByServer(make({ cert: client.chainPem, key, passphrase: 'open sesame' })),
      ).toMatch(/CN=test client/);
    },
    async alpn() {
      const { server } = await world();
      const offering = await make({ alpn: ['h2', 'http/1.1'] });
      const [ct] = await secured(offering, server.serverContext({ alpn: ['http/1.1'] }));
      expect(ct.info.tls?.alpnProtocol).toBe('http/1.1');
      ct.abort();
    },
    async minVersion() {
      const { server } = await world();
      const oldServer = server.serverContext({ maxVersion: 'TLSv1.2' });
      (await secured(await make({}), oldServer))[0].abort();
      const refused = await handshake(await make({ minVersion: 'TLSv1.3' }), oldServer);
      expect(refused.client.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
    },
    async maxVersion() {
      const { serverContext } = await world();
      const [ct] = await secured(await make({ maxVersion: 'TLSv1.2' }), serverContext);
      expect(ct.info.tls?.protocol).toBe('TLSv1.2');
      ct.abort();
    },
    async allowTruncation() {
      const { serverContext } = await world();
      expect(await cutTowards('client', await make({}), serverContext)).toMatchObject({
        eof: false,
        error: { code: 'ERR_TLS_TRUNCATED' },
      });
      expect(await cutTowards('client', await make({ allowTruncation: true }), serverContext)).toEqual({
        eof: true,
        error: null,
      });
    },
    async handshakeTimeout() {
      const [a, b] = memoryPair();
      b.setProtocol({});
      const attempt = startTls(a, {
        context: await make({ handshakeTimeout: 100 }),
        serverName: 'localhost',
      });
      const error = await within(1_500, rejectsWith(attempt, 'ERR_TIMEOUT'), 'the handshake deadline');
      expect(error).toMatchObject({ timeout: 100 });
    },
    async closeTimeout() {
      const { serverContext } = await world();
      expect(
        await closeAgainstSilentPeer('client', await make({ closeTimeout: 100 }), serverContext),
      ).toBeNull();
    },
  };
}

const trusted = async (options: Partial<ClientContextOptions> = {}) =>
  clientContext({ trust: (await world()).ca.trust, ...options });

export const clientEffects = {
  clientContext: {
    ...sharedEffects(trusted),
    async trust() {
      const { serverContext, other } = await world();
      const refused = await handshake(clientContext({ trust: other.trust }), serverContext);
      expect(refused.client.error).toMatchObject({ code: 'UNKNOWN_ISSUER' });
      (await secured(await trusted(), serverContext))[0].abort();
    },
    async pins() {
      const { serverContext, server, stranger } = await world();
      const wrong = await handshake(await trusted({ pins: [spkiPin(stranger.certificate)] }), serverContext);
      expect(wrong.client.error).toMatchObject({ code: 'PIN_MISMATCH' });
      (await secured(await trusted({ pins: [spkiPin(server.certificate)] }), serverContext))[0].abort();
    },
    async crl() {
      const ca = await createCA();
      const leaf = await ca.issue({ hosts: ['localhost'] });
      ca.revoke(leaf);
      const crl = await ca.crlPem();
      (await secured(clientContext({ trust: ca.trust }), leaf.serverContext()))[0].abort();
      const refused = await handshake(clientContext({ trust: ca.trust, crl }), leaf.serverContext());
      expect(refused.client.error).toMatchObject({ code: 'REVOKED' });
    },
    async sessionCache() {
      const { serverContext } = await world();
      expect(await secondResumes(await trusted(), [serverContext, serverContext])).toBe(false);
      expect(await secondResumes(await trusted({ sessionCache: true }), [serverContext, serverContext])).toBe(
        true,
      );
    },
  } satisfies EffectTable,
  insecureClientContext: {
    ...sharedEffects(async (options) => insecureClientContext({ reason: 'option tests', ...options })),
    async reason() {
      expect(() => insecureClientContext({} as never)).toThrow(
        expect.objectContaining({ code: 'ERR_CONTEXT_REASON_REQUIRED' }),
      );
      // With a reason, a server nobody trusts is accepted.
      const { stranger } = await world();
      const [ct] = await secured(insecureClientContext({ reason: 'option tests' }), stranger.serverContext());
      expect(ct.info.tls?.peerCertificates[0]?.subject).toMatch(/stranger/);
      ct.abort();
    },
  } satisfies EffectTable,
};

/** The subject of the certificate the server presented for `serverName`. */
async function subjectServed(server: ServerContext, serverName = 'localhost', client?: ClientContext) {
  const [ct] = await secured(client ?? (await world()).clientContext, server, serverName);
  ct.abort();
  return ct.info.tls?.peerCertificates[0]?.subject;
}

/** A second leaf of the shared CA, for localhost and the names SNI tests ask for. */
let second: Promise<IssuedCertificate> | undefined;
const secondLeaf = () => {
  second ??= world().then(({ ca }) =>
    ca.issue({ hosts: ['localhost', 'other.test', 'dynamic.test'], subject: 'second leaf' }),
  );
  return second;
};

/** A client with a certificate of the shared CA, and what the server said to it. */
async function clientCertificateOutcome(server: ServerContext) {
  const { ca, client } = await world();
  const result = await handshake(client.clientContext({ trust: ca.trust }), server);
  result.client.transport?.abort();
  result.server.transport?.abort();
  return result.server;
}

const base = async () => {
  const { server } = await world();
  return { cert: server.chainPem, key: server.keyPem };
};

export const serverEffects = {
  serverContext: {
    async cert() {
      const leaf = await secondLeaf();
      expect(await subjectServed(serverContext({ cert: leaf.chainPem, key: leaf.keyPem }))).toMatch(
        /second leaf/,
      );
    },
    async key() {
      const { server, stranger } = await world();
      expect(() => serverContext({ cert: server.chainPem, key: stranger.keyPem })).toThrow(
        expect.objectContaining({ code: 'ERR_CONTEXT_KEY_MISMATCH' }),
      );
    },
    async passphrase() {
      const { server } = await world();
      const key = encryptedKey(server.keyPem, 'open sesame');
      expect(() => serverContext({ cert: server.chainPem, key })).toThrow();
      expect(
        await subjectServed(serverContext({ cert: server.chainPem, key, passphrase: 'open sesame' })),
      ).toMatch(/localhost/);
    },
    async pfx() {
      const leaf = await secondLeaf();
      const pfx = leaf.toPkcs12('bundle password');
      expect(await subjectServed(serverContext({ pfx, passphrase: 'bundle password' }))).toMatch(
        /second leaf/,
      );
    },
    async sni() {
      const leaf = await secondLeaf();
      const server = serverContext({
        ...(await base()),
        sni: { 'other.test': { cert: leaf.chainPem, key: leaf.keyPem } },
      });
      expect(await subjectServed(server, 'other.test')).toMatch(/second leaf/);
      expect(await subjectServed(server, 'localhost')).toMatch(/localhost/);
    },
    async resolveSni() {
      const leaf = await secondLeaf();
      const asked: string[] = [];
      const server = serverContext({
        ...(await base()),
        resolveSni: (name) => {
          asked.push(name);
          return name === 'dynamic.test' ? { cert: leaf.chainPem, key: leaf.keyPem } : undefined;
        },
      });
      expect(await subjectServed(server, 'dynamic.test')).toMatch(/second leaf/);
      expect(asked).toEqual(['dynamic.test']);
    },
    async clientAuth() {
      const { ca, clientContext: anonymous } = await world();
      const server = serverContext({ ...(await base()), clientAuth: 'required', trust: ca.trust });
      const refused = await handshake(anonymous, server);
      expect(refused.server.error).toBeInstanceOf(Error);
      const accepted = await clientCertificateOutcome(server);
      expect(accepted.transport?.info.tls?.peerCertificates[0]?.subject).toMatch(/CN=test client/);
    },
    async trust() {
      const { ca, other } = await world();
      const distrusting = serverContext({ ...(await base()), clientAuth: 'required', trust: other.trust });
      expect((await clientCertificateOutcome(distrusting)).error).toMatchObject({ code: 'UNKNOWN_ISSUER' });
      const trusting = serverContext({ ...(await base()), clientAuth: 'required', trust: ca.trust });
      expect((await clientCertificateOutcome(trusting)).error).toBeUndefined();
    },
    async crl() {
      const ca = await createCA();
      const [leaf, user] = await Promise.all([
        ca.issue({ hosts: ['localhost'] }),
        ca.issue({ subject: 'revoked user', usage: 'client' }),
      ]);
      ca.revoke(user);
      const crl = await ca.crlPem();
      const server = leaf.serverContext({ clientAuth: 'required', trust: ca.trust, crl });
      const result = await handshake(user.clientContext({ trust: ca.trust }), server);
      result.client.transport?.abort();
      expect(result.server.error).toMatchObject({ code: 'REVOKED' });
    },
    async alpn() {
      const { ca } = await world();
      const offering = clientContext({ trust: ca.trust, alpn: ['http/1.1', 'h2'] });
      const [ct, st] = await secured(offering, serverContext({ ...(await base()), alpn: ['h2'] }));
      expect(st.info.tls?.alpnProtocol).toBe('h2');
      ct.abort();
    },
    async ticketKeys() {
      const { ca } = await world();
      const resuming = () => clientContext({ trust: ca.trust, sessionCache: true });
      const keys = randomBytes(48);
      const sharing = async () => serverContext({ ...(await base()), ticketKeys: keys });
      expect(await secondResumes(resuming(), [await sharing(), await sharing()])).toBe(true);
      const separate = async () => serverContext({ ...(await base()) });
      expect(await secondResumes(resuming(), [await separate(), await separate()])).toBe(false);
    },
    async minVersion() {
      const { ca } = await world();
      const oldClient = clientContext({ trust: ca.trust, maxVersion: 'TLSv1.2' });
      const refused = await handshake(oldClient, serverContext({ ...(await base()), minVersion: 'TLSv1.3' }));
      expect(refused.server.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
    },
    async maxVersion() {
      const { clientContext: client } = await world();
      const [ct] = await secured(client, serverContext({ ...(await base()), maxVersion: 'TLSv1.2' }));
      expect(ct.info.tls?.protocol).toBe('TLSv1.2');
      ct.abort();
    },
    async allowTruncation() {
      const { clientContext: client } = await world();
      const strict = serverContext(await base());
      expect(await cutTowards('server', client, strict)).toMatchObject({
        error: { code: 'ERR_TLS_TRUNCATED' },
      });
      const lenient = serverContext({ ...(await base()), allowTruncation: true });
      expect(await cutTowards('server', client, lenient)).toEqual({ eof: true, error: null });
    },
    async handshakeTimeout() {
      const [a, b] = memoryPair();
      a.setProtocol({});
      const server = serverContext({ ...(await base()), handshakeTimeout: 100 });
      const attempt = startTls(b, { context: server });
      const error = await within(1_500, rejectsWith(attempt, 'ERR_TIMEOUT'), 'the handshake deadline');
      expect(error).toMatchObject({ timeout: 100 });
    },
    async closeTimeout() {
      const { clientContext: client } = await world();
      const server = serverContext({ ...(await base()), closeTimeout: 100 });
      expect(await closeAgainstSilentPeer('server', client, server)).toBeNull();
    },
  } satisfies EffectTable,
  'serverContext.reload': {
    async cert() {
      const leaf = await secondLeaf();
      const server = serverContext(await base());
      server.reload({ cert: leaf.chainPem, key: leaf.keyPem });
      expect(await subjectServed(server)).toMatch(/second leaf/);
    },
    async key() {
      const leaf = await secondLeaf();
      const { stranger } = await world();
      const server = serverContext(await base());
      expect(() => server.reload({ cert: leaf.chainPem, key: stranger.keyPem })).toThrow(
        expect.objectContaining({ code: 'ERR_CONTEXT_KEY_MISMATCH' }),
      );
      expect(await subjectServed(server)).toMatch(/localhost/); // the old certificate stays
    },
    async passphrase() {
      const leaf = await secondLeaf();
      const key = encryptedKey(leaf.keyPem, 'open sesame');
      const server = serverContext(await base());
      expect(() => server.reload({ cert: leaf.chainPem, key })).toThrow();
      server.reload({ cert: leaf.chainPem, key, passphrase: 'open sesame' });
      expect(await subjectServed(server)).toMatch(/second leaf/);
    },
    async pfx() {
      const leaf = await secondLeaf();
      const server = serverContext(await base());
      server.reload({ pfx: leaf.toPkcs12('bundle password'), passphrase: 'bundle password' });
      expect(await subjectServed(server)).toMatch(/second leaf/);
    },
    async sni() {
      const leaf = await secondLeaf();
      const server = serverContext(await base());
      server.reload({ sni: { 'other.test': { cert: leaf.chainPem, key: leaf.keyPem } } });
      expect(await subjectServed(server, 'other.test')).toMatch(/second leaf/);
    },
    async trust() {
      const { ca, other } = await world();
      const server = serverContext({ ...(await base()), clientAuth: 'required', trust: other.trust });
      expect((await clientCertificateOutcome(server)).error).toMatchObject({ code: 'UNKNOWN_ISSUER' });
      server.reload({ trust: ca.trust });
      expect((await clientCertificateOutcome(server)).error).toBeUndefined();
      // A context that asks for no client certificates has no CAs to replace.
      const anonymous = serverContext(await base());
      expect(() => anonymous.reload({ trust: ca.trust })).toThrow(
        expect.objectContaining({ code: 'ERR_CONTEXT_OPTION', field: 'trust' }),
      );
      // An unreadable CA list changes nothing.
      expect(() => server.reload({ trust: 'not a PEM' })).toThrow();
      expect((await clientCertificateOutcome(server)).error).toBeUndefined();
    },
  } satisfies EffectTable,
};

export const effects = { ...clientEffects, ...serverEffects };
