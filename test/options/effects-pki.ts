/**
 * tlskit/pki: what each option puts into the certificate, CRL or bundle, read back by inspect(),
 * @peculiar/x509, openssl, or a handshake. createCA and ca.intermediate take the same options and
 * run the same effects.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { clientContext } from 'tlskit';
import { type CA, type CAOptions, createCA, exportPkcs12, importPkcs12, inspect, loadCA } from 'tlskit/pki';
import { expect } from 'vitest';
import { once } from '../helpers/once.js';
import { type EffectTable, handshake } from './support.js';

const DAY = 86_400_000;
const root = once(() => createCA());
const leafOf = once(async () => (await root()).issue({ hosts: ['localhost'] }));

/** How long a certificate is valid, in milliseconds. */
const lifetime = (report: { notBefore: Date; notAfter: Date }) =>
  report.notAfter.getTime() - report.notBefore.getTime();

/** Whole seconds: certificates and CRLs keep no milliseconds. */
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Whether a client trusting `ca`'s root accepts a server for `host` with a leaf `ca` issued. */
async function verdict(ca: CA, host: string): Promise<string | null> {
  const leaf = await ca.issue({ hosts: [host] });
  const result = await handshake(clientContext({ trust: ca.trust }), leaf.serverContext(), {
    serverName: host,
  });
  result.client.transport?.abort();
  result.server.transport?.abort();
  return (result.client.error as { code?: string } | undefined)?.code ?? null;
}

/**
 * What openssl reports about a PKCS#12 bundle: the bag attributes (friendly name) on stdout, the
 * MAC and its iterations on stderr, joined.
 */
function bundleReport(bundle: Buffer, password: string): string {
  const command = `openssl pkcs12 -info -nokeys -passin pass:${password} 2>&1`;
  return execFileSync('sh', ['-c', command], { input: bundle, encoding: 'utf8' });
}

function caEffects(make: (options: CAOptions) => Promise<CA>): EffectTable {
  return {
    async keyType() {
      expect(inspect((await make({ keyType: 'ed25519' })).certPem).key.type).toBe('ed25519');
    },
    async subject() {
      expect(inspect((await make({ subject: 'Option Test CA' })).certPem).subject).toBe('CN=Option Test CA');
    },
    async validity() {
      expect(lifetime(inspect((await make({ validity: { days: 30 } })).certPem))).toBe(30 * DAY);
    },
    async pathLength() {
      expect(inspect((await make({ pathLength: 0 })).certPem).pathLength).toBe(0);
    },
    async nameConstraints() {
      const ca = await make({ nameConstraints: { permitted: ['good.test'] } });
      expect(await verdict(ca, 'good.test')).toBeNull();
      expect(await verdict(ca, 'evil.test')).toBe('NAME_CONSTRAINTS');
    },
  };
}

const issued = async (options: Parameters<CA['issue']>[0]) =>
  inspect((await (await root()).issue(options)).certPem);

async function bundleEffects(
  bundle: (options: { friendlyName?: string; iterations?: number }) => Promise<Buffer>,
) {
  return {
    friendlyName: async () => {
      expect(bundleReport(await bundle({ friendlyName: 'my bundle' }), 'pw')).toMatch(
        /friendlyName: my bundle/,
      );
    },
    iterations: async () => {
      expect(bundleReport(await bundle({ iterations: 2_345 }), 'pw')).toMatch(/Iteration 2345/);
    },
  };
}

const viaExport = async (options: object) => {
  const leaf = await leafOf();
  return exportPkcs12({ certPem: leaf.chainPem, keyPem: leaf.keyPem, password: 'pw', ...options });
};
const viaToPkcs12 = async (options: object) => (await leafOf()).toPkcs12('pw', options);

/** The revocation entry of a fresh CA's CRL after revoking one leaf with `options`. */
async function revoked(options: { reason?: 'keyCompromise'; date?: Date }) {
  const ca = await createCA();
  ca.revoke(await ca.issue({ hosts: ['localhost'] }), options);
  return new x509.X509Crl(await ca.crlPem()).entries[0]!;
}

export const effects = {
  createCA: caEffects(createCA),
  intermediate: caEffects(async (options) => (await root()).intermediate(options)),
  issue: {
    async hosts() {
      expect((await issued({ hosts: ['a.test', '10.0.0.1'] })).subjectAltNames).toMatchObject({
        dns: ['a.test'],
        ip: ['10.0.0.1'],
      });
    },
    async subject() {
      expect((await issued({ subject: 'Option Test Leaf' })).subject).toBe('CN=Option Test Leaf');
    },
    async usage() {
      expect((await issued({ usage: 'client' })).extendedKeyUsage).toEqual(['clientAuth']);
    },
    async extendedKeyUsages() {
      expect((await issued({ extendedKeyUsages: ['1.3.6.1.5.5.7.3.3'] })).extendedKeyUsage).toContain(
        'codeSigning',
      );
    },
    async keyType() {
      expect((await issued({ keyType: 'ed25519' })).key.type).toBe('ed25519');
    },
    async validity() {
      expect(lifetime(await issued({ validity: { days: 10 } }))).toBe(10 * DAY);
    },
  } satisfies EffectTable,
  validity: {
    async notBefore() {
      const notBefore = new Date(Date.now() - 3 * DAY);
      expect(seconds((await issued({ validity: { notBefore } })).notBefore)).toBe(seconds(notBefore));
    },
    async notAfter() {
      const notAfter = new Date(Date.now() + 5 * DAY);
      expect(seconds((await issued({ validity: { notAfter } })).notAfter)).toBe(seconds(notAfter));
    },
    async days() {
      expect(lifetime(await issued({ validity: { days: 3 } }))).toBe(3 * DAY);
    },
  } satisfies EffectTable,
  nameConstraints: {
    async permitted() {
      const ca = await createCA({ nameConstraints: { permitted: ['good.test'] } });
      expect(await verdict(ca, 'evil.test')).toBe('NAME_CONSTRAINTS');
    },
    async excluded() {
      const ca = await createCA({ nameConstraints: { excluded: ['evil.test'] } });
      expect(await verdict(ca, 'good.test')).toBeNull();
      expect(await verdict(ca, 'evil.test')).toBe('NAME_CONSTRAINTS');
    },
  } satisfies EffectTable,
  revoke: {
    async reason() {
      expect((await revoked({ reason: 'keyCompromise' })).reason).toBe(x509.X509CrlReason.keyCompromise);
    },
    async date() {
      const date = new Date(Date.now() - 2 * DAY);
      expect(seconds((await revoked({ date })).revocationDate)).toBe(seconds(date));
    },
  } satisfies EffectTable,
  crlPem: {
    async days() {
      const crl = new x509.X509Crl(await (await root()).crlPem({ days: 2 }));
      expect(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime()).toBe(2 * DAY);
    },
  } satisfies EffectTable,
  exportPkcs12: {
    ...(await bundleEffects(viaExport)),
    async certPem() {
      const leaf = await leafOf();
      expect(importPkcs12(await viaExport({}), 'pw').certPem).toBe(leaf.certPem);
    },
    async keyPem() {
      const leaf = await leafOf();
      const key = importPkcs12(await viaExport({}), 'pw').keyPem;
      const spki = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' });
      expect(spki(key).equals(spki(leaf.keyPem))).toBe(true);
    },
    async password() {
      const bundle = await viaExport({ password: 'another' });
      expect(() => importPkcs12(bundle, 'pw')).toThrow();
      expect(importPkcs12(bundle, 'another').certPem).toBe((await leafOf()).certPem);
    },
  } satisfies EffectTable,
  toPkcs12: await bundleEffects(viaToPkcs12),
  loadCA: {
    async certPem() {
      const original = await root();
      expect((await loadCA({ certPem: original.certPem, keyPem: original.keyPem })).certPem).toBe(
        original.certPem,
      );
    },
    async keyPem() {
      // Leaves of the loaded CA are signed with the key it was given: the original root verifies them.
      const original = await root();
      const loaded = await loadCA({ certPem: original.certPem, keyPem: original.keyPem });
      expect(await verdict(loaded, 'localhost')).toBeNull();
      const other = await createCA();
      await expect(loadCA({ certPem: original.certPem, keyPem: other.keyPem })).rejects.toThrow(
        /does not match/,
      );
    },
  } satisfies EffectTable,
};
