import os from 'node:os';
import { createDatagramEndpoint, type DatagramTransport } from 'tlskit';
import { type DatagramPairFactory, datagramConformanceCases, datagramPair } from 'tlskit/testing';
import { describe, it } from 'vitest';

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

/** Linux frees a loopback UDP send buffer inside the send call: datagram-udp.test.ts covers it. */
const UDP_QUEUE = 'skipped: loopback UDP never fills the send queue; see datagram-udp.test.ts (flow control)';

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
