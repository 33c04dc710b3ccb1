import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChainFixture } from 'tlskit/pki';

const run = promisify(execFile);

/** Runs `openssl verify` on a fixture the way a TLS client would judge it; resolves to its verdict. */
export async function opensslVerify(fixture: ChainFixture): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-verify-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const args = [
    'verify',
    '-CAfile',
    file('trust.pem', fixture.trustPem),
    '-purpose',
    'sslserver',
    // Security level 2, as Node's (and so tlskit's) TLS uses: at openssl's default level 1, SHA-1
    // signatures and RSA-1024 keys would pass.
    '-auth_level',
    '2',
  ];
  args.push(isIP(fixture.serverName) ? '-verify_ip' : '-verify_hostname', fixture.serverName);
  if (fixture.untrustedPem) args.push('-untrusted', file('untrusted.pem', fixture.untrustedPem));
  if (fixture.crlPem) args.push('-crl_check_all', '-CRLfile', file('crl.pem', fixture.crlPem));
  args.push(file('leaf.pem', fixture.leafPem));
  try {
    const { stdout, stderr } = await run('openssl', args);
    return { ok: /: OK\s*$/.test(stdout), output: stdout + stderr };
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: stdout + stderr };
  }
}
