/**
 * PKCS#12 bundles, built and read with node-forge's ASN.1 and password-based crypto. forge only
 * packs and unpacks here: whether a certificate is valid is never its decision. Its own PKCS#12
 * writer handles RSA keys only and MACs with SHA-1, so the bundle is assembled here the way
 * OpenSSL 3 writes one by default: the certificates in an encrypted SafeContents and the key in a
 * shrouded key bag, both PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), and an HMAC-SHA256 integrity
 * MAC. Node's `pfx`, `openssl pkcs12` and `importPkcs12` all read it.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError } from '../transport/errors.js';
import { checkOptionNames } from '../transport/options.js';
import { pemEncode } from './keys.js';
import { PKI_OPTION_NAMES } from './option-names.js';
import { readCertificate, readCertificates, readPeculiar, readPrivateKey } from './parse.js';

const { asn1, pki } = forge;

/** Options of PKCS#12 export. */
export interface Pkcs12Options {
  /** A label shown by tools that list the bundle (default: the certificate's subject CN). */
  friendlyName?: string;
  /** PBKDF2 and MAC iterations (default 10000). */
  iterations?: number;
}

/** What goes into a bundle. */
export interface Pkcs12Input extends Pkcs12Options {
  /** The certificate chain in PEM, leaf first. */
  certPem: string;
  /** The leaf's private key in PEM. */
  keyPem: string;
  /** Required: bundles are always protected. */
  password: string;
}

/** What comes out of a bundle. */
export interface Pkcs12Contents {
  /** The certificate whose key is in the bundle (PEM). */
  certPem: string;
  /** That certificate followed by the others in issuing order (PEM). */
  chainPem: string;
  /** The private key (PKCS#8 PEM). */
  keyPem: string;
  /** The name the bundle gives its key (its `friendlyName`, what `openssl pkcs12 -name` sets), or `null`. */
  friendlyName: string | null;
}

function checkPassword(where: string, password: unknown): string {
  if (typeof password !== 'string' || password.length === 0) {
    throw new InvalidArgumentError(
      `${where}: \`password\` is required; PKCS#12 bundles are always password-protected`,
    );
  }
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new InvalidArgumentError(
      `${where}: \`password\` must be printable ASCII; tools disagree on how to encode other characters in PKCS#12`,
    );
  }
  return password;
}

const seq = (items: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (items: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const oid = (value: string) =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
const octets = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
const explicit = (item: forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [item]);
const binary = (bytes: Uint8Array) => Buffer.from(bytes).toString('binary');

function dataContent(content: forge.asn1.Asn1): forge.asn1.Asn1 {
  return seq([oid(pki.oids.data!), explicit(octets(asn1.toDer(content).getBytes()))]);
}

/**
 * `content` DER-encoded and encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC): an
 * EncryptedPrivateKeyInfo, i.e. the algorithm identifier and the ciphertext. forge's key encryption
 * does not look inside what it encrypts, so it serves for the certificate SafeContents too.
 */
function pbes2(content: forge.asn1.Asn1, password: string, iterations: number): forge.asn1.Asn1 {
  return pki.encryptPrivateKeyInfo(content, forge.util.encodeUtf8(password), {
    algorithm: 'aes256',
    count: iterations,
    saltSize: 16,
    prfAlgorithm: 'sha256',
  } as Parameters<typeof pki.encryptPrivateKeyInfo>[2]);
}

/** A ContentInfo of type encryptedData (PKCS#7) holding `content` encrypted with `pbes2`. */
function encryptedContent(content: forge.asn1.Asn1, password: string, iterations: number): forge.asn1.Asn1 {
  const [algorithm, ciphertext] = pbes2(content, password, iterations).value as forge.asn1.Asn1[];
  const encryptedContentInfo = seq([
    oid(pki.oids.data!),
    algorithm!,
    // encryptedContent [0] IMPLICIT OCTET STRING
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, ciphertext!.value as string),
  ]);
  const version = asn1.create(
    asn1.Class.UNIVERSAL,
    asn1.Type.INTEGER,
    false,
    asn1.integerToDer(0).getBytes(),
  );
  return seq([oid(pki.oids.encryptedData!), explicit(seq([version, encryptedContentInfo]))]);
}

/** Packs a certificate chain and its key into a password-protected PKCS#12 bundle. */
export function exportPkcs12(input: Pkcs12Input): Buffer {
  const where = 'exportPkcs12';
  checkOptionNames(where, input, PKI_OPTION_NAMES.exportPkcs12);
  const password = checkPassword(where, input?.password);
  if (typeof input.certPem !== 'string') {
    throw new InvalidArgumentError(`${where}: \`certPem\` must be PEM text, got ${typeof input.certPem}`);
  }
  const chain = readCertificates(where, '`certPem`', input.certPem);
  const key = readPrivateKey(where, '`keyPem`', input.keyPem);
  if (!chain[0]!.checkPrivateKey(key)) {
    throw new InvalidArgumentError(
      `${where}: \`keyPem\` does not match the first certificate in \`certPem\``,
    );
  }
  const iterations = input.iterations ?? 10_000;
  if (!Number.isInteger(iterations) || iterations < 1000) {
    throw new InvalidArgumentError(`${where}: \`iterations\` must be an integer of at least 1000`);
  }
  // The CN as the certificate holds it; Node's `subject` text escapes commas and quotes.
  const commonName = readPeculiar(where, '`certPem`', chain[0]!.raw).subjectName.getField('CN')[0];
  const friendlyName = input.friendlyName ?? commonName ?? 'tlskit certificate';
  const localKeyId = createHash('sha1').update(chain[0]!.raw).digest('binary');
  const attributes = set([
    seq([oid(pki.oids.localKeyId!), set([octets(localKeyId)])]),
    seq([
      oid(pki.oids.friendlyName!),
      set([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, friendlyName)]),
    ]),
  ]);

  const certBags = chain.map((certificate, index) => {
    const bag = seq([oid(pki.oids.x509Certificate!), explicit(octets(binary(certificate.raw)))]);
    const items = [oid(pki.oids.certBag!), explicit(bag)];
    if (index === 0) items.push(attributes);
    return seq(items);
  });
  const privateKeyInfo = asn1.fromDer(binary(key.export({ type: 'pkcs8', format: 'der' })));
  const shrouded = pbes2(privateKeyInfo, password, iterations);
  const keyBag = seq([oid(pki.oids.pkcs8ShroudedKeyBag!), explicit(shrouded), attributes]);
  const authSafe = seq([encryptedContent(seq(certBags), password, iterations), dataContent(seq([keyBag]))]);

  const macSalt = forge.random.getBytesSync(16);
  const macKey = forge.pkcs12.generateKey(
    password,
    forge.util.createBuffer(macSalt),
    3,
    iterations,
    32,
    forge.md.sha256.create(),
  );
  const hmac = forge.hmac.create();
  hmac.start('sha256', macKey.getBytes());
  hmac.update(asn1.toDer(authSafe).getBytes());
  const macData = seq([
    seq([
      seq([oid(pki.oids.sha256!), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
      octets(hmac.digest().getBytes()),
    ]),
    octets(macSalt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(iterations).getBytes()),
  ]);
  const pfx = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(3).getBytes()),
    dataContent(authSafe),
    macData,
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}

/** Unpacks a PKCS#12 bundle (ours, OpenSSL's, or another tool's) into PEM. */
export function importPkcs12(bytes: Uint8Array, password: string): Pkcs12Contents {
  const where = 'importPkcs12';
  checkPassword(where, password);
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new InvalidArgumentError(`${where}: pass the bytes of a PKCS#12 file`);
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1.fromDer(binary(bytes)), false, password);
  } catch (error) {
    const message = (error as Error).message;
    const reason = /mac|password|invalid/i.test(message) ? 'wrong password, or a damaged file' : message;
    throw new InvalidArgumentError(`${where}: cannot open the bundle (${reason})`);
  }
  const keys = [
    ...(p12.getBags({ bagType: pki.oids.pkcs8ShroudedKeyBag! })[pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: pki.oids.keyBag! })[pki.oids.keyBag!] ?? []),
  ];
  const keyBag = keys[0];
  if (!keyBag) throw new InvalidArgumentError(`${where}: the bundle holds no private key`);
  const keyAsn1 = keyBag.key ? pki.wrapRsaPrivateKey(pki.privateKeyToAsn1(keyBag.key)) : keyBag.asn1;
  const keyDer = Buffer.from(asn1.toDer(keyAsn1).getBytes(), 'binary');
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' });
  } catch {
    throw new InvalidArgumentError(
      `${where}: the bundle's private key is not a readable PKCS#8 key (damaged, or a key type Node cannot load)`,
    );
  }
  const certificates = (p12.getBags({ bagType: pki.oids.certBag! })[pki.oids.certBag!] ?? []).map(
    (bag, index) => {
      const der = bag.cert
        ? asn1.toDer(pki.certificateToAsn1(bag.cert)).getBytes()
        : asn1.toDer(bag.asn1).getBytes();
      return readCertificate(where, `certificate ${index + 1} in the bundle`, Buffer.from(der, 'binary'));
    },
  );
  const leaf = certificates.find((certificate) => certificate.checkPrivateKey(key));
  if (!leaf) throw new InvalidArgumentError(`${where}: no certificate in the bundle matches its private key`);
  const ordered = [leaf];
  const rest = certificates.filter((certificate) => certificate !== leaf);
  for (
    let next = rest.find((c) => ordered.at(-1)!.checkIssued(c));
    next;
    next = rest.find((c) => ordered.at(-1)!.checkIssued(c))
  ) {
    if (ordered.includes(next)) break;
    ordered.push(next);
    rest.splice(rest.indexOf(next), 1);
  }
  ordered.push(...rest);
  return {
    certPem: pemEncode('CERTIFICATE', leaf.raw),
    chainPem: ordered.map((certificate) => pemEncode('CERTIFICATE', certificate.raw)).join(''),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    friendlyName: bagName(keyBag),
  };
}

/** A bag's `friendlyName` attribute, if it has one. */
function bagName(bag: forge.pkcs12.Bag): string | null {
  const names = (bag.attributes as { friendlyName?: unknown } | undefined)?.friendlyName;
  const name = Array.isArray(names) ? names[0] : undefined;
  return typeof name === 'string' && name.length > 0 ? name : null;
}
