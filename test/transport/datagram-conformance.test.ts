import type dgram from 'node:dgram';
import os from 'node:os';
import { createDatagramEndpoint, type DatagramAddress, type DatagramTransport, UdpTransport } from 'tlskit';
import { type DatagramPairFactory, datagramConformanceCases, datagramPair } from 'tlskit/testing';
import { afterAll, describe, it } from 'vitest';
import { createSlowVeth } from '../helpers/slow-veth.js';

/** Two UDP endpoints on loopback connected to each other; the first with a small send buffer. */
function udpPair(type: 'udp4' | 'udp6'): DatagramPairFactory {
  const host = type === 'udp4' ? '127.0.0.1' : '::1';
  return async () => {
    const b0 = await createDatagramEndpoint({ type, local: { host } });
    const bPort = b0.info.local!.port;
    b0.abort();
    // Bind b's port first through a throwaway endpoint, then connect each end to the other.
    const a = await createDatagramEndpoint({ type, local: { host }, sendBufferSize: 4096 });
    const b = await createDatagramEndpoint({
      type,
      local: { host, port: bPort },
      remote: { host, port: a.info.local!.port },
    });
    const aConnected = await reconnect(a, type, host, bPort);
    return [aConnected, b];
  };
}

/** UDP sockets connect once: make `a` again on its port, connected to the peer. */
async function reconnect(
  a: DatagramTransport,
  type: 'udp4' | 'udp6',
  host: string,
  peerPort: number,
): Promise<DatagramTransport> {
  const port = a.info.local!.port;
  a.abort();
  return createDatagramEndpoint({
    type,
    local: { host, port },
    remote: { host, port: peerPort },
    sendBufferSize: 4096,
  });
}

const hasIpv6Loopback = Object.values(os.networkInterfaces()).some((list) =>
  list?.some((entry) => entry.family === 'IPv6' && entry.address === '::1'),
);

/** Linux frees a loopback UDP send buffer inside the send call: the veth pairs run these rules. */
const UDP_QUEUE =
  'skipped: loopback UDP never fills the send queue; the "UDP through a rate-limited veth" pairs run this rule';

/** Created once for the file (a namespace per process), removed after it whatever happened. */
const veth = createSlowVeth();
afterAll(() => {
  if (typeof veth !== 'string') veth.remove();
});

/**
 * `a` here, on the veth's host end behind the slow qdisc; `b` inside the namespace, made there and
 * handed over by a child process. `a`'s send buffer is small enough for a burst to fill it, and
 * large enough for a 60,000-byte datagram: at the veth's MTU of 1500 that is 41 fragments, and
 * Linux refuses a datagram whose fragments need more than twice SO_SNDBUF (ENOBUFS, which libuv
 * retries for ever), so the loopback pairs' 4096 would never send it.
 */
function vethPair(type: 'udp4' | 'udp6'): DatagramPairFactory {
  return async () => {
    if (typeof veth === 'string') throw new Error(veth);
    const addresses = (type === 'udp4' ? veth.udp4 : veth.udp6)!;
    let a: DatagramTransport | undefined;
    try {
      const inside = await veth.socketInside(type, async (port) => {
        a = await createDatagramEndpoint({
          type,
          local: { host: addresses.host },
          remote: { host: addresses.inside, port },
          sendBufferSize: 65_536,
        });
        return a.info.local!;
      });
      return [a!, new UdpTransport(connectedTo(inside, type, a!.info.local!), type, true)];
    } catch (error) {
      a?.abort();
      throw error;
    }
  };
}

/**
 * The namespace's socket, which its child connected in the kernel (node:dgram cannot connect a
 * udp6 socket received over IPC), shown to UdpTransport as node:dgram shows a connected one.
 */
function connectedTo(socket: dgram.Socket, type: 'udp4' | 'udp6', peer: DatagramAddress): dgram.Socket {
  const family = type === 'udp4' ? 'IPv4' : 'IPv6';
  return new Proxy(socket, {
    get(target, property) {
      if (property === 'remoteAddress') return () => ({ address: peer.host, port: peer.port, family });
      if (property === 'send') {
        return (data: Uint8Array, callback?: (error: Error | null) => void) =>
          target.send(data, peer.port, peer.host, callback);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const vethSkip = typeof veth === 'string' ? veth : undefined;

const pairs: Array<[string, DatagramPairFactory, { skip?: string; queueSkip?: string }]> = [
  ['UDP over 127.0.0.1', udpPair('udp4'), { queueSkip: UDP_QUEUE }],
  [
    'UDP over ::1',
    udpPair('udp6'),
    {
      skip: hasIpv6Loopback ? undefined : 'skipped: this machine has no ::1 loopback address',
      queueSkip: UDP_QUEUE,
    },
  ],
  ['UDP through a rate-limited veth (v4)', vethPair('udp4'), { skip: vethSkip }],
  [
    'UDP through a rate-limited veth (v6)',
    vethPair('udp6'),
    { skip: vethSkip ?? (typeof veth === 'string' ? undefined : veth.udp6Skip) },
  ],
  ['datagramPair', () => datagramPair(), {}],
  ['datagramPair with delays (seed 3)', () => datagramPair({ seed: 3, delay: 4 }), {}],
];

for (const [name, makePair, { skip, queueSkip }] of pairs) {
  describe(`datagram conformance: ${name}`, () => {
    for (const rule of datagramConformanceCases) {
      const reason = skip ?? (rule.needs === 'sendQueueFills' ? queueSkip : undefined);
      if (reason) it.skip(`${rule.name} (${reason})`, () => {});
      else it(rule.name, () => rule.run(makePair));
    }
  });
}
