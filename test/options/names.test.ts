/**
 * Every options object of the public API refuses a name it does not take, with an error that
 * names the function and the option and says where it belongs: for a neighbouring API's option,
 * that API; for a typo of a known name, that name; otherwise the names that are known. Each
 * function is called with valid options plus the unknown name, so only the name can be refused.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import {
  Connection,
  clientContext,
  connect,
  createConnection,
  createDatagramEndpoint,
  createServer,
  fromDuplex,
  type Server,
  serve,
  serveHttp,
  serverContext,
  startTls,
  type Transport,
  tlsAgent,
  tlsConnector,
  tlsDispatcher,
} from 'tlskit';
import { insecureClientContext, keyLog } from 'tlskit/danger';
import { createCA, exportPkcs12, loadCA } from 'tlskit/pki';
import {
  datagramPair,
  gradeClient,
  memoryPair,
  RecordingProtocol,
  selectScenarios,
  startLab,
} from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { PKI_OPTION_NAMES } from '../../src/pki/option-names.js';
import { READ_LIMIT_OPTIONS, READ_OPTIONS } from '../../src/stream/connection.js';
import { HTTP_CLIENT_OPTION_NAMES, OPEN_OPTION_NAMES } from '../../src/stream/option-names.js';
import { DATAGRAM_PAIR_OPTIONS } from '../../src/testing/datagram-pair.js';
import { SELECTION_OPTIONS } from '../../src/testing/lab/catalogue.js';
import { GRADE_OPTIONS } from '../../src/testing/lab/grader.js';
import { MEMORY_PAIR_OPTIONS } from '../../src/testing/memory-pair.js';
import { RECORDING_OPTIONS } from '../../src/testing/recording-protocol.js';
import { OPTION_NAMES } from '../../src/tls/option-names.js';
import { FROM_DUPLEX_OPTIONS } from '../../src/transport/duplex.js';
import type { OptionNames } from '../../src/transport/options.js';
import { DATAGRAM_ENDPOINT_OPTIONS } from '../../src/transport/udp.js';
import { world } from './support.js';

type Extra = Record<string, unknown>;

interface Subject {
  /** How the function names itself in errors. */
  where: string;
  /** The name of the block, when several subjects share `where` (nested objects). */
  title?: string;
  /** What finds the README paragraph that documents it (default: `where(`). */
  docs?: string;
  names: OptionNames;
  /** Calls the function with valid options plus `extra`; resolves or rejects as it does. */
  call(extra: Extra): Promise<unknown>;
  /** `ERR_CONTEXT_OPTION` for the contexts (with `field`), else `ERR_INVALID_ARGUMENT`. */
  context?: boolean;
}

/** Stops whatever a call that was wrongly accepted started, so the failure stays readable. */
function release(result: unknown): void {
  if (result instanceof Connection) result.abort();
  else if (result && typeof (result as { stop?: unknown }).stop === 'function')
    void (result as { stop(): unknown }).stop();
  else if (result && typeof (result as Server).close === 'function' && 'address' in (result as object))
    void (result as Server).close();
  else if (result && typeof (result as Transport).abort === 'function') (result as Transport).abort();
}

const lower = () => memoryPair()[0];
const loopback = { host: '127.0.0.1', port: 0 };

async function subjects(): Promise<Subject[]> {
  const { clientContext: client, serverContext: server, server: leaf } = await world();
  const own = { cert: leaf.chainPem, key: leaf.keyPem };
  const asPromise = (run: () => unknown) => Promise.resolve().then(run);
  return [
    {
      where: 'connect',
      names: OPEN_OPTION_NAMES.connect,
      call: (x) => connect({ host: '127.0.0.1', port: 1, ...x }),
    },
    {
      where: 'createConnection',
      names: OPEN_OPTION_NAMES.createConnection,
      call: (x) => createConnection(() => ({}), { host: '127.0.0.1', port: 1, ...x }),
    },
    {
      where: 'createServer',
      names: OPEN_OPTION_NAMES.createServer,
      call: (x) => createServer(() => ({}), { ...loopback, ...x }),
    },
    { where: 'serve', names: OPEN_OPTION_NAMES.serve, call: (x) => serve({ ...loopback, ...x }, () => {}) },
    {
      where: 'serveHttp',
      names: OPEN_OPTION_NAMES.serveHttp,
      call: (x) => serveHttp({ ...loopback, ...x }, () => {}),
    },
    {
      where: 'tlsConnector',
      names: HTTP_CLIENT_OPTION_NAMES.tlsConnector,
      call: (x) => asPromise(() => tlsConnector(client, x)),
    },
    {
      where: 'tlsDispatcher',
      names: HTTP_CLIENT_OPTION_NAMES.tlsDispatcher,
      call: (x) => asPromise(() => tlsDispatcher(client, x)),
    },
    {
      where: 'tlsAgent',
      names: HTTP_CLIENT_OPTION_NAMES.tlsAgent,
      call: (x) => asPromise(() => tlsAgent(client, x)),
    },
    {
      where: 'startTls',
      names: OPTION_NAMES.startTls,
      call: (x) => startTls(lower(), { context: client, serverName: 'localhost', ...x }),
    },
    {
      where: 'Connection.startTls',
      names: OPTION_NAMES['Connection.startTls'],
      call: (x) => new Connection(lower()).startTls({ context: client, serverName: 'localhost', ...x }),
    },
    {
      where: 'clientContext',
      names: OPTION_NAMES.clientContext,
      context: true,
      call: (x) => asPromise(() => clientContext({ trust: 'system', ...x })),
    },
    {
      where: 'insecureClientContext',
      names: OPTION_NAMES.insecureClientContext,
      context: true,
      call: (x) => asPromise(() => insecureClientContext({ reason: 'option tests', ...x })),
    },
    {
      where: 'keyLog',
      names: OPTION_NAMES.keyLog,
      call: (x) => asPromise(() => keyLog(client, () => {}, { reason: 'option tests', ...x })),
    },
    {
      where: 'serverContext',
      names: OPTION_NAMES.serverContext,
      context: true,
      call: (x) => asPromise(() => serverContext({ ...own, ...x })),
    },
    {
      where: 'serverContext.reload',
      names: OPTION_NAMES['serverContext.reload'],
      context: true,
      call: (x) => asPromise(() => server.reload({ ...own, ...x })),
    },
    { where: 'memoryPair', names: MEMORY_PAIR_OPTIONS, call: (x) => asPromise(() => memoryPair(x)) },
    {
      where: 'createDatagramEndpoint',
      names: DATAGRAM_ENDPOINT_OPTIONS,
      call: (x) => createDatagramEndpoint({ type: 'udp4', local: { host: '127.0.0.1' }, ...x }),
    },
    { where: 'datagramPair', names: DATAGRAM_PAIR_OPTIONS, call: (x) => asPromise(() => datagramPair(x)) },
    {
      where: 'fromDuplex',
      names: FROM_DUPLEX_OPTIONS,
      call: (x) => asPromise(() => fromDuplex(new PassThrough(), x)),
    },
    {
      where: 'RecordingProtocol',
      names: RECORDING_OPTIONS,
      call: (x) => asPromise(() => new RecordingProtocol(x)),
    },
    { where: 'read', names: READ_OPTIONS, call: (x) => new Connection(lower()).read(x) },
    { where: 'readExactly', names: READ_OPTIONS, call: (x) => new Connection(lower()).readExactly(1, x) },
    {
      where: 'readUntil',
      names: READ_LIMIT_OPTIONS,
      call: (x) => new Connection(lower()).readUntil('\n', x),
    },
    { where: 'readLine', names: READ_LIMIT_OPTIONS, call: (x) => new Connection(lower()).readLine(x) },
    ...(await pkiSubjects()),
    ...labSubjects(),
  ];
}

/** The lab's options; gradeClient's lab is one that starts no server. */
function labSubjects(): Subject[] {
  const asPromise = (run: () => unknown) => Promise.resolve().then(run);
  const emptyLab = { scenarios: [] } as unknown as Parameters<typeof gradeClient>[0];
  return [
    { where: 'startLab', names: SELECTION_OPTIONS, call: (x) => startLab({ only: ['ecdsa'], ...x }) },
    {
      where: 'selectScenarios',
      names: SELECTION_OPTIONS,
      call: (x) => asPromise(() => selectScenarios({ only: ['ecdsa'], ...x })),
    },
    { where: 'gradeClient', names: GRADE_OPTIONS, call: (x) => gradeClient(emptyLab, ['true'], x) },
  ];
}

async function pkiSubjects(): Promise<Subject[]> {
  const ca = await createCA();
  const leaf = await ca.issue({ hosts: ['localhost'] });
  const names = PKI_OPTION_NAMES;
  const bundle = { certPem: leaf.chainPem, keyPem: leaf.keyPem, password: 'pw' };
  const later = (run: () => unknown) => Promise.resolve().then(run);
  return [
    { where: 'createCA', names: names.createCA, call: (x) => createCA(x) },
    { where: 'intermediate', names: names.createCA, call: (x) => ca.intermediate(x) },
    { where: 'issue', names: names.issue, call: (x) => ca.issue({ hosts: ['localhost'], ...x }) },
    {
      where: 'issue',
      title: 'issue({ validity })',
      docs: 'validity',
      names: names.validity,
      call: (x) => ca.issue({ validity: x }),
    },
    {
      where: 'createCA',
      title: 'createCA({ nameConstraints })',
      docs: 'nameConstraints',
      names: names.nameConstraints,
      call: (x) => createCA({ nameConstraints: x }),
    },
    { where: 'revoke', names: names.revoke, call: (x) => later(() => ca.revoke(leaf, x)) },
    { where: 'crlPem', names: names.crlPem, call: (x) => ca.crlPem(x) },
    {
      where: 'exportPkcs12',
      names: names.exportPkcs12,
      call: (x) => later(() => exportPkcs12({ ...bundle, ...x })),
    },
    { where: 'toPkcs12', names: names.toPkcs12, call: (x) => later(() => leaf.toPkcs12('pw', x)) },
    {
      where: 'loadCA',
      names: names.loadCA,
      call: (x) => loadCA({ certPem: ca.certPem, keyPem: ca.keyPem, ...x }),
    },
    {
      where: 'IssuedCertificate.serverContext',
      names: names['IssuedCertificate.serverContext'],
      context: true,
      call: (x) => later(() => leaf.serverContext(x)),
    },
    {
      where: 'IssuedCertificate.clientContext',
      names: names['IssuedCertificate.clientContext'],
      context: true,
      call: (x) => later(() => leaf.clientContext({ trust: 'system', ...x })),
    },
  ];
}

/** How the error names an option of `subject`: nested ones by their path (`validity.days`). */
const label = (subject: Subject, name: string) =>
  subject.names.path ? `${subject.names.path}.${name}` : name;

/** Calls with `extra` and returns the error, which must be the refusal of `name`. */
async function refusal(subject: Subject, name: string, value: unknown = 1): Promise<string> {
  const shown = label(subject, name);
  const error = await subject.call({ [name]: value }).then(
    (result) => {
      release(result);
      return null;
    },
    (caught: Error) => caught,
  );
  expect(error, `${subject.where} accepted \`${name}\``).toBeInstanceOf(Error);
  expect(error).toMatchObject(
    subject.context ? { code: 'ERR_CONTEXT_OPTION', field: shown } : { code: 'ERR_INVALID_ARGUMENT' },
  );
  const opening = `${subject.where}: unknown option \`${shown}\`; `;
  expect(error!.message.startsWith(opening), error!.message).toBe(true);
  return error!.message.slice(opening.length);
}

/** A likely typo of `name`: its last two letters swapped. */
function typo(name: string): string {
  return `${name.slice(0, -2)}${name.at(-1)}${name.at(-2)}`;
}

const all = await subjects();

for (const subject of all) {
  const { where, names } = subject;
  const known = `known options: ${names.known.map((name) => label(subject, name)).join(', ')}`;
  describe(`${subject.title ?? where} refuses names it does not take`, () => {
    it('an unknown name, even set to undefined, with the names it knows', async () => {
      expect(await refusal(subject, 'bogusOption')).toBe(known);
      expect(await refusal(subject, 'bogusOption', undefined)).toBe(known);
    });

    it('has no hint for a name it takes', () => {
      expect(Object.keys(names.elsewhere ?? {}).filter((name) => names.known.includes(name))).toEqual([]);
    });

    it("a neighbouring API's option, saying where it belongs", async () => {
      for (const [name, hint] of Object.entries(names.elsewhere ?? {})) {
        expect(await refusal(subject, name), name).toBe(hint);
      }
    });

    it('a typo of each option it takes, naming that option', async () => {
      for (const name of names.known) {
        const misspelt = typo(name);
        if (misspelt === name || Object.hasOwn(names.elsewhere ?? {}, misspelt)) continue;
        expect(await refusal(subject, misspelt), misspelt).toBe(`did you mean \`${label(subject, name)}\`?`);
      }
    });
  });
}

describe('the README documents every option each function takes', () => {
  // A table row, or a paragraph of prose: the unit that documents one function.
  const blocks = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    .split(/\n\s*\n/)
    .flatMap((block) => (block.trimStart().startsWith('|') ? block.split('\n') : [block]));
  for (const { where, title, docs, names } of all) {
    it(title ?? where, () => {
      const call = docs ?? `${where.split('.').at(-1)}(`;
      const rows = blocks.filter((block) => block.includes(call));
      expect(rows, `no README line mentions ${call}`).not.toEqual([]);
      const undocumented = names.known.filter(
        (name) => !rows.some((row) => new RegExp(`\\b${name}\\b`).test(row)),
      );
      expect(undocumented, `options of ${where} the README does not mention`).toEqual([]);
    });
  }
});

describe("an issued certificate's context shortcuts", () => {
  it("pass every option on to the context, whose options' effects are walked in effects.test.ts", async () => {
    const { ca, server } = await world();
    const options = { alpn: ['h2'], clientAuth: 'optional' as const, trust: ca.trust, allowTruncation: true };
    const timeouts = { handshakeTimeout: 1234, closeTimeout: 567 };
    const { trust: _trust, ...visible } = options;
    expect(server.serverContext({ ...options, ...timeouts })).toMatchObject({ ...visible, ...timeouts });
    expect(server.clientContext({ trust: ca.trust, alpn: ['h2'], ...timeouts })).toMatchObject({
      alpn: ['h2'],
      ...timeouts,
    });
  });
});
