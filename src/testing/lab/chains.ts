/**
 * Small helpers the scenario catalogues share: CAs and leaves minted through tlskit/pki's one
 * `mint` path (with its internal knobs for broken shapes), and a setup from a leaf and its chain.
 */
import { type CA, type CAOptions, kSigner, makeCA } from '../../pki/ca.js';
import { type IssueInternals, type IssueOptions, issueLeaf } from '../../pki/issued.js';
import type { ScenarioSetup } from './types.js';

/** The name most scenarios are reached by: it resolves to loopback everywhere. */
export const LOCALHOST = 'localhost';
/** Lab CAs live a month: long enough for any run, short enough to be obviously for tests. */
const CA_DAYS = 30;

/**
 * A CA subject unique in the lab. The `{ca}` bundle holds every root and `{crl}` every CA's CRL,
 * and clients find a CRL's issuer by name: two CAs called the same make gnutls refuse the whole
 * CRL file, and could make any client check a signature against the wrong key.
 */
function unique(label: string): string {
  return `tlskit lab ${label} ${Math.random().toString(36).slice(2, 8)}`;
}

/** A lab root CA (ECDSA P-256 unless `options` says otherwise). */
export function labRoot(options: CAOptions = {}, internal: Parameters<typeof makeCA>[4] = {}): Promise<CA> {
  return makeCA(
    'lab',
    { ...options, subject: unique(String(options.subject ?? 'root')) },
    null,
    CA_DAYS,
    internal,
  );
}

/** A lab intermediate under `parent`. */
export function labIntermediate(
  parent: CA,
  options: CAOptions = {},
  internal: Parameters<typeof makeCA>[4] = {},
): Promise<CA> {
  const label = String(options.subject ?? 'intermediate');
  return makeCA('lab', { ...options, subject: unique(label) }, parent, CA_DAYS, internal);
}

/** A server leaf under `ca` for `localhost` unless `options.hosts` says otherwise. */
export function labLeaf(ca: CA, options: IssueOptions = {}, internals: IssueInternals = {}) {
  return issueLeaf(ca, ca[kSigner], { hosts: [LOCALHOST], usage: 'server', ...options }, internals);
}

/** The CAs from `ca` up to its root. */
export function ancestry(ca: CA): CA[] {
  const cas: CA[] = [];
  for (let at: CA | null = ca; at; at = at.parent) cas.push(at);
  return cas;
}

/**
 * A setup for a leaf issued by `issuer`: the server sends the leaf and `issuer`'s intermediates
 * (all of them, in order, unless `chain` says what to send), the client trusts the root.
 */
export function served(
  leaf: { certPem: string; keyPem: string; issuer: CA },
  extra: Partial<ScenarioSetup> & { chain?: string[] } = {},
): ScenarioSetup {
  const { chain, ...rest } = extra;
  return {
    host: LOCALHOST,
    credentials: {
      chainPem: leaf.certPem + (chain ? chain.join('') : leaf.issuer.chainPem),
      keyPem: leaf.keyPem,
    },
    trustPem: leaf.issuer.trust,
    cas: ancestry(leaf.issuer),
    ...rest,
  };
}
