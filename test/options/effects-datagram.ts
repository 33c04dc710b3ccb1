/** Datagram endpoints: createDatagramEndpoint (UDP) and datagramPair (tlskit/testing). */
import { createDatagramEndpoint, type DatagramTransport } from 'tlskit';
import { type DatagramPairOptions, DatagramRecorder, datagramPair, turns } from 'tlskit/testing';
import { expect } from 'vitest';
import type { EffectTable } from './support.js';

const host = '127.0.0.1';

/** How many of `count` datagrams a sends b arrive (each is `i`), in arrival order. */
async function arrivals(options: DatagramPairOptions, count = 100): Promise<string[]> {
  const [a, b] = datagramPair(options);
  const receiver = new DatagramRecorder();
  a.setProtocol({});
  b.setProtocol(receiver);
  for (let i = 0; i < count; i++) a.send(String(i));
  for (let turn = 0; turn < 10_000 && a.writeBufferSize > 0; turn++) await turns(1);
  a.abort();
  b.abort();
  return receiver.datagrams.map((d) => Buffer.from(d.data).toString());
}

const inOrder = Array.from({ length: 100 }, (_, i) => String(i));

async function echoOnce(client: DatagramTransport, server: DatagramTransport): Promise<string> {
  server.setProtocol({ datagramReceived: (data, from) => server.send(data, from) });
  const heard = new DatagramRecorder();
  client.setProtocol(heard);
  client.send('ping');
  await heard.waitFor('the echo', () => heard.datagrams.length > 0);
  return Buffer.from(heard.datagrams[0]!.data).toString();
}

export const effects: Record<'createDatagramEndpoint' | 'datagramPair', EffectTable> = {
  createDatagramEndpoint: {
    type: async () => {
      const v6 = await createDatagramEndpoint({ type: 'udp6', local: { host: '::' } });
      expect(v6.info.kind).toBe('udp6');
      expect(v6.maxDatagramSize).toBe(65_527);
      v6.abort();
    },
    local: async () => {
      const first = await createDatagramEndpoint({ type: 'udp4', local: { host } });
      const port = first.info.local!.port;
      first.abort();
      const again = await createDatagramEndpoint({ type: 'udp4', local: { host, port } });
      expect(again.info.local).toEqual({ host, port });
      again.abort();
    },
    remote: async () => {
      const server = await createDatagramEndpoint({ type: 'udp4', local: { host } });
      const client = await createDatagramEndpoint({ type: 'udp4', remote: server.info.local! });
      expect(client.info.peer).toEqual(server.info.local);
      expect(await echoOnce(client, server)).toBe('ping'); // sent with no `to`: the remote is used
      client.abort();
      server.abort();
    },
    reuseAddress: async () => {
      const first = await createDatagramEndpoint({ type: 'udp4', local: { host }, reuseAddress: true });
      const local = { host, port: first.info.local!.port };
      await expect(createDatagramEndpoint({ type: 'udp4', local })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      const second = await createDatagramEndpoint({ type: 'udp4', local, reuseAddress: true });
      expect(second.info.local).toEqual(local);
      first.abort();
      second.abort();
    },
    sendBufferSize: async () => {
      const plain = await createDatagramEndpoint({ type: 'udp4', local: { host } });
      const small = await createDatagramEndpoint({ type: 'udp4', local: { host }, sendBufferSize: 8192 });
      expect(small.info.sendBufferSize).toBeLessThan(plain.info.sendBufferSize!);
      plain.abort();
      small.abort();
    },
    receiveBufferSize: async () => {
      const plain = await createDatagramEndpoint({ type: 'udp4', local: { host } });
      const small = await createDatagramEndpoint({ type: 'udp4', local: { host }, receiveBufferSize: 8192 });
      expect(small.info.receiveBufferSize).toBeLessThan(plain.info.receiveBufferSize!);
      plain.abort();
      small.abort();
    },
    signal: async () => {
      await expect(
        createDatagramEndpoint({ type: 'udp4', local: { host }, signal: AbortSignal.abort() }),
      ).rejects.toMatchObject({ code: 'ABORT_ERR' });
    },
  },
  datagramPair: {
    seed: async () => {
      const options = { loss: 0.3, reordering: 0.2 };
      expect(await arrivals({ ...options, seed: 1 })).not.toEqual(await arrivals({ ...options, seed: 2 }));
    },
    loss: async () => {
      expect((await arrivals({ loss: 0.5 })).length).toBeLessThan(80);
    },
    duplication: async () => {
      expect((await arrivals({ duplication: 0.5 })).length).toBeGreaterThan(120);
    },
    reordering: async () => {
      const shuffled = await arrivals({ reordering: 0.3 });
      expect(shuffled).not.toEqual(inOrder);
      expect([...shuffled].sort()).toEqual([...inOrder].sort());
    },
    delay: async () => {
      const [a, b] = datagramPair({ delay: 50, seed: 1 });
      const receiver = new DatagramRecorder();
      a.setProtocol({});
      b.setProtocol(receiver);
      for (let i = 0; i < 10; i++) a.send('x');
      await turns(2);
      expect(receiver.datagrams.length).toBeLessThan(10);
      a.abort();
      b.abort();
    },
    maxDatagramSize: async () => {
      const [a] = datagramPair({ maxDatagramSize: 1200 });
      a.setProtocol({});
      expect(() => a.send(new Uint8Array(1201))).toThrow(/1201 bytes is over the limit of 1200 bytes/);
      a.abort();
    },
    closeTimeout: async () => {
      const [a, b] = datagramPair({ delay: 1_000_000, closeTimeout: 20 });
      const sender = new DatagramRecorder();
      a.setProtocol(sender);
      b.setProtocol({});
      a.send('slow');
      a.close();
      await sender.waitFor('connectionLost', () => sender.lostCount > 0, 2_000);
      expect(sender.lostError).toMatchObject({ code: 'ERR_TIMEOUT', timeout: 20 });
      b.abort();
    },
  },
};
