/**
 * `tlskit connect --versions` against sslscan, side by side on the same server: a tlskit server
 * (TLS 1.2 and 1.3, its safe suites) and `openssl s_server -tls1_2`. Both must find the same
 * versions accepted, and the same suites on the set both can offer (sslscan's OpenSSL and this
 * Node's). sslscan is optional: the tests skip, saying so, where it is missing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Server, serve, serverContext } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCommand } from '../helpers/commands.js';
import { opensslCerts } from '../helpers/openssl-certs.js';
import { killPeers, opensslServer } from '../helpers/peers.js';
import { tlskit } from './connect-run.js';

const run = promisify(execFile);
const haveSslscan = hasCommand('sslscan');
if (!haveSslscan) console.warn('connect-versions: sslscan is not installed; skipping the comparison with it');

const servers: Server[] = [];
afterEach(async () => {
  await killPeers();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const VERSION_OF: Record<string, string> = {
  '1.0': 'TLSv1',
  '1.1': 'TLSv1.1',
  '1.2': 'TLSv1.2',
  '1.3': 'TLSv1.3',
};

/** sslscan's verdict from its XML: accepted versions, and accepted suites per version (OpenSSL names). */
async function sslscan(port: number) {
  const { stdout } = await run('sslscan', ['--no-colour', '--xml=-', `127.0.0.1:${port}`], {
    timeout: 60_000,
  });
  const versions = [...stdout.matchAll(/<protocol type="tls" version="([\d.]+)" enabled="1"/g)].map(
    (m) => VERSION_OF[m[1]!]!,
  );
  const suites = [
    ...stdout.matchAll(/<cipher status="\w+" sslversion="(TLSv[\d.]+)"[^>]* cipher="([^"]+)"/g),
  ].map((m) => `${m[1] === 'TLSv1.0' ? 'TLSv1' : m[1]} ${m[2]}`);
  return { versions: versions.sort(), suites: new Set(suites) };
}

/** The suites this machine's OpenSSL (sslscan's) can offer, so ours are compared on a common set. */
async function systemSuites(): Promise<Set<string>> {
  const { stdout } = await run('openssl', ['ciphers', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
  return new Set(stdout.trim().split(':'));
}

async function ours(port: number) {
  const result = await tlskit(
    ['connect', `127.0.0.1:${port}`, '--ca', opensslCerts().paths.ca, '--versions', '--json'],
    {
      timeout: 60_000,
    },
  );
  const report = JSON.parse(result.stdout) as {
    verdict: { trusted: boolean };
    versions: { version: string; accepted: boolean; suites: { name: string }[] }[];
  };
  return {
    code: result.code,
    report,
    versions: report.versions
      .filter((v) => v.accepted)
      .map((v) => v.version)
      .sort(),
    suites: new Set(report.versions.flatMap((v) => v.suites.map((s) => `${v.version} ${s.name}`))),
  };
}

async function compare(port: number) {
  const [theirs, mine, common] = [await sslscan(port), await ours(port), await systemSuites()];
  expect(mine.versions).toEqual(theirs.versions);
  const shared = (entry: string) => common.has(entry.split(' ')[1]!);
  expect([...mine.suites].filter(shared).sort()).toEqual([...theirs.suites].filter(shared).sort());
  return { theirs, mine };
}

describe('tlskit connect --versions agrees with sslscan', () => {
  it.skipIf(!haveSslscan)(
    'on a tlskit server',
    async () => {
      const certs = opensslCerts();
      const server = await serve(
        {
          host: '127.0.0.1',
          port: 0,
          tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
        },
        () => {},
      );
      servers.push(server);
      const { mine } = await compare(server.address.port);
      expect(mine.code).toBe(0);
      expect(mine.versions).toEqual(['TLSv1.2', 'TLSv1.3']);
    },
    90_000,
  );

  it.skipIf(!haveSslscan)(
    'on openssl s_server -tls1_2',
    async () => {
      const server = await opensslServer(['-tls1_2']);
      const { mine } = await compare(server.port);
      expect(mine.versions).toEqual(['TLSv1.2']);
      expect(mine.suites.size).toBeGreaterThan(3);
    },
    90_000,
  );
});

describe('tlskit connect --versions, human table', () => {
  it('lists each version with its state and the suites', async () => {
    const server = await opensslServer(['-tls1_2']);
    const result = await tlskit(
      ['connect', `127.0.0.1:${server.port}`, '--ca', opensslCerts().paths.ca, '--versions'],
      {
        timeout: 60_000,
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Versions and suites the server accepts\n {2}TLS 1\.0 {7}refused\n {2}TLS 1\.1 {7}refused\n {2}TLS 1\.2 {7}accepted\n {6}ECDHE-ECDSA-\S+ +X25519\n/,
    );
    expect(result.stdout).toMatch(/ {2}TLS 1\.3 {7}refused\n$/);
  }, 60_000);
});
