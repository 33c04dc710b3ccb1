// @ts-check
/**
 * Certificates for the examples: the ones `npx tlskit cert dev` wrote into certs/, or throwaway
 * ones minted in memory when certs/ is empty, so every example runs with no set-up. The result's
 * `source` says which (tls-echo and workers print it). TLSKIT_EXAMPLES_CERTS=DIR reads them from DIR instead (`cert dev --out DIR`),
 * which is how the tests check this without writing into the clone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCA, loadCA } from 'tlskit/pki';

const chosen = process.env.TLSKIT_EXAMPLES_CERTS;
const dir = chosen ? pathToFileURL(`${resolve(chosen)}/`) : new URL('../certs/', import.meta.url);
const shown = chosen ? `${chosen}/` : 'certs/';
const files = ['dev-ca.pem', 'dev-ca-key.pem', 'localhost.pem', 'localhost-key.pem'];

export async function devCertificates() {
  if (files.every((name) => existsSync(new URL(name, dir)))) {
    const read = (/** @type {string} */ name) => readFileSync(new URL(name, dir), 'utf8');
    const ca = await loadCA({ certPem: read('dev-ca.pem'), keyPem: read('dev-ca-key.pem') });
    return {
      ca,
      certPem: read('localhost.pem'),
      keyPem: read('localhost-key.pem'),
      source: `${shown} (npx tlskit cert dev)`,
    };
  }
  const ca = await createCA({ subject: 'tlskit examples CA (throwaway)' });
  const leaf = await ca.issue({ hosts: ['localhost', '127.0.0.1', '::1'], usage: 'server' });
  return { ca, certPem: leaf.chainPem, keyPem: leaf.keyPem, source: 'minted in memory for this run' };
}
