/**
 * Failures a newcomer meets in the first hour, and what tlskit tells them: what happened, the
 * values involved, and the fix that is right for that case (not a fix that would be wrong there).
 */
import { clientContext, connect, createServer, serverContext, startTls } from 'tlskit';
import { createCA } from 'tlskit/pki';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

async function localhostServer() {
  const ca = await createCA();
  const leaf = await ca.issue({ hosts: ['localhost'], usage: 'server' });
  const server = await createServer(() => ({}), { host: '127.0.0.1', port: 0, tls: leaf.serverContext() });
  return { ca, leaf, server };
}

/** Connects by address to a server whose certificate names only localhost; returns the error. */
async function mismatch(serverName?: string): Promise<Error & { code?: string }> {
  const { ca, server } = await localhostServer();
  try {
    const error = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: clientContext({ trust: ca.trust }),
      serverName,
    }).catch((e: unknown) => e);
    return error as Error;
  } finally {
    await server.close();
  }
}

describe('HOSTNAME_MISMATCH says which name was checked, which names the certificate has, and the fix', () => {
  it('connecting by IP address without serverName: names the address and suggests serverName', async () => {
    const error = await mismatch();
    expect(error.code).toBe('HOSTNAME_MISMATCH');
    expect(error.message).toContain('the address 127.0.0.1');
    expect(error.message).toContain('valid only for DNS:localhost');
    expect(error.message).toContain("`serverName: 'localhost'`");
    // Node's own wording, with its empty list, is not passed on.
    expect(error.message).not.toContain("cert's list");
  });

  it('a wrong serverName: names it, lists the certificate names, says what to change', async () => {
    const { message } = await mismatch('api.example');
    expect(message).toMatch(/^HOSTNAME_MISMATCH: /);
    expect(message).toContain('valid only for DNS:localhost, not for api.example');
    expect(message).toContain('issue one that includes api.example');
    expect(message).not.toContain('by address');
  });
});

describe('HOSTNAME_MISMATCH writes the addresses a certificate carries as people do', () => {
  it('an IPv6 address reads ::1, not as OpenSSL prints it', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['::1', '10.0.0.1'], usage: 'server' });
    const server = await createServer(() => ({}), { host: '127.0.0.1', port: 0, tls: leaf.serverContext() });
    try {
      const error = await connect({
        host: '127.0.0.1',
        port: server.address.port,
        tls: clientContext({ trust: ca.trust }),
        serverName: 'api.example',
      }).catch((e: unknown) => e);
      expect((error as Error).message).toContain('valid only for IP:::1, IP:10.0.0.1, not for api.example');
    } finally {
      await server.close();
    }
  });
});

/** TLS over a memory pair whose client-to-server stream is then cut without close_notify. */
async function cutAfterHandshake(alpn?: string[]) {
  const ca = await createCA();
  const leaf = await ca.issue({ hosts: ['localhost'], usage: 'server' });
  const [a, b] = memoryPair();
  const [ct, st] = await Promise.all([
    startTls(a, { context: clientContext({ trust: ca.trust, alpn }), serverName: 'localhost' }),
    startTls(b, { context: serverContext({ cert: leaf.certPem, key: leaf.keyPem, alpn }) }),
  ]);
  const serverSide = new RecordingProtocol();
  st.setProtocol(serverSide);
  ct.setProtocol({});
  a.injectEof();
  const error = (await serverSide.waitForLost()) as Error;
  ct.abort();
  return error;
}

describe('ERR_TLS_TRUNCATED suggests allowTruncation only where the protocol frames its own messages', () => {
  it('without such a protocol: says the peer ended without close_notify, and does not suggest allowTruncation', async () => {
    const error = await cutAfterHandshake();
    expect(error).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(error.message).toContain('ended the connection without close_notify');
    expect(error.message).toMatch(/crashed or aborted|cut/);
    expect(error.message).not.toContain('allowTruncation');
  });

  it('over HTTP (ALPN http/1.1): the same, plus when allowTruncation is safe to set', async () => {
    const error = await cutAfterHandshake(['http/1.1']);
    expect(error).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(error.message).toContain('http/1.1 frames its own messages');
    expect(error.message).toContain('`allowTruncation`');
    // A cut inside a message is the HTTP parser's to catch, except where nothing marks the end.
    expect(error.message).toContain('the HTTP parser still fails a message cut short');
    expect(error.message).toContain('one without Content-Length or chunked encoding');
  });
});

describe('handshake failures read as one clean sentence', () => {
  it("a plaintext HTTP request to a TLS port: OpenSSL's reason and a hint, without its file, line or newline", async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['localhost'], usage: 'server' });
    let reported!: (error: Error) => void;
    const failure = new Promise<Error>((resolve) => {
      reported = resolve;
    });
    const server = await createServer(() => ({}), {
      host: '127.0.0.1',
      port: 0,
      tls: leaf.serverContext(),
      onHandshakeError: (error) => reported(error),
    });
    try {
      const plain = await connect({ host: '127.0.0.1', port: server.address.port });
      await plain.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const error = await failure;
      plain.abort();
      expect(error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
      expect(error.message).toBe(
        'TLS handshake failed: http request (the peer sent a plaintext HTTP request to this TLS port; it should use https://)',
      );
    } finally {
      await server.close();
    }
  });
});
