/**
 * Certificates minted by tlskit/pki, served by independent TLS stacks: openssl s_server and
 * gnutls-serv present a tlskit chain (leaf and intermediate) of each key type, and a tlskit client
 * verifies it against the tlskit root.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientContext, createConnection } from 'tlskit';
import { createCA, type KeyType } from 'tlskit/pki';
import { RecordingProtocol } from 'tlskit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { gnutlsServer, killPeers, opensslServer, PEER_TIMEOUT } from '../helpers/peers.js';

afterEach(killPeers);

async function mint(keyType: KeyType) {
  const root = await createCA({ keyType });
  const intermediate = await root.intermediate({ keyType });
  const leaf = await intermediate.issue({ hosts: ['localhost', '127.0.0.1'], keyType, usage: 'server' });
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-pki-interop-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return {
    root,
    leaf,
    files: {
      leaf: file('leaf.pem', leaf.certPem),
      chain: file('chain.pem', leaf.chainPem),
      intermediate: file('intermediate.pem', intermediate.certPem),
      key: file('key.pem', leaf.keyPem),
    },
  };
}

async function handshake(port: number, trust: string) {
  const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT });
  const transport = await createConnection(() => recording, {
    host: '127.0.0.1',
    port,
    tls: clientContext({ trust }),
    serverName: 'localhost',
  });
  const info = transport.info.tls!;
  transport.abort();
  return info;
}

const keyTypes: KeyType[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'];

describe('tlskit/pki certificates served by other TLS stacks', () => {
  for (const keyType of keyTypes) {
    it(`openssl s_server presents a ${keyType} leaf and intermediate that a tlskit client verifies`, async () => {
      const { root, files } = await mint(keyType);
      const server = await opensslServer(['-cert_chain', files.intermediate], {
        cert: files.leaf,
        key: files.key,
      });
      const info = await handshake(server.port, root.trust);
      // The chain as verified: what s_server sent (leaf, intermediate), then our trusted root.
      expect(info.peerCertificates.map((c) => c.subject)).toEqual([
        'CN=localhost',
        expect.stringMatching(/^CN=tlskit test intermediate /),
        expect.stringMatching(/^CN=tlskit test CA /),
      ]);
    });

    it(`gnutls-serv presents a ${keyType} chain that a tlskit client verifies`, async () => {
      const { root, files } = await mint(keyType);
      const server = await gnutlsServer([], { cert: files.chain, key: files.key });
      const info = await handshake(server.port, root.trust);
      expect(info.peerCertificates[0]?.subject).toBe('CN=localhost');
      expect(['TLSv1.3', 'TLSv1.2']).toContain(info.protocol);
    });
  }
});
