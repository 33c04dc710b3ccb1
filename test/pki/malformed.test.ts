/**
 * Damaged input: every entry point that reads certificates reports which one is damaged, as a
 * tlskit InvalidArgumentError, never as a raw OpenSSL error.
 */
import { createPrivateKey } from 'node:crypto';
import { InvalidArgumentError } from 'tlskit';
import { checkChainOrder, createCA, exportPkcs12, inspect, inspectAll, loadCA } from 'tlskit/pki';
import { beforeAll, describe, expect, it } from 'vitest';

/** A PEM certificate with a line cut out of its base64 body, as a bad copy and paste leaves it. */
function damaged(pem: string): string {
  const lines = pem.trimEnd().split('\n');
  lines.splice(3, 1);
  return `${lines.join('\n')}\n`;
}

let ca: Awaited<ReturnType<typeof createCA>>;
beforeAll(async () => {
  ca = await createCA();
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('damaged certificates', () => {
  it('inspect, inspectAll and checkChainOrder name the damaged block', () => {
    const bad = damaged(ca.certPem);
    const error = thrown(() => inspect(bad));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(
      /^inspect: certificate 1 of 1 in the PEM text is not a readable X\.509 certificate \(damaged base64 or DER, or not a certificate\)/,
    );
    expect(error.message).not.toMatch(/error:[0-9A-F]{8}/);
    expect(() => inspectAll(ca.certPem + bad)).toThrow(/^inspectAll: certificate 2 of 2 in the PEM text/);
    expect(() => checkChainOrder(ca.certPem + bad)).toThrow(/^checkChainOrder: certificate 2 of 2/);
    expect(() => inspect(42 as never)).toThrow(/^inspect: pass PEM text as a string or bytes, got number/);
  });

  it('loadCA names `certPem`', async () => {
    const error = await loadCA({ certPem: damaged(ca.certPem), keyPem: ca.keyPem }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/^loadCA: `certPem` is not a readable X\.509 certificate/);
  });

  it('loadCA with the key of another CA names the certificate and the fix', async () => {
    const other = await createCA();
    const error = await loadCA({ certPem: ca.certPem, keyPem: other.keyPem }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      /^loadCA: `keyPem` does not match `certPem` \(certificate subject .*CN=.*\); pass the key saved with that CA certificate/,
    );
  });

  it('loadCA and exportPkcs12 say what is wrong with `keyPem`, without OpenSSL codes', async () => {
    const garbage = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    const error = await loadCA({ certPem: ca.certPem, keyPem: garbage }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/^loadCA: `keyPem` is not a readable private key \(damaged PEM/);
    expect((error as Error).message).not.toMatch(/error:[0-9A-F]{8}/);
    const encrypted = createPrivateKey(ca.keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pw',
    }) as string;
    const leaf = await ca.issue({ hosts: ['a.test'] });
    expect(() => exportPkcs12({ certPem: leaf.certPem, keyPem: encrypted, password: 'pw' })).toThrow(
      /^exportPkcs12: `keyPem` is encrypted; give it unencrypted/,
    );
  });

  it('exportPkcs12 names the damaged certificate in `certPem`', async () => {
    const leaf = await ca.issue({ hosts: ['a.test'] });
    const error = thrown(() =>
      exportPkcs12({ certPem: leaf.certPem + damaged(ca.certPem), keyPem: leaf.keyPem, password: 'pw' }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/^exportPkcs12: certificate 2 of 2 in `certPem` is not a readable X\.509/);
  });
});
