/**
 * `startLab`: every scenario's server at once, each on its own loopback port, and the files a
 * client needs, in one temporary directory that `stop()` removes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CA } from '../../pki/ca.js';
import { labMaterials, type Selection, selectScenarios } from './catalogue.js';
import { type RunningServer, startServer } from './servers.js';
import type {
  ClientCredentials,
  Expectation,
  Scenario,
  ScenarioGroup,
  ScenarioSetup,
  Unavailable,
} from './types.js';

/** Options of `startLab`: which scenarios (`only`, `skip`: names or groups). */
export interface LabOptions extends Selection {}

/** Paths of the files a client under test is handed. */
export interface LabFiles {
  /** Every root a strict client should trust for the lab (`{ca}`). */
  ca: string;
  /** A CRL for every CA of every scenario (`{crl}`); the revoked leaf is listed in its CA's. */
  crl: string;
  /**
   * Only the CRLs the roots in `ca` signed (`{rootcrl}`), for clients that check every CRL against
   * their trust list as they load it and refuse a file holding any other (gnutls-cli).
   */
  rootCrl: string;
  /** The client certificate (and key) to present (`{cert}`, `{key}`). */
  cert: string;
  key: string;
}

/** One scenario of a running lab. */
export interface LabScenario {
  name: string;
  group: ScenarioGroup;
  description: string;
  expected: Expectation;
  /** `null` when it is served; otherwise why this machine cannot serve it (it is skipped). */
  unavailable: string | null;
  /** The name to verify and send as SNI (`{host}`; an address for the IP cases). */
  host: string;
  /** The address to connect to (`{addr}`): 127.0.0.1. */
  addr: string;
  /** The server's port (`{port}`); 0 when unavailable. */
  port: number;
  /** `https://{host}:{port}/` (`{url}`). */
  url: string;
  files: LabFiles;
}

/** A running lab. */
export interface Lab {
  readonly scenarios: readonly LabScenario[];
  /** The temporary directory holding every file below; removed by `stop()`. */
  readonly dir: string;
  /** The CA bundle to trust, as a file and as PEM. */
  readonly ca: { path: string; pem: string };
  /** The CRL bundle, as a file and as PEM. */
  readonly crl: { path: string; pem: string };
  /** The lab's client certificate for the mTLS scenarios, as files and PEM. */
  readonly client: { certPath: string; keyPath: string; certPem: string; keyPem: string };
  /**
   * Settles when every server can complete a handshake. `startLab` resolves as soon as every
   * server listens and every file is written; a key that takes long to make (the RSA 4096 leaf)
   * may still be in the making then, and a handshake with that server waits for it.
   */
  readonly ready: Promise<void>;
  /** The scenario called `name`, or an error naming it. */
  scenario(name: string): LabScenario;
  /** Closes every server and connection and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

const ADDR = '127.0.0.1';

const bracketed = (host: string) => (host.includes(':') ? `[${host}]` : host);

type Built = { scenario: Scenario; setup: ScenarioSetup | Unavailable };

/**
 * One CRL per distinct CA, signed now: all of them for `{crl}` (covering every chain, as OpenSSL's
 * CRL_CHECK_ALL wants), and those of the trusted roots alone for `{rootcrl}`.
 */
async function crlBundles(built: readonly Built[], trusted: string): Promise<{ all: string; roots: string }> {
  const cas = new Set<CA>();
  for (const { setup } of built) if ('cas' in setup) for (const ca of setup.cas) cas.add(ca);
  const signed = await Promise.all([...cas].map(async (ca) => ({ ca, pem: await ca.crlPem() })));
  const roots = signed.filter(({ ca }) => ca.parent === null && trusted.includes(ca.certPem));
  return { all: signed.map(({ pem }) => pem).join(''), roots: roots.map(({ pem }) => pem).join('') };
}

function unique(pems: string[]): string {
  return [...new Set(pems)].join('');
}

/**
 * Starts the lab: builds every selected scenario concurrently (RSA key generation runs on the
 * thread pool), signs the CRLs, writes the files, and starts one server per available scenario.
 */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const selected = selectScenarios(options, 'startLab');
  const materials = labMaterials();
  const built: Built[] = await Promise.all(
    selected.map(async (scenario) => ({ scenario, setup: await scenario.build(materials) })),
  );
  const dir = mkdtempSync(join(tmpdir(), 'tlskit-badtls-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  const servers: RunningServer[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= Promise.all(servers.map((server) => server.close())).then(() => {
      cleanup();
      process.off('exit', cleanup);
    });
    return stopped;
  };
  try {
    const file = (name: string, text: string, mode = 0o644) => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode });
      return path;
    };
    const client = await materials.clientPki();
    const caPem = unique(built.flatMap(({ setup }) => ('trustPem' in setup ? [setup.trustPem] : [])));
    const crls = await crlBundles(built, caPem);
    const crlPem = crls.all;
    const shared = {
      ca: file('ca.pem', caPem),
      crl: file('crl.pem', crlPem),
      rootCrl: file('root-crl.pem', crls.roots),
      cert: file('client.pem', client.good.certPem),
      key: file('client-key.pem', client.good.keyPem, 0o600),
    };
    const presented = (name: string, present: ClientCredentials | undefined): LabFiles =>
      !present || present === client.good
        ? shared
        : {
            ...shared,
            cert: file(`${name}-client.pem`, present.certPem),
            key: file(`${name}-client-key.pem`, present.keyPem, 0o600),
          };
    // allSettled, not all: when one server fails to start, the others may still be starting, and
    // each must be in `servers` before stop() closes them.
    const settled = await Promise.allSettled(
      built.map(async ({ scenario, setup }): Promise<LabScenario> => {
        const about = {
          name: scenario.name,
          group: scenario.group,
          description: scenario.description,
          expected: scenario.expected,
          addr: ADDR,
        };
        if ('unavailable' in setup) {
          return { ...about, unavailable: setup.unavailable, host: '', port: 0, url: '', files: shared };
        }
        const server = await startServer(scenario, setup);
        servers.push(server);
        return {
          ...about,
          unavailable: null,
          host: setup.host,
          port: server.port,
          url: `https://${bracketed(setup.host)}:${server.port}/`,
          files: presented(scenario.name, setup.clientAuth?.present),
        };
      }),
    );
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const scenarios = settled.map((result) => (result as PromiseFulfilledResult<LabScenario>).value);
    const ready = Promise.all(servers.map((server) => server.ready)).then(() => {});
    ready.catch(() => {}); // a caller who never awaits it must not get an unhandled rejection
    return {
      scenarios,
      dir,
      ready,
      ca: { path: shared.ca, pem: caPem },
      crl: { path: shared.crl, pem: crlPem },
      client: {
        certPath: shared.cert,
        keyPath: shared.key,
        certPem: client.good.certPem,
        keyPem: client.good.keyPem,
      },
      scenario(name) {
        const found = scenarios.find((s) => s.name === name);
        if (!found) throw new Error(`the lab has no scenario '${name}'`);
        return found;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
