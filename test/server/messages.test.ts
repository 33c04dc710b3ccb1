/**
 * What crosses the cluster's JSON channel: bytes anywhere in a value survive the trip, and a
 * context's current certificates, sent to every worker, are what `reload` takes, `sni` included.
 */
import { createCA } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';
import { fromWire, toWire } from '../../src/server/messages.js';
import { kCurrentCredentials, kOnContextChange, serverContext } from '../../src/tls/server-context.js';

describe('the IPC encoding', () => {
  it('carries bytes at any depth through JSON, and drops undefined fields as JSON does', () => {
    const value = {
      cert: new Uint8Array([0, 1, 255]),
      key: 'PEM text',
      passphrase: undefined,
      sni: { 'a.test': { pfx: Buffer.from('bundle'), passphrase: 'pw' } },
      list: [new Uint8Array([7]), 3, null],
    };
    const back = fromWire(JSON.parse(JSON.stringify(toWire(value)))) as typeof value;
    expect(Buffer.from(back.cert)).toEqual(Buffer.from([0, 1, 255]));
    expect(back.key).toBe('PEM text');
    expect('passphrase' in back).toBe(false);
    expect(back.sni['a.test']).toEqual({ pfx: Buffer.from('bundle'), passphrase: 'pw' });
    expect(back.list).toEqual([Buffer.from([7]), 3, null]);
  });

  it("a context's current certificates, through the channel, reload another context to serve the same", async () => {
    const ca = await createCA();
    const [own, named, next] = await Promise.all(
      ['own', 'named', 'next'].map((subject) => ca.issue({ hosts: [`${subject}.test`], subject })),
    );
    const primary = serverContext({
      cert: Buffer.from(own!.chainPem),
      key: own!.keyPem,
      sni: { 'named.test': { cert: named!.chainPem, key: Buffer.from(named!.keyPem) } },
    });
    const changes: string[] = [];
    primary[kOnContextChange]((change) => changes.push(change));
    primary.reload({ cert: next!.chainPem, key: next!.keyPem });
    primary.rotateTicketKeys();
    expect(changes).toEqual(['reload', 'ticketKeys']);
    const sent = JSON.parse(JSON.stringify(toWire(primary[kCurrentCredentials]())));
    const worker = serverContext({ cert: own!.chainPem, key: own!.keyPem });
    worker.reload(fromWire(sent) as Parameters<typeof worker.reload>[0]);
    expect(worker[kCurrentCredentials]()).toEqual({
      cert: next!.chainPem,
      key: next!.keyPem,
      sni: { 'named.test': { cert: named!.chainPem, key: Buffer.from(named!.keyPem) } },
    });
  });

  it('a failed reload tells no listener', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ hosts: ['x.test'] });
    const context = serverContext({ cert: leaf.chainPem, key: leaf.keyPem });
    const changes: string[] = [];
    context[kOnContextChange]((change) => changes.push(change));
    expect(() => context.reload({ cert: 'not a certificate', key: leaf.keyPem })).toThrow();
    expect(changes).toEqual([]);
  });
});
