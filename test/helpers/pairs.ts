import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import stream, { type Duplex } from 'node:stream';
import { fromDuplex, type Transport, toDuplex } from 'tlskit';
import { type MemoryPairOptions, memoryPair, turns } from 'tlskit/testing';
import { type BaseTransport, kOnLost } from '../../src/transport/base.js';
import { type Endpoint, listenSockets, openSocket, socketTransport } from '../../src/transport/net.js';

/** Listens and wraps each accepted socket in a bare transport: no server policy in between. */
function listen(endpoint: Endpoint, onTransport: (transport: Transport) => void) {
  const unix = 'path' in endpoint ? { path: endpoint.path, side: 'server' as const } : null;
  return listenSockets('test', endpoint, {}, (socket) => onTransport(socketTransport(socket, unix)));
}

/** A connected TCP pair on loopback: [client end, server end], no protocols bound. */
export async function tcpPair(): Promise<[Transport, Transport]> {
  let accept!: (transport: Transport) => void;
  const accepted = new Promise<Transport>((resolve) => {
    accept = resolve;
  });
  const server = await listen({ host: '127.0.0.1', port: 0 }, (transport) => accept(transport));
  const address = server.address as { host: string; port: number };
  const client = await openSocket('test', { host: '127.0.0.1', port: address.port });
  const serverEnd = await accepted;
  closeWhenDone(server, serverEnd);
  return [client, serverEnd];
}

/** Stops the listener once the accepted end is gone (server.close() would close it at once). */
function closeWhenDone(server: { close(): Promise<void> }, accepted: Transport): void {
  (accepted as BaseTransport)[kOnLost](() => void server.close());
}

let unixCounter = 0;
const unixDir = mkdtempSync(join(tmpdir(), 'tlskit-'));

/** A unique Unix socket path in a private temporary directory. */
export function unixPath(): string {
  unixCounter++;
  return join(unixDir, `s${process.pid}-${unixCounter}.sock`);
}

/** A connected Unix socket pair: [client end, server end]. */
export async function unixPair(): Promise<[Transport, Transport]> {
  let accept!: (transport: Transport) => void;
  const accepted = new Promise<Transport>((resolve) => {
    accept = resolve;
  });
  const path = unixPath();
  const server = await listen({ path }, (transport) => accept(transport));
  const client = await openSocket('test', { path });
  const serverEnd = await accepted;
  closeWhenDone(server, serverEnd);
  return [client, serverEnd];
}

/** Memory pair factory with the given delivery options. */
export function memory(options?: MemoryPairOptions): () => [Transport, Transport] {
  return () => memoryPair(options);
}

/** fromDuplex(toDuplex(memory end)) on both sides: both interop directions in one round trip. */
export function duplexRoundTrip(options?: MemoryPairOptions): () => [Transport, Transport] {
  return () => {
    const [a, b] = memoryPair(options);
    return [fromDuplex(toDuplex(a)), fromDuplex(toDuplex(b))];
  };
}

/** Raw net.Sockets on loopback wrapped with fromDuplex. */
export async function socketsViaFromDuplex(): Promise<[Transport, Transport]> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => client.once('connect', resolve));
  const serverSocket = await accepted;
  server.close();
  return [fromDuplex(client), fromDuplex(serverSocket)];
}

type NodeDuplexPair = () => [Duplex, Duplex];
const duplexPair = (stream as { duplexPair?: NodeDuplexPair }).duplexPair;

/** Node's own in-process pair (22.6+) seen through fromDuplex: [one end, the other]. */
export function nodeDuplexPair(): [Transport, Transport] {
  if (!duplexPair) throw new Error('stream.duplexPair needs Node 22.6 or later');
  const [a, b] = duplexPair();
  return [fromDuplex(a), fromDuplex(b)];
}

/**
 * Whether destroying one end of `stream.duplexPair()` reaches the other (as an end: Node 24 does,
 * Node 22 does not). Asked once, by destroying a probe pair and watching its other end.
 */
export const duplexPairSignalsDestroy: boolean = await (async () => {
  if (!duplexPair) return false;
  const [a, b] = duplexPair();
  const heard = new Promise<boolean>((resolve) => {
    b.once('end', () => resolve(true)).once('error', () => resolve(true));
    b.resume();
  });
  a.destroy();
  return Promise.race([heard, turns(20).then(() => false)]);
})();
