/**
 * startTls and Connection.startTls: the options they share run through both, by way of an
 * upgrader; `protocol` and `unconsumed` are startTls's alone, and each has its own way to meet
 * pending plaintext.
 */
import { Connection, clientContext, type StartTlsOptions, startTls, type Transport } from 'tlskit';
import { memoryPair, RecordingProtocol, turns } from 'tlskit/testing';
import { expect } from 'vitest';
import { type EffectTable, outcome, rejectsWith, within, world } from './support.js';

type Shared = Omit<StartTlsOptions, 'protocol' | 'unconsumed'>;
/** Upgrades the lower transport `a` as the client, with `options`; resolves with the TLS transport. */
type Upgrader = (a: Transport, options: Shared) => Promise<Transport>;

const withStartTls: Upgrader = (a, options) => startTls(a, options);

const withConnection: Upgrader = async (a, options) => {
  const connection = new Connection(a);
  await connection.startTls(options);
  return connection.transport;
};

/** A memory pair whose server side upgrades normally and whose client side `upgrade` drives. */
async function againstServer(upgrade: Upgrader, options: Shared) {
  const { serverContext } = await world();
  const [a, b] = memoryPair();
  const server = outcome(startTls(b, { context: serverContext }));
  const client = await outcome(upgrade(a, options));
  (await server).transport?.abort();
  client.transport?.abort();
  return client;
}

/** A memory pair whose other end never speaks TLS. */
function silentPeer(): Transport {
  const [a, b] = memoryPair();
  b.setProtocol({});
  return a;
}

function sharedEffects(upgrade: Upgrader): EffectTable {
  return {
    async context() {
      const { clientContext: trusting, other } = await world();
      const result = await againstServer(upgrade, { context: trusting, serverName: 'localhost' });
      expect(result.transport?.info.tls?.role).toBe('client');
      const distrusting = clientContext({ trust: other.trust });
      const refused = await againstServer(upgrade, { context: distrusting, serverName: 'localhost' });
      expect(refused.error).toMatchObject({ code: 'UNKNOWN_ISSUER' });
    },
    async serverName() {
      const { clientContext: context } = await world();
      const refused = await againstServer(upgrade, { context, serverName: 'elsewhere.test' });
      expect(refused.error).toMatchObject({ code: 'HOSTNAME_MISMATCH' });
    },
    async handshakeTimeout() {
      const { clientContext: context } = await world();
      const attempt = upgrade(silentPeer(), { context, serverName: 'localhost', handshakeTimeout: 100 });
      const error = await within(1_500, rejectsWith(attempt, 'ERR_TIMEOUT'), 'the handshake deadline');
      expect(error).toMatchObject({ timeout: 100 });
    },
    async signal() {
      const { clientContext: context } = await world();
      const controller = new AbortController();
      const attempt = upgrade(silentPeer(), { context, serverName: 'localhost', signal: controller.signal });
      setImmediate(() => controller.abort());
      await rejectsWith(attempt, 'ABORT_ERR');
    },
  };
}

/**
 * The server's side of a pipelined ClientHello: the first bytes of it arrive as plaintext before
 * the server upgrades. `take` upgrades with them; resolves once both handshakes are done.
 */
async function pipelined(take: (b: Transport) => Promise<Transport>): Promise<void> {
  const { clientContext: context } = await world();
  const [a, b] = memoryPair({ chunkSize: 50 });
  const client = startTls(a, { context, serverName: 'localhost' });
  const [ct, st] = await Promise.all([client, take(b)]);
  expect(st.info.kind).toBe('tls');
  ct.abort();
  st.abort();
}

export const effects = {
  startTls: {
    ...sharedEffects(withStartTls),
    async protocol() {
      const { clientContext: context, serverContext } = await world();
      const [a, b] = memoryPair();
      const lower = new RecordingProtocol();
      a.setProtocol(lower);
      const given = new RecordingProtocol();
      const [ct, st] = await Promise.all([
        startTls(a, { context, serverName: 'localhost', protocol: given }),
        startTls(b, { context: serverContext }),
      ]);
      expect(ct.protocol).toBe(given);
      expect(given.transport).toBe(ct);
      expect(lower.events).toEqual(['made']); // the lower protocol did not carry over
      ct.abort();
      st.abort();
    },
    async unconsumed() {
      const { clientContext: context } = await world();
      const attempt = startTls(silentPeer(), {
        context,
        serverName: 'localhost',
        unconsumed: Buffer.from('250 ok'),
      });
      expect(await rejectsWith(attempt, 'ERR_STARTTLS_PENDING_PLAINTEXT')).toMatchObject({ pendingBytes: 6 });
    },
    async pendingPlaintext() {
      const { serverContext } = await world();
      await pipelined(
        (b) =>
          new Promise<Transport>((resolve, reject) => {
            b.setProtocol({
              dataReceived(data) {
                if (b.protocol !== this) return;
                startTls(b, { context: serverContext, unconsumed: data, pendingPlaintext: 'handshake' }).then(
                  resolve,
                  reject,
                );
              },
            });
          }),
      );
    },
  } satisfies EffectTable,
  'Connection.startTls': {
    ...sharedEffects(withConnection),
    async pendingPlaintext() {
      const { serverContext } = await world();
      await pipelined(async (b) => {
        const connection = new Connection(b);
        for (let turn = 0; connection.bufferedBytes === 0; turn++) {
          expect(turn).toBeLessThan(1_000);
          await turns(1);
        }
        await connection.startTls({ context: serverContext, pendingPlaintext: 'handshake' });
        return connection.transport;
      });
    },
  } satisfies EffectTable,
};
