/**
 * Accepted TCP sockets reach the server with TCP_NODELAY set: small writes (a TLS record, a
 * protocol's reply) leave at once instead of waiting for the peer's ACK. On Linux the listening
 * socket carries the option and each accepted socket inherits it; elsewhere each socket is set.
 * Node cannot read a socket option, so a python3 child reads it from a copy of the descriptor.
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenSockets } from '../../src/transport/net.js';

const hasPython = spawnSync('python3', ['-c', 'pass']).status === 0;

const READ_NODELAY = [
  'import socket',
  's = socket.socket(fileno=3)',
  'print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))',
  's.detach()',
].join('\n');

/** TCP_NODELAY of `socket`, as the kernel reports it (0 or 1). */
function noDelayOf(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', READ_NODELAY], { stdio: ['ignore', 'pipe', 'inherit', socket] });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`python3 exited ${code}`)),
    );
  });
}

describe.skipIf(!hasPython)('TCP_NODELAY on accepted sockets', () => {
  it('is set on every socket the listener hands over, the first and later ones', async () => {
    const accepted: net.Socket[] = [];
    let arrived: () => void = () => {};
    const listener = await listenSockets('test', { host: '127.0.0.1', port: 0 }, {}, (socket) => {
      accepted.push(socket);
      arrived();
    });
    const { port } = listener.address;
    const clients: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const next = new Promise<void>((resolve) => (arrived = resolve));
        clients.push(net.connect({ host: '127.0.0.1', port }));
        await next;
      }
      const options = await Promise.all(accepted.map(noDelayOf));
      expect(options).toEqual([1, 1, 1]);
    } finally {
      for (const socket of [...accepted, ...clients]) socket.destroy();
      await listener.close();
    }
  });

  it('is off on a socket accepted by a plain node:net server (the check can fail)', async () => {
    let take: (socket: net.Socket) => void = () => {};
    const taken = new Promise<net.Socket>((resolve) => (take = resolve));
    const server = net.createServer({ pauseOnConnect: true }, (socket) => take(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    const socket = await taken;
    try {
      expect(await noDelayOf(socket)).toBe(0);
    } finally {
      socket.destroy();
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
