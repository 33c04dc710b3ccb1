import type { CA } from '../../pki/ca.js';

/** What a strict, correct client does with a scenario. */
export type Expectation = 'accept' | 'reject' | 'accept-or-unsupported';

/**
 * Where a scenario comes from: tlskit/pki's own defects and controls, more certificate shapes,
 * host-name matching, the protocol and cipher a server offers, good controls, and client
 * certificates.
 */
export type ScenarioGroup =
  | 'pki-defect'
  | 'pki-control'
  | 'certificate'
  | 'hostname'
  | 'protocol'
  | 'control'
  | 'mtls';

export const GROUPS: readonly ScenarioGroup[] = [
  'pki-defect',
  'pki-control',
  'certificate',
  'hostname',
  'protocol',
  'control',
  'mtls',
];

/** TLS settings of a lab server beyond its certificate (a plain node:tls server). */
export interface ServerTls {
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** An OpenSSL cipher list; `@SECLEVEL=0` is added when missing. */
  ciphers?: string;
  /** DH parameters (PEM) for DHE suites. */
  dhparam?: string;
}

/** A client certificate a scenario hands to the client (`{cert}`, `{key}`). */
export interface ClientCredentials {
  certPem: string;
  keyPem: string;
}

/** A server's chain (leaf first) and key. */
export interface ServerCredentials {
  chainPem: string;
  keyPem: string;
}

/** What one scenario's server needs, built fresh. */
export interface ScenarioSetup {
  /** The name the client must verify and send as SNI (an address for the IP cases). */
  host: string;
  /**
   * What the server presents, or a promise of it for credentials that take long to make (an RSA
   * 4096 key): the server then listens at once and starts each handshake when they exist.
   */
  credentials: ServerCredentials | Promise<ServerCredentials>;
  /** The root(s) a client should trust for this scenario; the lab's `{ca}` bundle holds them all. */
  trustPem: string;
  /** The CAs of the chain, for the CRLs in the lab's `{crl}` bundle. */
  cas: readonly CA[];
  tls?: ServerTls;
  /** Require a client certificate issued by `trustPem`; the client gets `present` as `{cert}`/`{key}`. */
  clientAuth?: { trustPem: string; present: ClientCredentials };
  /** Also listen on [::1], on the same port (for the IPv6 case). */
  ipv6?: boolean;
}

/** A scenario that cannot be served here, and why. */
export interface Unavailable {
  unavailable: string;
}

/** Shared, lazily made material: keys reused where a scenario's point is not the key. */
export interface LabMaterials {
  /** An RSA 2048 key pair for leaves whose key is not the point (the protocol cases need RSA). */
  rsaLeafKeys(): Promise<import('node:crypto').webcrypto.CryptoKeyPair>;
  /**
   * The lab's ECDSA root, shared by every scenario whose point is not the root: one CA and one CRL
   * instead of dozens (each costs a key, a signature and ASN.1 work at start-up). Each scenario's
   * defect is in its own leaf or intermediate, which vouches only for that scenario's server.
   */
  root(): Promise<CA>;
  /** The lab's RSA root (it signs with SHA-1 or MD5 where a scenario asks). */
  rsaRoot(): Promise<CA>;
  /** The lab's client CA, a client certificate under it, and an expired one. */
  clientPki(): Promise<{ ca: CA; good: ClientCredentials; expired: ClientCredentials }>;
}

/** One case of the lab. */
export interface Scenario {
  /** Unique in the lab, e.g. `'wildcard-two-labels'`. */
  name: string;
  group: ScenarioGroup;
  /** One line: what is wrong (or right), and why the expected verdict is what it is. */
  description: string;
  expected: Expectation;
  build(materials: LabMaterials): Promise<ScenarioSetup | Unavailable>;
}
