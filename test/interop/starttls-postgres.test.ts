/**
 * requestStartTls's client side against a real server: PostgreSQL (Debian `postgresql`, optional:
 * skipped where initdb/postgres are missing). A throwaway cluster on loopback with ssl=on must
 * answer our SSLRequest with 'S', complete the handshake verified against the test CA, and accept a
 * StartupMessage over TLS (trust authentication: AuthenticationOk). With ssl=off it answers 'N',
 * which must surface as a refusal naming it.
 *
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and the
 * server is exec'd under it by setpriv (one process: signals reach the postmaster itself).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requestStartTls, StartTlsRefusedError } from '../../src/cli/starttls.js';
import { type Connection, clientContext, connect } from '../../src/index.js';
import { hasCommand } from '../helpers/commands.js';
import { opensslCerts } from '../helpers/openssl-certs.js';
import { freePort, killPeers, Peer } from '../helpers/peers.js';

const installed = hasCommand('initdb') && hasCommand('postgres') && hasCommand('setpriv');
const asRoot = userInfo().uid === 0;
const certs = opensslCerts();
const started: Peer[] = [];
/** The command prefix that runs a PostgreSQL tool as the user owning the cluster. */
const AS_OWNER = asRoot ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups'] : [];

afterEach(async () => {
  // SIGINT is PostgreSQL's fast shutdown: it stops its own children before it exits.
  await Promise.all(started.splice(0).map((peer) => peer.kill('SIGINT')));
  await killPeers();
});

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
  return { uid, gid };
}

/** A fresh cluster, owned by the user PostgreSQL will run as, with the test server certificate. */
function cluster(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-pg-'));
  const owner = asRoot ? postgresUser() : null;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const [command = 'initdb', ...args] = [
    ...AS_OWNER,
    'initdb',
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'tlskit',
    '--no-sync',
  ];
  execFileSync(command, args, { stdio: 'pipe' });
  for (const [name, pem] of [
    ['server.crt', certs.serverCertPem],
    ['server.key', certs.serverKeyPem],
  ] as const) {
    writeFileSync(join(data, name), pem);
    chmodSync(join(data, name), 0o600);
    if (owner) chownSync(join(data, name), owner.uid, owner.gid);
  }
  return dir;
}

async function startPostgres(ssl: 'on' | 'off'): Promise<number> {
  const dir = cluster();
  const port = await freePort();
  const [command = 'postgres', ...args] = [
    ...AS_OWNER,
    'postgres',
    '-D',
    join(dir, 'data'),
    '-k',
    dir,
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-c',
    `ssl=${ssl}`,
    '-c',
    'fsync=off',
  ];
  const peer = new Peer('postgres', command, args);
  started.push(peer);
  await peer.waitFor(/database system is ready to accept connections/, { timeout: 20_000 });
  return port;
}

/** A protocol 3.0 StartupMessage for user tlskit, database postgres. */
function startupMessage(): Uint8Array {
  const body = Buffer.from('\0\x03\0\0user\0tlskit\0database\0postgres\0\0', 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(4 + body.length);
  return Buffer.concat([length, body]);
}

describe.skipIf(!installed)('requestStartTls against PostgreSQL', () => {
  it("ssl=on: 'S', a handshake verified against the test CA, then the server authenticates us over TLS", async () => {
    const port = await startPostgres('on');
    const connection: Connection = await connect({ host: '127.0.0.1', port });
    const { greeting } = await requestStartTls('postgres', connection, {
      hostname: 'localhost',
      timeout: 5000,
    });
    expect(greeting.length).toBe(0);
    await connection.startTls({ context: clientContext({ trust: certs.caPem }), serverName: 'localhost' });
    expect(connection.info.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    await connection.write(startupMessage());
    const header = Buffer.from(await connection.readExactly(9, { timeout: 5000 }));
    // 'R', length 8, code 0: AuthenticationOk.
    expect([header.toString('latin1', 0, 1), header.readUInt32BE(1), header.readUInt32BE(5)]).toEqual([
      'R',
      8,
      0,
    ]);
    await connection.close();
  }, 30_000);

  it("ssl=off: the server's 'N' is a StartTlsRefusedError that says TLS is not accepted", async () => {
    const port = await startPostgres('off');
    const connection = await connect({ host: '127.0.0.1', port });
    const error = await requestStartTls('postgres', connection, {
      hostname: 'localhost',
      timeout: 5000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartTlsRefusedError);
    expect((error as Error).message).toMatch(/answered 'N' to SSLRequest: it does not accept TLS/);
    await connection.close();
  }, 30_000);
});
