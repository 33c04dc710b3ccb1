/**
 * tlskit's safe defaults, seen from outside by OpenSSL's command-line tools: no TLS 1.0/1.1, no
 * CBC or static-RSA suites in TLS 1.2, no renegotiation. Every refusal is paired with a control
 * showing the same tool completes that handshake with a permissive `openssl s_server` (or client),
 * so the refusal is tlskit's doing and not a limit of the tool or its system configuration
 * (Debian's OpenSSL refuses TLS 1.0/1.1 at its default security level; the tools here lower it).
 */
import {
  clientContext,
  connect,
  type ServerContextOptions,
  serve,
  serverContext,
  TlsError,
  type TlsInfo,
} from 'tlskit';
import { describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  opensslClient,
  opensslServer,
  PEER_TIMEOUT,
  rsaServerCert,
  serversClosedAfterEach,
  withTimeout,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();

/** Lets s_client offer TLS 1.0/1.1 and SHA-1 based suites despite the system's security level. */
const LEGACY = 'DEFAULT@SECLEVEL=0';

/** A tlskit server (ECDSA certificate unless given another) that answers lines with `heard: …`. */
async function tlskitServer(options: Partial<ServerContextOptions> = {}) {
  const handshakeErrors: Error[] = [];
  const connections: Array<{ tls: TlsInfo; closed: Promise<Error | null> }> = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem, ...options }),
      onHandshakeError: (error) => {
        handshakeErrors.push(error);
        wake();
      },
      onError: () => {},
    },
    async (connection) => {
      connections.push({ tls: connection.info.tls!, closed: connection.closed });
      wake();
      for (let line = await connection.readLine(); line !== null; line = await connection.readLine()) {
        await connection.write(`heard: ${line}\n`);
      }
    },
  );
  servers.push(server);
  const until = (what: string, ready: () => boolean) => {
    let waiter = () => {};
    const arrived = new Promise<void>((resolve) => {
      waiter = () => ready() && resolve();
      waiters.add(waiter);
      waiter();
    });
    return withTimeout(arrived, PEER_TIMEOUT, () => `timed out waiting for ${what}`).finally(() =>
      waiters.delete(waiter),
    );
  };
  return {
    port: server.address.port,
    handshakeError: async () => {
      await until('a handshake error', () => handshakeErrors.length > 0);
      return handshakeErrors[0]!;
    },
    connection: async () => {
      await until('a connection', () => connections.length > 0);
      return connections[0]!;
    },
    connectionClosed: async () => {
      await until('a connection', () => connections.length > 0);
      return withTimeout(connections[0]!.closed, PEER_TIMEOUT, () => 'the connection did not close');
    },
  };
}

const rsa = () => {
  const { certPem, keyPem } = rsaServerCert();
  return { cert: certPem, key: keyPem };
};
const rsaFiles = () => {
  const { cert, key } = rsaServerCert();
  return { cert, key };
};

describe('a tlskit server refuses legacy TLS versions', () => {
  for (const [name, flag, printed] of [
    ['TLS 1.1', '-tls1_1', 'TLSv1\\.1'],
    ['TLS 1.0', '-tls1', 'TLSv1'],
  ] as const) {
    it(`control: s_client ${flag} completes a ${name} handshake with an s_server that allows it`, async () => {
      const server = await opensslServer([flag, '-cipher', LEGACY]);
      const client = opensslClient(server.port, [flag, '-cipher', LEGACY]);
      await client.waitFor(new RegExp(`Protocol\\s*: ${printed}\\n`));
      await server.waitFor(/CIPHER is /);
    });

    it(`refuses s_client ${flag} with a protocol_version alert`, async () => {
      const server = await tlskitServer();
      const client = opensslClient(server.port, [flag, '-cipher', LEGACY]);
      await client.waitFor(/alert protocol version/);
      expect((await client.waitForExit()).code).not.toBe(0);
      expect(await server.handshakeError()).toMatchObject({
        code: 'ERR_TLS_HANDSHAKE',
        opensslCode: 'ERR_SSL_UNSUPPORTED_PROTOCOL',
      });
    });
  }
});

describe('a tlskit server allows only ECDHE with AEAD in TLS 1.2', () => {
  const refused: Array<{ cipher: string; why: string; credentials: 'ecdsa' | 'rsa' }> = [
    { cipher: 'ECDHE-ECDSA-AES128-SHA', why: 'CBC', credentials: 'ecdsa' },
    { cipher: 'ECDHE-RSA-AES128-SHA', why: 'CBC', credentials: 'rsa' },
    { cipher: 'AES128-SHA', why: 'static RSA key exchange and CBC', credentials: 'rsa' },
    { cipher: 'AES128-GCM-SHA256', why: 'static RSA key exchange', credentials: 'rsa' },
  ];
  for (const { cipher, why, credentials } of refused) {
    it(`control: s_client -cipher ${cipher} completes TLS 1.2 with a permissive s_server (${credentials} key)`, async () => {
      const files = credentials === 'rsa' ? rsaFiles() : undefined;
      const server = await opensslServer(['-tls1_2', '-cipher', 'ALL'], files);
      const client = opensslClient(server.port, ['-tls1_2', '-cipher', cipher]);
      // s_client's "New, …" line names the version that introduced the suite; the session says TLSv1.2.
      await client.waitFor(new RegExp(`Cipher is ${cipher}\\n`));
      await client.waitFor(/Protocol\s*: TLSv1\.2\n/);
    });

    it(`refuses ${cipher} (${why}) with a handshake_failure alert (${credentials} key)`, async () => {
      const server = await tlskitServer(credentials === 'rsa' ? rsa() : undefined);
      const client = opensslClient(server.port, ['-tls1_2', '-cipher', cipher]);
      await client.waitFor(/alert handshake failure/);
      expect(await server.handshakeError()).toMatchObject({
        code: 'ERR_TLS_HANDSHAKE',
        opensslCode: 'ERR_SSL_NO_SHARED_CIPHER',
      });
    });
  }

  for (const { cipher, credentials, standard } of [
    {
      cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
      credentials: 'ecdsa',
      standard: 'ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    },
    {
      cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
      credentials: 'rsa',
      standard: 'ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    },
  ] as const) {
    it(`accepts an s_client that offers only ${cipher} (${credentials} key)`, async () => {
      const server = await tlskitServer(credentials === 'rsa' ? rsa() : undefined);
      const client = opensslClient(server.port, ['-tls1_2', '-cipher', cipher]);
      await client.waitFor(new RegExp(`New, TLSv1\\.2, Cipher is ${cipher}\\n`));
      client.send('aead only\n');
      await client.waitFor(/heard: aead only\n/);
      const { tls } = await server.connection();
      expect(tls.protocol).toBe('TLSv1.2');
      expect(tls.cipher).toBe(`TLS_${standard}`);
    });
  }
});

describe('tlskit refuses renegotiation', () => {
  /** s_client over TLS 1.2 asks to renegotiate ("R"); tlskit answers no_renegotiation. */
  async function refusedRenegotiation(options: Partial<ServerContextOptions> = {}) {
    const server = await tlskitServer(options);
    const client = opensslClient(server.port, ['-tls1_2']);
    await client.waitFor(/New, TLSv1\.2, Cipher is /);
    client.send('before\n');
    await client.waitFor(/heard: before\n/);
    const mark = client.mark();
    client.send('R\n');
    await client.waitFor(/^RENEGOTIATING$/m, { since: mark });
    return { server, client, mark };
  }

  it('control: s_client "R" renegotiates with an s_server that allows it (-client_renegotiation)', async () => {
    const server = await opensslServer(['-tls1_2', '-client_renegotiation', '-msg']);
    const client = opensslClient(server.port, ['-tls1_2']);
    await client.waitFor(/New, TLSv1\.2, Cipher is /);
    client.send('before\n');
    await server.waitFor(/before\n/);
    const mark = client.mark();
    const serverMark = server.mark();
    client.send('R\n');
    await client.waitFor(/^RENEGOTIATING$/m, { since: mark });
    // The second handshake: a new ClientHello at the server, the chain verified again by s_client.
    await server.waitFor(/<<< TLS 1\.2, Handshake \[length [0-9a-f]{4}\], ClientHello\n/, {
      since: serverMark,
    });
    await client.waitFor(/depth=0 CN = localhost\s+verify return:1/, { since: mark });
    client.send('after\n');
    await server.waitFor(/after\n/, { since: serverMark });
  });

  it('refuses a renegotiation s_client starts over TLS 1.2: it never completes and the connection ends in an error', async () => {
    const { server, client, mark } = await refusedRenegotiation();
    // s_client, which asked for the renegotiation, gives up on the no_renegotiation alert with a
    // fatal handshake_failure alert and exits; the line it then tries to send never arrives.
    await client.waitFor(/ssl3_read_bytes:no renegotiation/, { since: mark });
    client.send('after\n');
    expect((await client.waitForExit()).code).not.toBe(0);
    expect(client.output.slice(mark)).not.toMatch(/heard: after/);
    expect(client.output.slice(mark)).not.toMatch(/verify return:1/); // no second handshake
    expect(await server.connectionClosed()).toBeInstanceOf(TlsError);
  });

  // Regression: a server TLSSocket made without tls.Server never had Node's control released, so
  // Node kept TLS errors after the handshake to its internal '_tlsError' event; the client's fatal
  // alert went unseen and the TCP end that followed read as a truncation.
  it("reports the client's fatal alert after the refused renegotiation as ERR_TLS_PROTOCOL, not as a truncation", async () => {
    const { server } = await refusedRenegotiation();
    expect(await server.connectionClosed()).toMatchObject({
      code: 'ERR_TLS_PROTOCOL',
      alert: 'handshake_failure',
    });
  });

  // Regression (same cause, worse effect): with allowTruncation the lost alert became a clean close.
  it('never reports the fatal alert as a clean close, even with allowTruncation', async () => {
    const { server } = await refusedRenegotiation({ allowTruncation: true });
    expect(await server.connectionClosed()).not.toBeNull();
  });

  it('refuses a renegotiation s_server requests (HelloRequest) over TLS 1.2', async () => {
    const server = await opensslServer(['-tls1_2']);
    const connection = await connect({
      host: '127.0.0.1',
      port: server.port,
      tls: clientContext({ trust: certs.caPem }),
      serverName: 'localhost',
    });
    await connection.write('before\n');
    await server.waitFor(/before\n/);
    const mark = server.mark();
    server.send('r\n');
    // s_server sends HelloRequest; tlskit answers no_renegotiation and s_server aborts.
    await server.waitFor(/no renegotiation/, { since: mark });
    await expect(connection.read()).rejects.toMatchObject({
      code: 'ERR_TLS_PROTOCOL',
      alert: 'handshake_failure',
    });
  });
});

describe('a tlskit client refuses weak servers', () => {
  it('refuses an s_server that only speaks TLS 1.1, which s_client -tls1_1 can use', async () => {
    const server = await opensslServer(['-tls1_1', '-cipher', LEGACY]);
    const control = opensslClient(server.port, ['-tls1_1', '-cipher', LEGACY]);
    await control.waitFor(/Protocol\s*: TLSv1\.1/);
    await control.kill();

    const failure = connect({
      host: '127.0.0.1',
      port: server.port,
      tls: clientContext({ trust: certs.caPem }),
      serverName: 'localhost',
    });
    await expect(failure).rejects.toMatchObject({ code: 'ERR_TLS_HANDSHAKE', alert: 'protocol_version' });
    await server.waitFor(/unsupported protocol/);
  });

  it('refuses an s_server that only offers CBC suites, which s_client can use', async () => {
    const server = await opensslServer([
      '-tls1_2',
      '-cipher',
      'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA',
    ]);
    const control = opensslClient(server.port, ['-tls1_2']);
    await control.waitFor(/Cipher is ECDHE-ECDSA-AES(128|256)-SHA\n/);
    await control.kill();

    const failure = connect({
      host: '127.0.0.1',
      port: server.port,
      tls: clientContext({ trust: certs.caPem }),
      serverName: 'localhost',
    });
    await expect(failure).rejects.toMatchObject({ code: 'ERR_TLS_HANDSHAKE', alert: 'handshake_failure' });
    await server.waitFor(/no shared cipher/);
  });
});
