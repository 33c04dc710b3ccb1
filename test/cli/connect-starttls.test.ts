/**
 * `tlskit connect --starttls`: the verdict, the facts and the chain through a server that speaks a
 * protocol's plaintext prelude first (a tlskit server using the command's own offerStartTls, since
 * openssl s_server cannot speak SMTP or IMAP), and a server that does not offer STARTTLS.
 */
import { type Connection, type Server, serve, type TcpAddress } from 'tlskit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offerStartTls, type StartTlsProtocol } from '../../src/cli/starttls.js';
import { type Pki, pki } from '../helpers/pki-fixtures.js';
import { scratch, tlskit } from './connect-run.js';

let fixture: Pki;
let caFile: string;
const servers: Server[] = [];

beforeAll(async () => {
  fixture = await pki();
  caFile = scratch()('ca.pem', fixture.ca.certPem);
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close({ timeout: 500 })));
});

/** A server that offers STARTTLS for `protocol`, then echoes lines over TLS. */
async function startTlsServer(protocol: StartTlsProtocol): Promise<number> {
  // The probe closes as soon as its handshake is done: that connection's handler fails, quietly.
  const quiet = { host: '127.0.0.1', port: 0, onError: () => {} };
  const server = await serve(quiet, async (connection: Connection) => {
    await offerStartTls(protocol, connection, { hostname: 'localhost', timeout: 5000 });
    await connection.startTls({ context: fixture.serverContext });
    for (let line = await connection.readLine(); line !== null; line = await connection.readLine()) {
      await connection.write(`echo ${line}\n`);
    }
  });
  servers.push(server);
  return (server.address as TcpAddress).port;
}

describe('tlskit connect --starttls', () => {
  for (const protocol of ['smtp', 'imap', 'pop3', 'ftp', 'xmpp', 'postgres'] as const) {
    it(`${protocol}: the dialogue, then a trusted verdict with the chain and resumption`, async () => {
      const port = await startTlsServer(protocol);
      const result = await tlskit([
        'connect',
        `127.0.0.1:${port}`,
        '--servername',
        'localhost',
        '--ca',
        caFile,
        '--starttls',
        protocol,
        '--json',
      ]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout);
      expect(report.starttls.protocol).toBe(protocol);
      if (protocol === 'smtp') expect(report.starttls.greeting).toMatch(/^220 localhost/);
      expect(report.verdict.trusted).toBe(true);
      expect(report.chain[0].subjectAltNames).toContain('DNS:localhost');
      expect(report.tls.group).not.toBeNull(); // the probe ran through its own dialogue
      expect(report.resumption).toBe('works');
    });
  }

  it('carries piped lines over the upgraded connection', async () => {
    const port = await startTlsServer('smtp');
    const result = await tlskit(
      ['connect', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', caFile, '--starttls', 'smtp'],
      { input: 'hello\n' },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('echo hello\n');
    expect(result.stderr).toMatch(/STARTTLS \(smtp\): 220 localhost/);
  });

  it("exits 2 quoting the server's reply when it does not offer STARTTLS", async () => {
    const server = await serve(
      { host: '127.0.0.1', port: 0, onError: () => {} },
      async (connection: Connection) => {
        await connection.write('220 plain.example ESMTP\r\n');
        await connection.readLine();
        await connection.write('250 plain.example\r\n'); // no STARTTLS among the extensions
        await connection.readLine();
      },
    );
    servers.push(server);
    const port = (server.address as TcpAddress).port;
    const result = await tlskit(['connect', `127.0.0.1:${port}`, '--ca', caFile, '--starttls', 'smtp']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/STARTTLS/);
    expect(result.stderr).toMatch(/250 plain\.example/);
    expect(result.stderr).toMatch(/hint: the server did not upgrade \(its reply is quoted above\)/);
  });

  it('refuses an unknown protocol and --versions with --starttls, naming the flag', async () => {
    const unknown = await tlskit(['connect', '127.0.0.1:1', '--ca', caFile, '--starttls', 'gopher']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--starttls 'gopher' is not a STARTTLS protocol; use one of smtp, imap/);
    const scan = await tlskit(['connect', '127.0.0.1:1', '--ca', caFile, '--starttls', 'smtp', '--versions']);
    expect(scan.code).toBe(2);
    expect(scan.stderr).toMatch(/--versions does not scan through --starttls/);
  });
});
