import { randomBytes } from 'node:crypto';
import {
  CertificateError,
  type ClientContext,
  ContextError,
  clientContext,
  connect,
  createServer,
  type ServerContext,
  serve,
  serverContext,
  startTls,
  type TlsTransport,
} from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

/** Handshakes over a memory pair and returns the subject of the certificate the server chose. */
async function subjectServed(server: ServerContext, client: ClientContext, serverName: string) {
  const [a, b] = memoryPair();
  const [ct, st] = await Promise.all([
    startTls(a, { context: client, serverName }),
    startTls(b, { context: server }),
  ]);
  st.abort();
  return ct.info.tls.peerCertificates[0]?.subject;
}

function contextError(build: () => unknown): ContextError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ContextError);
    return error as ContextError;
  }
  throw new Error('expected a ContextError');
}

describe('clientContext', () => {
  it('has no default trust: building one without it says what to pass', () => {
    const error = contextError(() => clientContext({} as never));
    expect(error).toMatchObject({ code: 'ERR_CONTEXT_TRUST_REQUIRED', field: 'trust' });
    expect(error.message).toMatch(/`trust` is required: pass 'system'.*tlskit\/danger/);
    expect(contextError(() => clientContext({ trust: [] })).code).toBe('ERR_CONTEXT_TRUST_REQUIRED');
  });

  it("accepts 'system' (Node's default store)", () => {
    expect(clientContext({ trust: 'system' }).role).toBe('client');
  });

  it('cannot be talked out of verification', () => {
    const error = contextError(() => clientContext({ trust: 'system', rejectUnauthorized: false } as never));
    expect(error.message).toMatch(/verification cannot be configured away here.*insecureClientContext/);
    expect(
      contextError(() => clientContext({ trust: 'system', checkServerIdentity: () => undefined } as never))
        .field,
    ).toBe('checkServerIdentity');
  });

  it('refuses TLS 1.0/1.1 and unknown options, naming the fix', () => {
    expect(
      contextError(() => clientContext({ trust: 'system', minVersion: 'TLSv1' as never })).message,
    ).toMatch(/`minVersion` 'TLSv1' is not allowed; tlskit speaks TLS 1.2 and 1.3 only. Use 'TLSv1.2'/);
    expect(
      contextError(() => clientContext({ trust: 'system', alpnProtocols: ['h2'] } as never)).message,
    ).toMatch(/unknown option `alpnProtocols`; tlskit calls it `alpn`/);
    expect(contextError(() => clientContext({ trust: 'system', colour: 'red' } as never)).message).toMatch(
      /unknown option `colour`; known options: trust, cert, key/,
    );
  });

  it('refuses a minVersion above maxVersion, on either side', async () => {
    const { server } = await pki();
    const inverted = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' } as const;
    for (const build of [
      () => clientContext({ trust: 'system', ...inverted }),
      () => serverContext({ cert: server.certPem, key: server.keyPem, ...inverted }),
    ]) {
      const error = contextError(build);
      expect(error).toMatchObject({ code: 'ERR_CONTEXT_VERSION', field: 'minVersion' });
      expect(error.message).toMatch(/`minVersion` 'TLSv1.3' is above `maxVersion` 'TLSv1.2'/);
    }
  });

  it('reads PEM carefully: a file path, garbage, a key without its certificate', async () => {
    expect(contextError(() => clientContext({ trust: './certs/ca.pem' })).message).toMatch(
      /`trust` holds no PEM certificate.*it looks like a file path: pass the file contents/,
    );
    for (const spelling of ['System', ' system', 'SYSTEM'])
      expect(contextError(() => clientContext({ trust: spelling }))).toMatchObject({
        field: 'trust',
        message: expect.stringContaining("Node's default CA store is spelt 'system'"),
      });
    const { client } = await pki();
    expect(contextError(() => clientContext({ trust: 'system', key: client.keyPem })).message).toMatch(
      /mutual TLS needs both `cert` and `key`; `cert` is missing/,
    );
    expect(contextError(() => clientContext({ trust: 'system', pins: ['sha256/abc'] })).field).toBe('pins');
  });
});

describe('serverContext', () => {
  it('names the key that does not match its certificate, with the subject', async () => {
    const { server, client } = await pki();
    const error = contextError(() => serverContext({ cert: server.certPem, key: client.keyPem }));
    expect(error).toMatchObject({ code: 'ERR_CONTEXT_KEY_MISMATCH', field: 'key' });
    expect(error.message).toBe(
      'serverContext: `key` does not match `cert` (certificate subject CN=localhost); pass the private key that was issued with this certificate',
    );
  });

  it('requires credentials, and trust for client authentication', async () => {
    expect(contextError(() => serverContext({})).code).toBe('ERR_CONTEXT_CREDENTIALS');
    const { server } = await pki();
    expect(
      contextError(() => serverContext({ cert: server.certPem, key: server.keyPem, clientAuth: 'required' }))
        .message,
    ).toMatch(/`clientAuth: 'required'` needs `trust`/);
    expect(contextError(() => serverContext({ pfx: new Uint8Array(10) } as never)).message).toMatch(
      /needs its `passphrase`/,
    );
  });

  it('warns, without failing, about an expired certificate', async () => {
    const ca = await createCA();
    const old = await ca.issue({
      hosts: ['localhost'],
      validity: { notBefore: new Date(Date.now() - 3 * 86_400_000), days: 1 },
    });
    const warnings: Error[] = [];
    const listener = (warning: Error) => warnings.push(warning);
    process.on('warning', listener);
    serverContext({ cert: old.certPem, key: old.keyPem });
    serverContext({ pfx: old.toPkcs12('secret'), passphrase: 'secret' });
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', listener);
    const expired = warnings.filter((w) => (w as { code?: string }).code === 'TLSKIT_CERT_EXPIRED');
    expect(expired.map((w) => w.message)).toEqual([
      expect.stringMatching(/`cert` expired on .* \(subject CN=localhost\)/),
      expect.stringMatching(/`pfx` expired on .* \(subject CN=localhost\)/),
    ]);
  });

  it('reload() serves a new certificate to new handshakes while open connections carry on', async () => {
    const ca = await createCA();
    const first = await ca.issue({ hosts: ['localhost'], subject: 'first' });
    const second = await ca.issue({ hosts: ['localhost'], subject: 'second' });
    const context = first.serverContext();
    const server = await serve({ host: '127.0.0.1', port: 0, tls: context }, async (c) => {
      for await (const chunk of c) await c.write(chunk);
    });
    const client = clientContext({ trust: ca.trust });
    const open = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: client,
      serverName: 'localhost',
    });
    expect(open.info.tls?.peerCertificates[0]?.subject).toBe('CN=first');
    context.reload({ cert: second.certPem, key: second.keyPem });
    const fresh = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: client,
      serverName: 'localhost',
    });
    expect(fresh.info.tls?.peerCertificates[0]?.subject).toBe('CN=second');
    await open.write('still here\n');
    expect(await open.readLine()).toBe('still here');
    expect(() => context.reload({ cert: first.certPem, key: second.keyPem })).toThrow(
      /`key` does not match `cert`/,
    );
    const again = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: client,
      serverName: 'localhost',
    });
    expect(again.info.tls?.peerCertificates[0]?.subject).toBe('CN=second');
    await Promise.all([open.close(), fresh.close(), again.close()]);
    await server.close();
  });

  it('reload() can replace the sni map alone, and says when it was given nothing', async () => {
    const ca = await createCA();
    const [main, before, after] = await Promise.all(
      ['localhost', 'api.test', 'api.test'].map((host, i) => ca.issue({ hosts: [host], subject: `n${i}` })),
    );
    const context = serverContext({
      cert: main!.certPem,
      key: main!.keyPem,
      sni: { 'api.test': { cert: before!.certPem, key: before!.keyPem } },
    });
    const subjectFor = (serverName: string) =>
      subjectServed(context, clientContext({ trust: ca.trust }), serverName);
    expect(await subjectFor('api.test')).toBe('CN=n1');
    context.reload({ sni: { 'api.test': { cert: after!.certPem, key: after!.keyPem } } });
    expect(await subjectFor('api.test')).toBe('CN=n2');
    expect(await subjectFor('localhost')).toBe('CN=n0');
    expect(contextError(() => context.reload({})).message).toMatch(/nothing to reload/);
  });

  it('shared ticket keys resume sessions across servers; rotation ends that', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['localhost'] });
    const keys = randomBytes(48);
    const one = leaf.serverContext({ ticketKeys: keys });
    const two = leaf.serverContext({ ticketKeys: keys });
    expect(one.ticketKeys.equals(keys)).toBe(true);
    const greet = async (c: { write(data: string): Promise<void> }) => {
      await c.write('hi\n');
    };
    const servers = await Promise.all(
      [one, two].map((tls) => serve({ host: '127.0.0.1', port: 0, tls }, greet)),
    );
    const client = clientContext({ trust: ca.trust, sessionCache: true });
    const visit = async (index: number) => {
      const conn = await connect({
        host: '127.0.0.1',
        port: servers[index]!.address.port,
        tls: client,
        serverName: 'localhost',
      });
      // TLS 1.3 tickets arrive before the server's first data: reading the greeting means we have them.
      expect(await conn.readLine()).toBe('hi');
      const resumed = conn.info.tls?.resumed;
      await conn.close();
      return resumed;
    };
    expect(await visit(0)).toBe(false);
    expect(await visit(1)).toBe(true);
    two.rotateTicketKeys();
    expect(two.ticketKeys.equals(keys)).toBe(false);
    expect(await visit(1)).toBe(false);
    expect(() => leaf.serverContext({ ticketKeys: new Uint8Array(16) })).toThrow(
      /`ticketKeys` must be 48 bytes/,
    );
    await Promise.all(servers.map((server) => server.close()));
  });

  it('SNI: exact names, wildcards, then the resolver, then the default', async () => {
    const ca = await createCA();
    const issue = (host: string) => ca.issue({ hosts: [host], subject: host });
    const [fallback, api, wild, dynamic] = await Promise.all([
      issue('localhost'),
      issue('api.test'),
      issue('*.apps.test'),
      issue('late.test'),
    ]);
    const asked: string[] = [];
    const context = serverContext({
      cert: fallback.certPem,
      key: fallback.keyPem,
      sni: {
        'api.test': { cert: api.certPem, key: api.keyPem },
        '*.apps.test': { cert: wild.certPem, key: wild.keyPem },
      },
      resolveSni: async (name) => {
        asked.push(name);
        return name === 'late.test' ? { cert: dynamic.certPem, key: dynamic.keyPem } : undefined;
      },
    });
    const server = await createServer(() => ({}), { host: '127.0.0.1', port: 0, tls: context });
    const client = clientContext({ trust: ca.trust });
    const subjectFor = async (serverName: string) => {
      const conn = await connect({ host: '127.0.0.1', port: server.address.port, tls: client, serverName });
      const subject = conn.info.tls?.peerCertificates[0]?.subject;
      await conn.close();
      return subject;
    };
    expect(await subjectFor('api.test')).toBe('CN=api.test');
    expect(await subjectFor('one.apps.test')).toBe('CN=*.apps.test');
    expect(await subjectFor('late.test')).toBe('CN=late.test');
    expect(await subjectFor('localhost')).toBe('CN=localhost');
    expect(asked).toEqual(['late.test', 'localhost']);
    await server.close();
  });

  it('SNI: a wildcard covers one label only', async () => {
    const ca = await createCA();
    const [fallback, wild, bare] = await Promise.all([
      ca.issue({ hosts: ['localhost', 'apps.test'], subject: 'fallback' }),
      ca.issue({ hosts: ['*.apps.test', 'apps.test'], subject: 'wildcard' }),
      ca.issue({ hosts: ['*.localhost', 'localhost'], subject: 'bare wildcard' }),
    ]);
    const context = serverContext({
      cert: fallback.certPem,
      key: fallback.keyPem,
      sni: {
        '*.apps.test': { cert: wild.certPem, key: wild.keyPem },
        '*.localhost': { cert: bare.certPem, key: bare.keyPem },
      },
    });
    const subjectFor = (serverName: string) =>
      subjectServed(context, clientContext({ trust: ca.trust }), serverName);
    expect(await subjectFor('one.apps.test')).toBe('CN=wildcard');
    // Neither 'apps.test' nor a name without a dot is covered by a wildcard one label below it.
    expect(await subjectFor('apps.test')).toBe('CN=fallback');
    expect(await subjectFor('localhost')).toBe('CN=fallback');
  });

  it('SNI: a resolver that throws or answers garbage fails that handshake only', async () => {
    const { ca, server } = await pki();
    const context = serverContext({
      cert: server.certPem,
      key: server.keyPem,
      resolveSni: async (name) => {
        if (name === 'down.test') throw new Error('database down');
        if (name === 'garbage.test') return { cert: 'not a certificate', key: 'not a key' };
        return undefined;
      },
    });
    const client = clientContext({ trust: ca.trust });
    for (const [serverName, reason] of [
      ['down.test', /database down/],
      ['garbage.test', /`cert`/],
    ] as const) {
      const [a, b] = memoryPair();
      const [, serverSide] = await Promise.allSettled([
        startTls(a, { context: client, serverName }),
        startTls(b, { context }),
      ]);
      expect(serverSide).toMatchObject({
        status: 'rejected',
        reason: { code: 'ERR_TLS_HANDSHAKE', message: expect.stringMatching(reason) },
      });
      expect((serverSide as PromiseRejectedResult).reason.message).toContain(
        `resolveSni failed for "${serverName}"`,
      );
    }
    // The context still serves names the resolver is not asked about.
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, { context: client, serverName: 'localhost' }),
      startTls(b, { context }),
    ]);
    ct.close();
    st.close();
  });

  it('ALPN: the server picks from what both sides offer', async () => {
    const { ca, server } = await pki();
    const [a, b] = memoryPair();
    const [ct, st] = await Promise.all([
      startTls(a, {
        context: clientContext({ trust: ca.trust, alpn: ['h2', 'http/1.1'] }),
        serverName: 'localhost',
      }),
      startTls(b, { context: server.serverContext({ alpn: ['http/1.1', 'h2'] }) }),
    ]);
    expect(ct.info.tls?.alpnProtocol).toBe(st.info.tls?.alpnProtocol);
    expect(['h2', 'http/1.1']).toContain(ct.info.tls?.alpnProtocol);
    ct.close();
    st.close();
  });
});

describe('client authentication (mutual TLS)', () => {
  async function mtls(clientAuth: 'optional' | 'required', present: 'trusted' | 'untrusted' | 'none') {
    const { ca, server } = await pki();
    const stranger = await (await createCA()).issue({ subject: 'stranger', usage: 'client' });
    const member = await ca.issue({ subject: 'member', usage: 'client' });
    const leaf = present === 'trusted' ? member : present === 'untrusted' ? stranger : null;
    const client = leaf ? leaf.clientContext({ trust: ca.trust }) : clientContext({ trust: ca.trust });
    const [a, b] = memoryPair();
    const serverSide = startTls(b, { context: server.serverContext({ clientAuth, trust: ca.trust }) });
    const clientSide = startTls(a, { context: client, serverName: 'localhost' });
    const [s, c] = await Promise.allSettled([serverSide, clientSide]);
    return { server: s, client: c };
  }

  it("'required' accepts a trusted client certificate and shows it on info.tls", async () => {
    const { server, client } = await mtls('required', 'trusted');
    expect(server.status).toBe('fulfilled');
    const transport = (server as PromiseFulfilledResult<TlsTransport>).value;
    expect(transport.info.tls?.peerCertificates[0]?.subject).toBe('CN=member');
    transport.close();
    (client as PromiseFulfilledResult<TlsTransport>).value.close();
  });

  it("'required' rejects a certificate from an unknown CA on the server side (Node #13368 checked nothing)", async () => {
    const { server } = await mtls('required', 'untrusted');
    expect(server.status).toBe('rejected');
    const reason = (server as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(CertificateError);
    expect(reason).toMatchObject({ code: 'UNKNOWN_ISSUER', subject: 'CN=stranger', depth: 0 });
    expect(reason.message).toMatch(/the client's certificate \(CN=stranger\) was rejected/);
  });

  it("'required' refuses a client without a certificate, which receives the certificate_required alert", async () => {
    const { server, client } = await mtls('required', 'none');
    expect((server as PromiseRejectedResult).reason).toMatchObject({ code: 'NO_CERTIFICATE' });
    // TLS 1.3: the client's handshake completes before the server judges it, so the alert reaches
    // the client as its connection's failure.
    expect(client.status).toBe('fulfilled');
    const recorder = new RecordingProtocol();
    (client as PromiseFulfilledResult<TlsTransport>).value.setProtocol(recorder);
    expect(await recorder.waitForLost()).toMatchObject({
      code: 'ERR_TLS_PROTOCOL',
      alert: 'certificate_required',
    });
  });

  it("'optional' accepts no certificate, but still rejects an untrusted one", async () => {
    const none = await mtls('optional', 'none');
    expect(none.server.status).toBe('fulfilled');
    (none.server as PromiseFulfilledResult<TlsTransport>).value.close();
    (none.client as PromiseFulfilledResult<TlsTransport>).value.close();
    expect((await mtls('optional', 'untrusted')).server.status).toBe('rejected');
  });
});
