/**
 * `tlskit connect` beyond openssl s_server: its usage errors, gnutls-serv and a tlskit server
 * (one good case each), bytes carried from a piped stdin to a trusted server and back, nothing
 * carried to an untrusted one, and colours only when asked for.
 */
import { type Server, serve, serverContext } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import { gnutlsServer, killPeers, opensslServer } from '../helpers/peers.js';
import { scratch, tlskit } from './connect-run.js';

const servers: Server[] = [];
afterEach(async () => {
  await killPeers();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A tlskit server with the openssl test certificate that echoes each line back as `heard: …`. */
async function echoServer(host = '127.0.0.1') {
  const certs = opensslCerts();
  const server = await serve(
    {
      host,
      port: 0,
      tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem, alpn: ['h2', 'http/1.1'] }),
      onError: () => {},
    },
    async (connection) => {
      for (let line = await connection.readLine(); line !== null; line = await connection.readLine()) {
        await connection.write(`heard: ${line}\n`);
      }
    },
  );
  servers.push(server);
  return server;
}

describe('tlskit connect: usage errors exit 2 and name the flag and the fix', () => {
  it.each([
    [['localhost:443'], /no trust given: pass --ca FILE .* or --system-ca/],
    [
      ['localhost:443', '--ca', '/nonexistent/x.pem'],
      /--ca '\/nonexistent\/x\.pem': no such file; pass the PEM file of the CA that issued the server's certificate, or --system-ca/,
    ],
    [
      ['localhost', '--system-ca'],
      /HOST:PORT 'localhost' is not host:port or \[v6\]:port; add the port: localhost:443/,
    ],
    [['::1:443', '--system-ca'], /HOST:PORT '::1:443' .*; write an IPv6 address in brackets: \[::1\]:443/],
    [
      ['fe80::1', '--system-ca'],
      /HOST:PORT 'fe80::1' .*; write an IPv6 address in brackets, then the port: \[fe80::1\]:443/,
    ],
    [
      ['localhost:443:1', '--system-ca'],
      /HOST:PORT 'localhost:443:1' .*; write it as host:port, e.g. example.com:443/,
    ],
    [['localhost:0', '--system-ca'], /the port in HOST:PORT 'localhost:0' must be from 1 to 65535/],
    [['localhost:443', '--ca', 'a.pem', '--system-ca'], /give --ca FILE or --system-ca, not both/],
    [['localhost:443', '--system-ca', '--tls1.2', '--tls1.3'], /give --tls1.2 or --tls1.3, not both/],
    [['localhost:443', '--system-ca', '--cert', 'c.pem'], /--cert needs --key FILE/],
    [['localhost:443', '--system-ca', '--json', '--interactive'], /--json and --interactive do not mix/],
    [['localhost:443', '--system-ca', '--timeout', '0'], /--timeout must be a number of seconds above 0/],
    [['localhost:443', '--system-ca', '--alpn', 'h2,'], /--alpn 'h2,' has an empty name/],
    [['localhost:443', '--system-ca', '--frob'], /unknown option --frob/],
  ])('%j', async (args, message) => {
    const result = await tlskit(['connect', ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^tlskit connect: ${message.source}`));
  });

  it('a file that is not PEM names the flag', async () => {
    const file = scratch()('ca.pem', 'not a certificate\n');
    const result = await tlskit(['connect', 'localhost:443', '--ca', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^tlskit connect: --ca '${file}': `));
  });

  it('nothing listening: exit 2, could not connect, with the hint', async () => {
    const { port } = (await echoServer()).address;
    await servers.pop()!.close();
    const result = await tlskit(['connect', `127.0.0.1:${port}`, '--ca', opensslCerts().paths.ca]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /no TLS connection to 127\.0\.0\.1:\d+: .*\n {2}hint: nothing listens on that port/,
    );
  });

  it('--help prints the usage with examples', async () => {
    const result = await tlskit(['connect', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: tlskit connect HOST:PORT \(--ca FILE \| --system-ca\)/);
    expect(result.stdout).toContain('Exit status: 0 trusted, 1 not trusted');
    expect(result.stdout).toContain('tlskit connect example.com:443 --system-ca');
  });
});

describe('tlskit connect: other servers', () => {
  it('gnutls-serv: trusted, with the facts', async () => {
    const server = await gnutlsServer();
    const result = await tlskit([
      'connect',
      `127.0.0.1:${server.port}`,
      '--ca',
      opensslCerts().paths.ca,
      '--servername',
      'localhost',
      '--json',
    ]);
    const report = JSON.parse(result.stdout);
    expect(result.code).toBe(0);
    expect(report.verdict.trusted).toBe(true);
    expect(report.tls).toMatchObject({ protocol: 'TLSv1.3', source: 'verified' });
    expect(report.chain.map((c: { subject: string }) => c.subject)).toEqual(['CN=localhost']);
    expect(report.resumption).toBe('works');
  });

  it('a tlskit server: trusted over IPv4 by address, ALPN agreed, TLS 1.2 when asked', async () => {
    const server = await echoServer();
    const result = await tlskit([
      'connect',
      `127.0.0.1:${server.address.port}`,
      '--ca',
      opensslCerts().paths.ca,
      '--alpn',
      'h2,http/1.1',
      '--tls1.2',
      '--json',
    ]);
    const report = JSON.parse(result.stdout);
    expect(result.code).toBe(0);
    expect(report.target).toEqual({ host: '127.0.0.1', port: server.address.port, serverName: '127.0.0.1' });
    expect(report.tls).toMatchObject({ protocol: 'TLSv1.2', alpn: 'h2', group: 'X25519' });
    expect(Object.keys(report)).toEqual([
      'schema',
      'target',
      'trust',
      'starttls',
      'verdict',
      'tls',
      'resumption',
      'chain',
      'chainOrder',
      'versions',
    ]);
  });

  it('a tlskit server sees every connection of the report finish its handshake: none is cut short', async () => {
    // The verdict, the probe and the resumption check: three handshakes, and a server operator
    // must not find a failed one in the log each time somebody runs `tlskit connect`.
    let settle!: () => void;
    const allSeen = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const failures: string[] = [];
    let handshakes = 0;
    const seen = () => {
      if (++handshakes + failures.length === 3) settle();
    };
    const certs = opensslCerts();
    const server = await serve(
      {
        host: '127.0.0.1',
        port: 0,
        tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
        onHandshakeError: (error) => {
          failures.push(error.message);
          if (handshakes + failures.length === 3) settle();
        },
      },
      async (connection) => {
        seen();
        await connection.read();
      },
    );
    servers.push(server);
    const result = await tlskit(['connect', `127.0.0.1:${server.address.port}`, '--ca', certs.paths.ca]);
    expect(result.code).toBe(0);
    await allSeen;
    expect(failures).toEqual([]);
    expect(handshakes).toBe(3);
  });

  it('[::1]:PORT: a tlskit server on IPv6, checked by address', async () => {
    const server = await echoServer('::1');
    const result = await tlskit(['connect', `[::1]:${server.address.port}`, '--ca', opensslCerts().paths.ca]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^tlskit connect \[::1\]:\d+\n✔ trusted \(verified against --ca .*, name ::1\)/,
    );
  });

  it('an openssl s_server that sends its chain out of order: order wrong, with the problem', async () => {
    const certs = opensslCerts();
    // The CA certificate first, then the leaf again: not the order servers must send.
    const chain = scratch()('chain.pem', certs.caPem + certs.serverCertPem);
    const server = await opensslServer(['-cert_chain', chain]);
    const result = await tlskit(['connect', `127.0.0.1:${server.port}`, '--ca', certs.paths.ca]);
    expect(result.stdout).toMatch(/Chain as sent \(3 certificates, order wrong\)/);
    expect(result.stdout).toContain('is a self-signed root but is not last');
  });
});

describe('tlskit connect: TLS verdicts that are not about certificates', () => {
  it('a server that speaks only TLS 1.0: exit 1, the alert, and a pointer to --versions', async () => {
    const server = await opensslServer(['-tls1', '-cipher', 'ALL:@SECLEVEL=0']);
    const result = await tlskit([
      'connect',
      `127.0.0.1:${server.port}`,
      '--ca',
      opensslCerts().paths.ca,
      '--json',
    ]);
    const report = JSON.parse(result.stdout);
    expect(result.code).toBe(1);
    expect(report.verdict).toMatchObject({ trusted: false, code: 'ERR_TLS_HANDSHAKE', depth: null });
    expect(report.verdict.hint).toMatch(/run with --versions/);
    expect(report.tls).toBeNull();
  });

  // s_server -Verify 1 requires a client certificate. Over TLS 1.3 our handshake is done before
  // the server judges us, so its refusal comes after: the verdict must not read "trusted".
  it.each([
    ['TLS 1.3', [], 'certificate_required', /the server wants a client certificate; pass --cert and --key/],
    [
      'TLS 1.2',
      ['--tls1.2'],
      'handshake_failure',
      /or it requires a client certificate \(pass --cert and --key\)/,
    ],
  ])(
    'a server that requires a client certificate, %s: exit 1, and the hint says so',
    async (_, flags, alert, hint) => {
      const { paths } = opensslCerts();
      const server = await opensslServer(['-Verify', '1', '-CAfile', paths.ca]);
      const result = await tlskit([
        'connect',
        `127.0.0.1:${server.port}`,
        '--ca',
        paths.ca,
        ...flags,
        '--json',
      ]);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout);
      expect(report.verdict).toMatchObject({ trusted: false, alert });
      expect(report.verdict.hint).toMatch(hint);
      // With the client certificate the same server is trusted, and resumption is checked.
      const withCert = await tlskit([
        ...['connect', `127.0.0.1:${server.port}`, '--ca', paths.ca, ...flags],
        ...['--cert', paths.clientCert, '--key', paths.clientKey, '--json'],
      ]);
      expect(withCert.code).toBe(0);
      expect(JSON.parse(withCert.stdout).verdict.trusted).toBe(true);
    },
  );

  it('a plaintext server: exit 1, and the hint says it does not speak TLS there', async () => {
    const server = await serve({ host: '127.0.0.1', port: 0 }, async (connection) => {
      await connection.write('220 plain text greeting\r\n');
      await connection.read();
    });
    servers.push(server);
    const result = await tlskit([
      'connect',
      `127.0.0.1:${server.address.port}`,
      '--ca',
      opensslCerts().paths.ca,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /✘ not trusted: ERR_TLS_HANDSHAKE\n {2}fix: the server answered in plaintext: it does not speak TLS on this port/,
    );
  });
});

describe('tlskit connect: carrying bytes', () => {
  it('piped stdin goes to a trusted tlskit server, its answer to stdout, the report to stderr', async () => {
    const server = await echoServer();
    const result = await tlskit(
      ['connect', `127.0.0.1:${server.address.port}`, '--ca', opensslCerts().paths.ca],
      {
        input: 'one\ntwo\n',
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('heard: one\nheard: two\n');
    expect(result.stderr).toMatch(/^tlskit connect 127\.0\.0\.1:\d+\n✔ trusted/);
  });

  it('piped stdin goes to gnutls-serv --echo and comes back', async () => {
    const server = await gnutlsServer();
    const result = await tlskit(
      ['connect', `127.0.0.1:${server.port}`, '--ca', opensslCerts().paths.ca, '--servername', 'localhost'],
      { input: 'ping through gnutls\n' },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('ping through gnutls\n');
  });

  it('an untrusted server is sent nothing: exit 1, and s_server received no bytes', async () => {
    const server = await opensslServer();
    const wrongCa = scratch()('wrong.pem', (await import('tlskit/pki').then((m) => m.createCA())).certPem);
    const result = await tlskit(['connect', `127.0.0.1:${server.port}`, '--ca', wrongCa, '--interactive'], {
      input: 'SECRET-MUST-NOT-ARRIVE\n',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not carrying data: the server is not trusted');
    expect(result.stdout).toMatch(/✘ not trusted: UNKNOWN_ISSUER/);
    expect(server.output).not.toContain('SECRET-MUST-NOT-ARRIVE');
  });
});

describe('tlskit connect: colours', () => {
  it('off in a pipe, on with FORCE_COLOR, off again with NO_COLOR', async () => {
    const server = await echoServer();
    const args = ['connect', `127.0.0.1:${server.address.port}`, '--ca', opensslCerts().paths.ca];
    const plain = await tlskit(args);
    expect(plain.stdout).not.toContain('\u001b[');
    const forced = await tlskit(args, { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain('\u001b[32m✔ trusted\u001b[39m');
    const both = await tlskit(args, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(both.stdout).not.toContain('\u001b[');
  });
});
