/**
 * tlskit as a TLS server (`serve`) for three independent clients on 127.0.0.1: `openssl s_client`,
 * `gnutls-cli` and `curl`. The handler answers lines (`heard: …`) or one HTTP/1.1 request, and
 * records what tlskit negotiated so both sides' views can be compared.
 */
import { type Connection, type ServerContextOptions, serve, serverContext, type TlsInfo } from 'tlskit';
import { describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  curl,
  gnutlsClient,
  gnutlsOnly,
  opensslClient,
  PEER_TIMEOUT,
  serversClosedAfterEach,
  withTimeout,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();

/** What the tlskit side saw of one connection. */
interface Seen {
  tls: TlsInfo;
  /** How the connection ended: `null` for a clean close. */
  closed: Promise<Error | null>;
}

/** Resolves items in arrival order, each wait bounded. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: Array<(item: T) => void> = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(what: string): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return withTimeout(
      new Promise<T>((resolve) => this.#waiters.push(resolve)),
      PEER_TIMEOUT,
      () => `timed out after ${PEER_TIMEOUT} ms waiting for ${what}`,
    );
  }
}

async function answerHttp(connection: Connection, tls: TlsInfo, firstLine: string): Promise<void> {
  await connection.readUntil('\r\n\r\n');
  const client = tls.peerCertificates[0]?.subject ?? 'anonymous';
  const body = `tlskit answered ${firstLine} over ${tls.protocol} for ${client}\n`;
  await connection.write(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** A tlskit server answering lines with `heard: <line>`, or one HTTP request. */
async function tlskitServer(options: Partial<ServerContextOptions> = {}) {
  const seen = new Inbox<Seen>();
  const handshakeErrors = new Inbox<Error>();
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem, ...options }),
      onHandshakeError: (error) => handshakeErrors.push(error),
      // Peers killed by afterEach end their connections abruptly; what the handler saw of that is
      // asserted through `closed` where it matters, so the default report to stderr is not wanted.
      onError: () => {},
    },
    async (connection) => {
      const tls = connection.info.tls!;
      seen.push({ tls, closed: connection.closed });
      const first = await connection.readLine();
      if (first?.startsWith('GET ')) return answerHttp(connection, tls, first.trim());
      for (let line = first; line !== null; line = await connection.readLine()) {
        await connection.write(`heard: ${line}\n`);
      }
    },
  );
  servers.push(server);
  return { port: server.address.port, seen, handshakeErrors };
}

const mtls: Partial<ServerContextOptions> = { clientAuth: 'required', trust: certs.caPem };
const clientCert = certs.paths.clientCert;
const clientKey = certs.paths.clientKey;

describe('tlskit server with openssl s_client', () => {
  for (const [version, flag] of [
    ['TLSv1.3', '-tls1_3'],
    ['TLSv1.2', '-tls1_2'],
  ] as const) {
    it(`serves ${version}: s_client verifies the chain and name, lines go both ways, and the close is clean`, async () => {
      const { port, seen } = await tlskitServer();
      const client = opensslClient(port, [flag]);
      await client.waitFor(/^\s*Verify return code: 0 \(ok\)$/m);
      await client.waitFor(new RegExp(`^New, ${version.replace('.', '\\.')}, Cipher is `, 'm'));
      const { tls, closed } = await seen.next('the connection');
      expect(tls.protocol).toBe(version);
      expect(tls.serverName).toBe('localhost');
      expect(tls.peerCertificates).toEqual([]);

      client.send('hello from s_client\n');
      await client.waitFor(/heard: hello from s_client\n/);
      client.endInput(); // s_client sends close_notify and quits
      expect(await withTimeout(closed, PEER_TIMEOUT, () => 'the connection did not close')).toBeNull();
      expect(await client.waitForExit()).toEqual({ code: 0, signal: null });
    });

    it(`requires and verifies a client certificate over ${version} (clientAuth: 'required')`, async () => {
      const { port, seen } = await tlskitServer(mtls);
      const client = opensslClient(port, [flag, '-cert', clientCert, '-key', clientKey]);
      await client.waitFor(/^\s*Verify return code: 0 \(ok\)$/m);
      const { tls } = await seen.next('the connection');
      expect(tls.protocol).toBe(version);
      expect(tls.peerCertificates[0]?.subject).toBe('CN=test client');
      client.send('authenticated\n');
      await client.waitFor(/heard: authenticated\n/);
    });
  }

  it('refuses a TLS 1.2 s_client without a certificate during the handshake', async () => {
    const { port, handshakeErrors } = await tlskitServer(mtls);
    const client = opensslClient(port, ['-tls1_2']);
    const error = await handshakeErrors.next('the handshake error');
    expect(error).toMatchObject({ code: 'NO_CERTIFICATE' });
    await client.waitFor(/alert handshake failure/);
    expect((await client.waitForExit()).code).not.toBe(0);
  });

  it('refuses a TLS 1.3 s_client without a certificate with the certificate_required alert', async () => {
    const { port, handshakeErrors } = await tlskitServer(mtls);
    const client = opensslClient(port, ['-tls1_3']);
    const error = await handshakeErrors.next('the handshake error');
    expect(error).toMatchObject({ code: 'NO_CERTIFICATE' });
    await client.waitFor(/tlsv13 alert certificate required/);
  });

  it('selects ALPN by its own preference from what s_client offers', async () => {
    const { port, seen } = await tlskitServer({ alpn: ['http/1.1', 'h2'] });
    const client = opensslClient(port, ['-alpn', 'h2,http/1.1']);
    await client.waitFor(/^ALPN protocol: http\/1\.1$/m);
    expect((await seen.next('the connection')).tls.alpnProtocol).toBe('http/1.1');
  });
});

describe('tlskit server with gnutls-cli', () => {
  for (const [version, priority, gnutlsName] of [
    ['TLSv1.3', gnutlsOnly('1.3'), 'TLS1\\.3'],
    ['TLSv1.2', gnutlsOnly('1.2'), 'TLS1\\.2'],
  ] as const) {
    it(`serves ${version} to gnutls-cli, which trusts the chain; lines go both ways; the close is clean`, async () => {
      const { port, seen } = await tlskitServer();
      const client = gnutlsClient(port, [priority]);
      await client.waitFor(/^- Status: The certificate is trusted\./m);
      await client.waitFor(new RegExp(`^- Description: \\(${gnutlsName}-X\\.509\\)`, 'm'));
      await client.waitFor(/^- Simple Client Mode:/m);
      const { tls, closed } = await seen.next('the connection');
      expect(tls.protocol).toBe(version);

      client.send('hello from gnutls\n');
      await client.waitFor(/heard: hello from gnutls\n/);
      client.endInput(); // gnutls-cli sends close_notify
      expect(await withTimeout(closed, PEER_TIMEOUT, () => 'the connection did not close')).toBeNull();
      expect((await client.waitForExit()).code).toBe(0);
    });

    it(`requires and verifies gnutls-cli's client certificate over ${version}`, async () => {
      const { port, seen } = await tlskitServer(mtls);
      const client = gnutlsClient(port, [priority, '--x509certfile', clientCert, '--x509keyfile', clientKey]);
      await client.waitFor(/^- Successfully sent 1 certificate\(s\) to server\./m);
      await client.waitFor(/^- Simple Client Mode:/m);
      expect((await seen.next('the connection')).tls.peerCertificates[0]?.subject).toBe('CN=test client');
      client.send('authenticated\n');
      await client.waitFor(/heard: authenticated\n/);
    });
  }

  it('refuses gnutls-cli without a certificate when one is required', async () => {
    const { port, handshakeErrors } = await tlskitServer(mtls);
    const client = gnutlsClient(port, [gnutlsOnly('1.3')]);
    expect(await handshakeErrors.next('the handshake error')).toMatchObject({ code: 'NO_CERTIFICATE' });
    await client.waitFor(/Received alert \[116\]: Certificate is required/);
  });

  it('negotiates ALPN with gnutls-cli', async () => {
    const { port, seen } = await tlskitServer({ alpn: ['http/1.1'] });
    const client = gnutlsClient(port, ['--alpn=h2', '--alpn=http/1.1']);
    await client.waitFor(/^- Application protocol: http\/1\.1$/m);
    expect((await seen.next('the connection')).tls.alpnProtocol).toBe('http/1.1');
  });
});

describe('tlskit server with curl', () => {
  const url = (port: number) => [
    `--resolve`,
    `localhost:${port}:127.0.0.1`,
    `https://localhost:${port}/hello`,
  ];

  for (const [version, flags] of [
    ['TLSv1.3', ['--tlsv1.3']],
    ['TLSv1.2', ['--tlsv1.2', '--tls-max', '1.2']],
  ] as const) {
    it(`answers an HTTP/1.1 request from curl over ${version}, verified by curl, with ALPN http/1.1`, async () => {
      const { port, seen } = await tlskitServer({ alpn: ['http/1.1'] });
      const [resolve, at, target] = url(port);
      const result = await curl(target!, ['--verbose', ...flags, resolve!, at!]);
      expect(result.stderr).toMatch(new RegExp(`SSL connection using ${version.replace('.', '\\.')} / `));
      expect(result.stderr).toMatch(/ALPN: server accepted http\/1\.1/);
      expect(result.stderr).toMatch(/SSL certificate verify ok/);
      expect(result.exit).toEqual({ code: 0, signal: null });
      expect(result.stdout).toBe(`tlskit answered GET /hello HTTP/1.1 over ${version} for anonymous\n`);
      const { tls, closed } = await seen.next('the connection');
      expect(tls.alpnProtocol).toBe('http/1.1');
      // curl sends close_notify before it closes, so the tlskit side sees a clean end.
      expect(await withTimeout(closed, PEER_TIMEOUT, () => 'the connection did not close')).toBeNull();
    });

    it(`answers curl presenting a client certificate over ${version} (clientAuth: 'required')`, async () => {
      const { port } = await tlskitServer(mtls);
      const [resolve, at, target] = url(port);
      const result = await curl(target!, [...flags, '--cert', clientCert, '--key', clientKey, resolve!, at!]);
      expect(result.exit).toEqual({ code: 0, signal: null });
      expect(result.stdout).toBe(`tlskit answered GET /hello HTTP/1.1 over ${version} for CN=test client\n`);
    });

    it(`refuses curl without a client certificate over ${version}`, async () => {
      const { port, handshakeErrors } = await tlskitServer(mtls);
      const [resolve, at, target] = url(port);
      const result = await curl(target!, [...flags, resolve!, at!]);
      expect(result.exit.code).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/alert (handshake failure|certificate required)/);
      expect(await handshakeErrors.next('the handshake error')).toMatchObject({ code: 'NO_CERTIFICATE' });
    });
  }
});
