/**
 * diagnostics_channel tracing: what a subscriber sees for a served connection, a failed
 * handshake and a refusal, and that nothing is built when nobody subscribes.
 */
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import net from 'node:net';
import { clientContext, connect, type Server, serve, type TcpAddress } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { channels, traceHandshake } from '../../src/server/tracing.js';
import { world } from '../options/support.js';

const loopback = { host: '127.0.0.1', port: 0 };
const portOf = (server: Server) => (server.address as TcpAddress).port;
const NAMES = [
  'tlskit:connection:open',
  'tlskit:connection:close',
  'tlskit:handshake:start',
  'tlskit:handshake:end',
  'tlskit:handshake:error',
  'tlskit:limit',
] as const;

let subscribed: Array<[string, (message: unknown) => void]> = [];
afterEach(() => {
  for (const [name, listener] of subscribed) diagnostics.unsubscribe(name, listener);
  subscribed = [];
});

/** Records every tlskit channel's messages, in order. */
function record(): Array<{ channel: string; message: Record<string, unknown> }> {
  const seen: Array<{ channel: string; message: Record<string, unknown> }> = [];
  for (const name of NAMES) {
    const listener = (message: unknown) =>
      seen.push({ channel: name, message: message as Record<string, unknown> });
    diagnostics.subscribe(name, listener);
    subscribed.push([name, listener]);
  }
  return seen;
}

/** Resolves once `tlskit:connection:open` was published (the server admitted the socket). */
function waitUntilOpen(seen: Array<{ channel: string }>): Promise<void> {
  return new Promise((resolve) => {
    const listener = () => {
      diagnostics.unsubscribe('tlskit:connection:open', listener);
      resolve();
    };
    if (seen.some(({ channel }) => channel === 'tlskit:connection:open')) resolve();
    else diagnostics.subscribe('tlskit:connection:open', listener);
  });
}

describe('tracing', () => {
  it('a served TLS connection: open, handshake start and end (both sides), close', async () => {
    const { serverContext, clientContext: trusting } = await world();
    const server = await serve({ ...loopback, tls: serverContext }, (connection) => connection.write('hi\n'));
    const seen = record();
    const client = await connect({
      ...loopback,
      port: portOf(server),
      tls: trusting,
      serverName: 'localhost',
    });
    expect(await client.readLine()).toBe('hi');
    await client.read();
    await client.close();
    await server.close();
    const server_ = seen.filter(({ message }) => message.role !== 'client');
    expect(server_.map(({ channel }) => channel)).toEqual([
      'tlskit:connection:open',
      'tlskit:handshake:start',
      'tlskit:handshake:end',
      'tlskit:connection:close',
    ]);
    const end = seen.find(
      ({ channel, message }) => channel === 'tlskit:handshake:end' && message.role === 'server',
    );
    expect(end?.message).toMatchObject({
      role: 'server',
      peer: { host: '127.0.0.1' },
      tls: { protocol: 'TLSv1.3', serverName: 'localhost' },
      duration: expect.any(Number),
    });
    const close = seen.find(({ channel }) => channel === 'tlskit:connection:close');
    expect(close?.message).toMatchObject({
      error: null,
      server: server.address,
      duration: expect.any(Number),
    });
    const clientEnd = seen.find(
      ({ channel, message }) => channel === 'tlskit:handshake:end' && message.role === 'client',
    );
    expect(clientEnd?.message).toMatchObject({ serverName: 'localhost', tls: { role: 'client' } });
  });

  it('a failed verification publishes handshake:error with the certificate error code', async () => {
    const { serverContext, other } = await world();
    const server = await serve({ ...loopback, tls: serverContext }, () => {});
    const seen = record();
    const stranger = clientContext({ trust: other.trust });
    await expect(connect({ ...loopback, port: portOf(server), tls: stranger })).rejects.toThrow();
    await server.close();
    const failure = seen.find(
      ({ channel, message }) => channel === 'tlskit:handshake:error' && message.role === 'client',
    );
    expect(failure?.message).toMatchObject({
      role: 'client',
      serverName: '127.0.0.1',
      code: 'UNKNOWN_ISSUER',
      error: expect.objectContaining({ name: 'CertificateError' }),
    });
  });

  it('a connection dropped in its handshake by close() is announced closed, as it was announced open', async () => {
    const { serverContext } = await world();
    const server = await serve({ ...loopback, tls: serverContext }, () => {});
    const seen = record();
    const silent = net.connect(portOf(server), '127.0.0.1'); // connects, sends no ClientHello
    silent.on('error', () => {});
    await once(silent, 'connect');
    await waitUntilOpen(seen);
    expect(await server.close()).toEqual({ drained: 0, aborted: 0, dropped: 1 });
    const lifecycle = seen.filter(({ channel }) => channel.startsWith('tlskit:connection:'));
    expect(lifecycle.map(({ channel }) => channel)).toEqual([
      'tlskit:connection:open',
      'tlskit:connection:close',
    ]);
    expect(lifecycle[1]!.message).toMatchObject({ error: expect.objectContaining({ code: 'ABORT_ERR' }) });
    silent.destroy();
  });

  it('publishes nothing and builds nothing without subscribers', async () => {
    for (const channel of Object.values(channels)) expect(channel.hasSubscribers).toBe(false);
    let built = 0;
    const transport = { info: { tls: undefined } };
    const handshake = Promise.resolve(transport);
    const traced = traceHandshake(() => {
      built++;
      return { role: 'server', peer: null, serverName: null };
    }, handshake);
    expect(traced).toBe(handshake); // the same promise: no extra hop either
    await traced;
    expect(built).toBe(0);
  });
});
