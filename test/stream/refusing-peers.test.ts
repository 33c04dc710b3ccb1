/**
 * A server that refuses a peer from inside connectionMade (an allow-list, a connection limit) is
 * the ordinary case of ending a connection there: whatever the protocol set up must be released in
 * connectionLost, which therefore has to come, once, through createServer and serve, with and
 * without TLS.
 */
import { connect, createConnection, createServer, type Protocol, serve, type Transport } from 'tlskit';
import { RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { contexts } from '../helpers/tls-pairs.js';

type Refusal = 'abort' | 'throw' | 'close';

function refuse(how: Refusal, reason: Error, transport: Transport): void {
  if (how === 'abort') transport.abort(reason);
  else if (how === 'close') transport.close();
  else throw reason;
}

/** Serves one connection whose protocol refuses the peer; returns both ends' recordings. */
async function refusedConnection(how: Refusal, secure: boolean) {
  const reason = new Error('not on the allow-list');
  const { client, server: tls } = contexts();
  let refused!: RecordingProtocol;
  const server = await createServer(
    () => {
      refused = new RecordingProtocol({ onMade: (transport) => refuse(how, reason, transport) });
      return refused;
    },
    { host: '127.0.0.1', port: 0, tls: secure ? tls : undefined },
  );
  const peer = new RecordingProtocol();
  const attempt = createConnection(() => peer, {
    host: '127.0.0.1',
    port: server.address.port,
    tls: secure ? client : undefined,
    serverName: 'localhost',
  }).catch((error: Error) => error);
  // A plain server can reset the client before its own connect completes; report it either way.
  const peerEnd = attempt.then((outcome) => (outcome instanceof Error ? outcome : peer.waitForLost()));
  return { reason, server, peerEnd, peer, refused: () => refused };
}

describe('a createServer protocol that ends the connection in connectionMade', () => {
  for (const secure of [false, true]) {
    const over = secure ? 'over TLS' : 'over TCP';
    for (const how of ['abort', 'throw'] as const) {
      it(`${how === 'abort' ? 'abort(error)' : 'a throw'} ${over}: connectionLost(error) once, the client sees an error, the server forgets the connection`, async () => {
        const { reason, server, peerEnd, peer, refused } = await refusedConnection(how, secure);
        const error = await peerEnd;
        expect(error).toBeInstanceOf(Error);
        expect(typeof (error as { code?: unknown }).code).toBe('string');
        expect(peer.eofCount).toBe(0);
        expect(await refused().waitForLost()).toBe(reason);
        expect(server.connections).toBe(0);
        await turns(10);
        expect(refused().events).toEqual(['made', 'lost:Error']);
        expect(refused().violations).toEqual([]);
        await server.close();
      });
    }

    it(`close() ${over}: both ends see a clean end`, async () => {
      const { server, peerEnd, peer, refused } = await refusedConnection('close', secure);
      expect(await peerEnd).toBeNull();
      expect(peer.eofCount).toBe(1);
      expect(await refused().waitForLost()).toBeNull();
      await turns(10);
      expect(refused().events).toEqual(['made', 'lost']);
      await server.close();
    });
  }
});

describe('a serve handler that refuses at once', () => {
  it('abort(error) settles `closed` with the error and resets the client', async () => {
    const reason = new Error('limit reached');
    let closed!: Promise<Error | null>;
    const server = await serve({ host: '127.0.0.1', port: 0 }, (connection) => {
      closed = connection.closed;
      connection.abort(reason);
    });
    // The reset can beat the client's own connect; either way it surfaces as ECONNRESET.
    const outcome = await connect({ host: '127.0.0.1', port: server.address.port })
      .then((conn) => conn.read())
      .catch((error: unknown) => error);
    expect(outcome).toMatchObject({ code: 'ECONNRESET' });
    expect(await closed).toBe(reason);
    await server.close();
  });
});

describe('a protocol rebound inside connectionMade', () => {
  it('the protocol bound last hears connectionLost once, the one it replaced never', async () => {
    const last = new RecordingProtocol();
    const first: Protocol = {
      connectionMade(transport) {
        transport.setProtocol(last);
        transport.abort(new Error('handed over, then refused'));
      },
      connectionLost() {
        throw new Error('the replaced protocol must not hear connectionLost');
      },
    };
    const server = await createServer(() => first, { host: '127.0.0.1', port: 0 });
    const client = connect({ host: '127.0.0.1', port: server.address.port }).catch(() => null);
    expect((await last.waitForLost())?.message).toBe('handed over, then refused');
    await turns(10);
    expect(last.events).toEqual(['made', 'lost:Error']);
    expect(last.violations).toEqual([]);
    (await client)?.abort();
    await server.close();
  });
});
