import { KeyObject, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../transport/errors.js';
import { type AnyKeyType, type CryptoKey, x509 } from './keys.js';

/** md5WithRSAEncryption (RFC 3279 2.2.1). */
const MD5_WITH_RSA = '1.2.840.113549.1.1.4';
/** DER NULL: the parameters of every PKCS#1 v1.5 signature algorithm. */
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

/**
 * Signs `certificate` again with MD5 and RSA, for the MD5 weak-signature case. WebCrypto has no MD5,
 * so `mint` builds the certificate as usual and this replaces its signature algorithm (in the
 * to-be-signed part and outside it) and its signature, made by node:crypto, which OpenSSL 3 still
 * lets sign with MD5. Everything else stays as `mint` made it.
 */
export function resignWithMd5(
  certificate: x509.X509Certificate,
  key: CryptoKey,
  keyType: AnyKeyType,
): x509.X509Certificate {
  if (!keyType.startsWith('rsa')) {
    throw new InvalidArgumentError(`mint: an MD5 signature needs an RSA issuer key, got ${keyType}`);
  }
  const asn = AsnConvert.parse(certificate.rawData, Certificate);
  const algorithm = () => new AlgorithmIdentifier({ algorithm: MD5_WITH_RSA, parameters: DER_NULL });
  asn.tbsCertificate.signature = algorithm();
  asn.signatureAlgorithm = algorithm();
  const tbs = Buffer.from(AsnConvert.serialize(asn.tbsCertificate));
  const signature = sign('md5', tbs, KeyObject.from(key));
  asn.signatureValue = new Uint8Array(signature).buffer;
  return new x509.X509Certificate(AsnConvert.serialize(asn));
}
