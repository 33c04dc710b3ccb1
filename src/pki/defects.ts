import type { CertificateErrorCode } from '../tls/errors.js';
import { type CA, kSigner, makeCA } from './ca.js';
import { IssuedCertificate, type IssueInternals, type IssueOptions, issueLeaf } from './issued.js';
import { type AnyKeyType, certificatePem, generateKeys, type KeyType, privateKeyPem, x509 } from './keys.js';
import { mint, type Signer } from './mint.js';
import { subjectName } from './names.js';

/**
 * A certificate chain ready for a TLS server, with what a client needs to judge it. Every fixture is
 * minted fresh, offline, in milliseconds.
 */
export interface ChainFixture {
  /** The case's name, e.g. `'expired'`. */
  name: string;
  /** The name a client should connect with (SNI and host name check). */
  serverName: string;
  /** The CA certificate(s) a client should trust (PEM). */
  trustPem: string;
  /** What the server presents: leaf first, then intermediates (PEM). */
  chainPem: string;
  /** The leaf's private key (PEM). */
  keyPem: string;
  /** The leaf alone (PEM). */
  leafPem: string;
  /** The certificates after the leaf in `chainPem` (PEM; empty when there are none). */
  untrustedPem: string;
  /** CRLs (PEM) a client must load for this case, covering every CA in the chain. */
  crlPem?: string;
}

/** A deliberately broken chain that a correct client must reject, with the code tlskit reports. */
export interface Defect {
  name: string;
  description: string;
  /** The `CertificateError` code a tlskit client reports for this chain. */
  expect: CertificateErrorCode;
  build(): Promise<ChainFixture>;
}

/** A good chain that a correct client must accept. */
export interface Control {
  name: string;
  description: string;
  build(): Promise<ChainFixture>;
}

const DAY = 86_400_000;
const HOST = 'localhost';

/**
 * @internal The CAs above a fixture's leaf, issuer first, on a non-enumerable key so the fixture
 * itself looks as it always did. The bad-TLS lab signs a CRL for each, since a client that checks
 * revocation (curl --crlfile, Node's `crl`) wants one for every CA in the chain.
 */
export const kChainCAs = Symbol('tlskit.chainCAs');

/** The CAs of a fixture's chain, issuer first; empty when its leaf was not issued by a CA object. */
export function chainCAs(fixture: ChainFixture): readonly CA[] {
  return (fixture as ChainFixture & { [kChainCAs]?: CA[] })[kChainCAs] ?? [];
}

function fixture(
  name: string,
  trust: CA | string,
  leaf: { certPem: string; keyPem: string },
  chain: string[] = [],
  extra: Partial<ChainFixture> = {},
): ChainFixture {
  const cas: CA[] = [];
  for (let ca = leaf instanceof IssuedCertificate ? leaf.issuer : null; ca; ca = ca.parent) cas.push(ca);
  const built: ChainFixture = {
    name,
    serverName: HOST,
    trustPem: typeof trust === 'string' ? trust : trust.trust,
    chainPem: leaf.certPem + chain.join(''),
    keyPem: leaf.keyPem,
    leafPem: leaf.certPem,
    untrustedPem: chain.join(''),
    ...extra,
  };
  return Object.defineProperty(built, kChainCAs, { value: cas, enumerable: false });
}

/** Issues a leaf with knobs the public API does not offer. */
function leafWith(ca: CA, options: IssueOptions, internals: IssueInternals = {}) {
  return issueLeaf(ca, ca[kSigner], { hosts: [HOST], ...options }, internals);
}

/** A certificate that can sign but is not a CA: basicConstraints CA:FALSE, keyCertSign set. */
async function nonCaSigner(root: CA): Promise<{ signer: Signer; pem: string }> {
  const keyType: AnyKeyType = 'ecdsa-p256';
  const keys = await generateKeys(keyType);
  const subject = subjectName('defects', 'tlskit fake intermediate (not a CA)', '');
  const certificate = await mint({
    subject,
    keys,
    keyType,
    issuer: root[kSigner],
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    basicConstraints: { ca: false },
    keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature,
  });
  return { signer: { name: subject, keys, keyType, certificate }, pem: certificatePem(certificate) };
}

/** The broken chains, one defect each. */
export const defects: readonly Defect[] = [
  {
    name: 'expired',
    description: 'the leaf expired yesterday',
    expect: 'CERT_EXPIRED',
    async build() {
      const ca = await makeCA('defects', {}, null, 30);
      const leaf = await leafWith(ca, {
        validity: { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) },
      });
      return fixture('expired', ca, leaf);
    },
  },
  {
    name: 'not-yet-valid',
    description: 'the leaf becomes valid tomorrow',
    expect: 'CERT_NOT_YET_VALID',
    async build() {
      const ca = await makeCA('defects', {}, null, 30);
      const leaf = await leafWith(ca, { validity: { notBefore: new Date(Date.now() + DAY), days: 20 } });
      return fixture('not-yet-valid', ca, leaf);
    },
  },
  {
    name: 'wrong-host',
    description: 'the leaf names wrong.example, the client connects to localhost',
    expect: 'HOSTNAME_MISMATCH',
    async build() {
      const ca = await makeCA('defects', {}, null, 30);
      return fixture('wrong-host', ca, await leafWith(ca, { hosts: ['wrong.example'] }));
    },
  },
  {
    name: 'self-signed',
    description: 'the leaf signed itself; the client trusts an unrelated CA',
    expect: 'SELF_SIGNED',
    async build() {
      const ca = await makeCA('defects', {}, null, 30);
      const keys = await generateKeys('ecdsa-p256');
      const subject = subjectName('defects', HOST, HOST);
      const certificate = await mint({
        subject,
        keys,
        keyType: 'ecdsa-p256',
        issuer: null,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 30 * DAY),
        basicConstraints: { ca: false },
        keyUsage: x509.KeyUsageFlags.digitalSignature,
        extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'],
        altNames: [{ type: 'dns', value: HOST }],
      });
      return fixture('self-signed', ca, {
        certPem: certificatePem(certificate),
        keyPem: await privateKeyPem(keys.privateKey),
      });
    },
  },
  {
    name: 'untrusted-root',
    description: 'a complete chain (leaf, intermediate, root) from a CA the client does not trust',
    expect: 'UNKNOWN_ISSUER',
    async build() {
      const trusted = await makeCA('defects', {}, null, 30);
      const rogue = await makeCA('defects', { subject: 'tlskit rogue root' }, null, 30);
      const intermediate = await rogue.intermediate();
      const leaf = await intermediate.issue({ hosts: [HOST] });
      return fixture('untrusted-root', trusted, leaf, [intermediate.certPem, rogue.certPem]);
    },
  },
  {
    name: 'missing-intermediate',
    description: 'the server sends its leaf without the intermediate that issued it',
    expect: 'UNKNOWN_ISSUER',
    async build() {
      const root = await makeCA('defects', {}, null, 30);
      const intermediate = await root.intermediate();
      return fixture('missing-intermediate', root, await intermediate.issue({ hosts: [HOST] }));
    },
  },
  {
    name: 'intermediate-not-ca',
    description: 'the certificate that signed the leaf is not a CA (basicConstraints CA:FALSE)',
    expect: 'NOT_A_CA',
    async build() {
      const root = await makeCA('defects', {}, null, 30);
      const fake = await nonCaSigner(root);
      const leaf = await issueLeaf(root, fake.signer, { hosts: [HOST] });
      return fixture('intermediate-not-ca', root, leaf, [fake.pem]);
    },
  },
  {
    name: 'path-length-exceeded',
    description: 'the root allows no CA below it (pathLen 0), yet an intermediate issued the leaf',
    expect: 'PATH_LENGTH_EXCEEDED',
    async build() {
      const root = await makeCA('defects', { pathLength: 0 }, null, 30);
      const intermediate = await makeCA('defects', {}, root, 30);
      const leaf = await intermediate.issue({ hosts: [HOST] });
      return fixture('path-length-exceeded', root, leaf, [intermediate.certPem]);
    },
  },
  {
    name: 'name-constraints',
    description: 'the root may only issue for example.com, yet it issued a leaf for localhost',
    expect: 'NAME_CONSTRAINTS',
    async build() {
      const root = await makeCA('defects', { nameConstraints: { permitted: ['example.com'] } }, null, 30);
      return fixture('name-constraints', root, await root.issue({ hosts: [HOST] }));
    },
  },
  {
    name: 'client-auth-only',
    description: 'the leaf may only authenticate clients (EKU clientAuth) but is used by a server',
    expect: 'WRONG_PURPOSE',
    async build() {
      const ca = await makeCA('defects', {}, null, 30);
      return fixture('client-auth-only', ca, await leafWith(ca, { usage: 'client' }));
    },
  },
  {
    name: 'sha1-signature',
    description: 'the CA signed the leaf with SHA-1 (RSA)',
    expect: 'WEAK_SIGNATURE',
    async build() {
      const ca = await makeCA('defects', { keyType: 'rsa-2048' }, null, 30);
      return fixture('sha1-signature', ca, await leafWith(ca, { keyType: 'rsa-2048' }, { hash: 'SHA-1' }));
    },
  },
  {
    name: 'rsa-1024',
    description: "the leaf's key is RSA with 1024 bits",
    expect: 'WEAK_KEY',
    async build() {
      const ca = await makeCA('defects', { keyType: 'rsa-2048' }, null, 30);
      return fixture('rsa-1024', ca, await leafWith(ca, {}, { keyType: 'rsa-1024' }));
    },
  },
  {
    name: 'revoked',
    description: "the CA revoked the leaf and lists it in its CRL (the fixture's `crlPem`)",
    expect: 'REVOKED',
    async build() {
      const ca = await makeCA('defects', {}, null, 30);
      const leaf = await leafWith(ca, {});
      ca.revoke(leaf, { reason: 'keyCompromise' });
      return fixture('revoked', ca, leaf, [], { crlPem: await ca.crlPem() });
    },
  },
];

async function plain(name: string, keyType: KeyType): Promise<ChainFixture> {
  const ca = await makeCA('controls', { keyType }, null, 30);
  return fixture(name, ca, await ca.issue({ hosts: [HOST], keyType }));
}

/** Good chains, one per shape a client must accept. */
export const controls: readonly Control[] = [
  { name: 'rsa', description: 'RSA 2048 root and leaf', build: () => plain('rsa', 'rsa-2048') },
  { name: 'ecdsa', description: 'ECDSA P-256 root and leaf', build: () => plain('ecdsa', 'ecdsa-p256') },
  { name: 'ed25519', description: 'Ed25519 root and leaf', build: () => plain('ed25519', 'ed25519') },
  {
    name: 'intermediate',
    description: 'root, intermediate, leaf; the server sends the intermediate',
    async build() {
      const root = await makeCA('controls', {}, null, 30);
      const intermediate = await root.intermediate();
      const leaf = await intermediate.issue({ hosts: [HOST] });
      return fixture('intermediate', root, leaf, [intermediate.certPem]);
    },
  },
  {
    name: 'many-sans',
    description: 'a leaf with 1,000 subject alternative names, localhost last',
    async build() {
      const ca = await makeCA('controls', {}, null, 30);
      const hosts = Array.from({ length: 999 }, (_, i) => `host${i}.tlskit.test`);
      return fixture('many-sans', ca, await ca.issue({ hosts: [...hosts, HOST] }));
    },
  },
  {
    name: 'wildcard',
    description: 'a *.tlskit.test leaf, reached as www.tlskit.test',
    async build() {
      const ca = await makeCA('controls', {}, null, 30);
      return fixture('wildcard', ca, await ca.issue({ hosts: ['*.tlskit.test'] }), [], {
        serverName: 'www.tlskit.test',
      });
    },
  },
  {
    name: 'ip-address',
    description: 'a leaf for 127.0.0.1 and ::1, reached by address',
    async build() {
      const ca = await makeCA('controls', {}, null, 30);
      return fixture('ip-address', ca, await ca.issue({ hosts: ['127.0.0.1', '::1'] }), [], {
        serverName: '127.0.0.1',
      });
    },
  },
];
