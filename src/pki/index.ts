/**
 * tlskit/pki: certificates for testing validation. A test CA with intermediates and leaves of every
 * common key type, revocation and CRLs, PKCS#12, inspection, and a factory of deliberately broken
 * chains, each naming the error a correct client reports. Offline, in milliseconds.
 */
export { CA, type CAOptions, createCA, loadCA, type RevocationReason } from './ca.js';
export { type ChainFixture, type Control, controls, type Defect, defects } from './defects.js';
export { type CertificateReport, checkChainOrder, inspect, inspectAll } from './inspect.js';
export { IssuedCertificate, type IssueOptions } from './issued.js';
export { KEY_TYPES, type KeyType } from './keys.js';
export type { Validity } from './mint.js';
export type { NameConstraintsOptions, SubjectFields } from './names.js';
export {
  exportPkcs12,
  importPkcs12,
  type Pkcs12Contents,
  type Pkcs12Input,
  type Pkcs12Options,
} from './pkcs12.js';
