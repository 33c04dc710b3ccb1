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

/** A lab root CA (ECDSA P-256 unless `options` says otherwise). */
export function labRoot(options: CAOptions = {}, internal: Parameters<typeof makeCA>[4] = {}): Promise<CA> {
  return makeCA('lab', { subject: 'tlskit lab root', ...options }, null, CA_DAYS, internal);
}

/** A lab intermediate under `parent`. */
export function labIntermediate(
  parent: CA,
  options: CAOptions = {},
  internal: Parameters<typeof makeCA>[4] = {},
): Promise<CA> {
  return makeCA('lab', { subject: 'tlskit lab intermediate', ...options }, parent, CA_DAYS, internal);
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
    chainPem: leaf.certPem + (chain ? chain.join('') : leaf.issuer.chainPem),
    keyPem: leaf.keyPem,
    trustPem: leaf.issuer.trust,
    cas: ancestry(leaf.issuer),
    ...rest,
  };
}
