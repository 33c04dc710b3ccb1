/**
 * UDP specifics the conformance suite cannot express: connected filtering, ICMP errors that do not
 * close, unconnected sends, cancelling the bind, and the send-queue logic's edge cases through a
 * socket whose queue we control (loopback never fills a real one; datagram-conformance.test.ts
 * shows flow control on real sockets through a rate-limited veth pair).
 */

import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createDatagramEndpoint, UdpTransport } from 'tlskit';
import { DatagramRecorder } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

const host = '127.0.0.1';

/** A port nobody listens on: bound by a throwaway endpoint, then released. */
async function closedPort(): Promise<number> {
  const probe = await createDatagramEndpoint({ type: 'udp4', local: { host } });
  const port = probe.info.local!.port;
  probe.abort();
  return port;
}

describe('createDatagramEndpoint over UDP', () => {
  it('reports ICMP port unreachable on a connected socket as errorReceived and stays usable', async () => {
    const port = await closedPort();
    const client = await createDatagramEndpoint({ type: 'udp4', local: { host }, remote: { host, port } });
    const recorder = new DatagramRecorder();
    client.setProtocol(recorder);
    // The first send provokes the ICMP error; later ones (if the error raced) keep provoking it.
    for (let i = 0; i < 50 && recorder.errors.length === 0; i++) {
      client.send('anyone there?');
      await recorder.waitFor('errorReceived', () => recorder.errors.length > 0, 100).catch(() => {});
    }
    expect(recorder.errors[0]).toMatchObject({ code: 'ECONNREFUSED' });
    expect(client.closing).toBe(false);
    expect(recorder.lostCount).toBe(0);
    // Usable: once something listens there, the same endpoint reaches it.
    const server = await createDatagramEndpoint({ type: 'udp4', local: { host, port } });
    const heard = new DatagramRecorder();
    server.setProtocol(heard);
    client.send('now?');
    await heard.waitFor('the datagram after the error', () => heard.datagrams.length > 0);
    expect(Buffer.from(heard.datagrams[0]!.data).toString()).toBe('now?');
    client.close();
    server.close();
    await recorder.waitFor('connectionLost', () => recorder.lostCount === 1);
  });

  it('a connected endpoint hears only its peer', async () => {
    const server = await createDatagramEndpoint({ type: 'udp4', local: { host } });
    const serverAddress = server.info.local!;
    const peer = await createDatagramEndpoint({ type: 'udp4', local: { host } });
    const client = await createDatagramEndpoint({ type: 'udp4', local: { host }, remote: peer.info.local! });
    const stranger = await createDatagramEndpoint({ type: 'udp4', local: { host } });
    const heard = new DatagramRecorder();
    client.setProtocol(heard);
    peer.setProtocol({});
    stranger.setProtocol({});
    stranger.send('from a stranger', client.info.local!);
    peer.send('from the peer', client.info.local!);
    await heard.waitFor('the peer', () => heard.datagrams.length > 0);
    expect(heard.datagrams.map((d) => Buffer.from(d.data).toString())).toEqual(['from the peer']);
    expect(heard.datagrams[0]!.from).toEqual(peer.info.local);
    expect(() => client.send('x', serverAddress)).toThrow(/connected to .*omit `to`/);
    for (const endpoint of [server, peer, client, stranger]) endpoint.abort();
  });

  it('an unconnected endpoint needs `to` and replies where a datagram came from', async () => {
    const server = await createDatagramEndpoint({ type: 'udp4', local: { host } });
    const client = await createDatagramEndpoint({ type: 'udp4', local: { host } });
    server.setProtocol({ datagramReceived: (data, from) => server.send(`echo ${data}`, from) });
    const heard = new DatagramRecorder();
    client.setProtocol(heard);
    expect(() => client.send('x')).toThrow(/not connected; pass `to/);
    expect(client.info.peer).toBeNull();
    client.send('hi', server.info.local!);
    await heard.waitFor('the echo', () => heard.datagrams.length > 0);
    expect(Buffer.from(heard.datagrams[0]!.data).toString()).toBe('echo hi');
    server.abort();
    client.abort();
  });

  it('a fired AbortSignal cancels the bind', async () => {
    const controller = new AbortController();
    const pending = createDatagramEndpoint({ type: 'udp4', local: { host }, signal: controller.signal });
    controller.abort(new Error('changed my mind'));
    await expect(pending).rejects.toMatchObject({ code: 'ABORT_ERR' });
    await expect(createDatagramEndpoint({ type: 'udp4', signal: AbortSignal.abort() })).rejects.toMatchObject(
      { code: 'ABORT_ERR' },
    );
  });

  it('refuses a bad type and a bad remote, naming the field', async () => {
    await expect(createDatagramEndpoint({ type: 'udp5' as 'udp4' })).rejects.toThrow(
      /`type` must be 'udp4' or 'udp6', got udp5/,
    );
    await expect(createDatagramEndpoint({ type: 'udp4', remote: { host, port: 0 } })).rejects.toThrow(
      /`remote` must be/,
    );
    await expect(createDatagramEndpoint({ type: 'udp4', local: { host: '::1' } })).rejects.toThrow(
      /`local.host` "::1" is an IPv6 address but `type` is 'udp4'; use `type: 'udp6'`/,
    );
    await expect(
      createDatagramEndpoint({ type: 'udp6', remote: { host: '127.0.0.1', port: 9 } }),
    ).rejects.toThrow(/`remote.host` "127.0.0.1" is an IPv4 address but `type` is 'udp6'/);
  });
});

/** A dgram socket whose kernel buffer is "full": sends queue until `drain()`. */
class FullSocket extends EventEmitter {
  queue: Array<{ size: number; callback?: (error: Error | null) => void }> = [];
  send(data: Uint8Array, ...rest: unknown[]): void {
    const callback = rest.find((value) => typeof value === 'function') as
      | ((error: Error | null) => void)
      | undefined;
    this.queue.push({ size: data.length, callback });
  }
  getSendQueueSize(): number {
    return this.queue.reduce((sum, item) => sum + item.size, 0);
  }
  getSendQueueCount(): number {
    return this.queue.length;
  }
  drain(): void {
    const sent = this.queue;
    this.queue = [];
    for (const item of sent) item.callback?.(null);
  }
  address() {
    return { address: host, port: 1, family: 'IPv4' };
  }
  remoteAddress() {
    return { address: host, port: 2, family: 'IPv4' };
  }
  getSendBufferSize() {
    return 4608;
  }
  getRecvBufferSize() {
    return 4608;
  }
  close(): void {}
}

describe('UDP flow control from node:dgram send queue', () => {
  it('pauses past the high-water mark and resumes when the queue drains', async () => {
    const socket = new FullSocket();
    const transport = new UdpTransport(socket as unknown as dgram.Socket, 'udp4', true);
    const recorder = new DatagramRecorder();
    transport.setProtocol(recorder);
    transport.setWriteBufferLimits(3000, 1000);
    transport.send(new Uint8Array(1200));
    transport.send(new Uint8Array(1200));
    expect(recorder.events).not.toContain('pause');
    transport.send(new Uint8Array(1200));
    expect(recorder.events).toContain('pause');
    expect(transport.writeBufferSize).toBe(3600);
    socket.drain();
    await recorder.waitFor('resumeWriting', () => recorder.events.includes('resume'));
    expect(recorder.events.filter((e) => e === 'pause' || e === 'resume')).toEqual(['pause', 'resume']);
  });

  it('resumes when the one send that found the queue empty drains', async () => {
    const socket = new FullSocket();
    const transport = new UdpTransport(socket as unknown as dgram.Socket, 'udp4', true);
    const recorder = new DatagramRecorder();
    transport.setProtocol(recorder);
    transport.setWriteBufferLimits(100, 0);
    transport.send(new Uint8Array(1200));
    expect(recorder.events).toContain('pause');
    socket.drain();
    await recorder.waitFor('resumeWriting', () => recorder.events.includes('resume'));
  });

  it('close() waits for the queue to drain, then one connectionLost(null)', async () => {
    const socket = new FullSocket();
    const transport = new UdpTransport(socket as unknown as dgram.Socket, 'udp4', true);
    const recorder = new DatagramRecorder();
    transport.setProtocol(recorder);
    transport.send('queued');
    transport.close();
    expect(recorder.lostCount).toBe(0);
    socket.drain();
    await recorder.waitFor('connectionLost', () => recorder.lostCount === 1);
    expect(recorder.lostError).toBeNull();
  });
});
