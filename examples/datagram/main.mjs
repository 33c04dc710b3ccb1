// @ts-check
/**
 * A DNS-like lookup over datagrams, written once and run over a lossy in-memory pair and over UDP
 * on loopback. The client retries a query whose answer does not come (datagrams get lost) and
 * matches answers to queries by id (datagrams get duplicated and reordered).
 * Run: node examples/datagram/main.mjs
 */
import { pathToFileURL } from 'node:url';
import { createDatagramEndpoint } from 'tlskit';
import { datagramPair } from 'tlskit/testing';

const RECORDS = new Map([
  ['example.test', '192.0.2.10'],
  ['mail.example.test', '192.0.2.25'],
]);

/**
 * The server: each datagram is `id name`; the answer is `id address` (or `id NXDOMAIN`).
 * @returns {import('tlskit').DatagramProtocol}
 */
export function nameServer() {
  /** @type {import('tlskit').DatagramTransport} */
  let transport;
  return {
    connectionMade(t) {
      transport = t;
    },
    datagramReceived(data, from) {
      const [id, name] = new TextDecoder().decode(data).split(' ');
      transport.send(
        `${id} ${RECORDS.get(name ?? '') ?? 'NXDOMAIN'}`,
        transport.info.peer ? undefined : from,
      );
    },
  };
}

/**
 * The client: `lookup(name)` sends a query and resends it every `retryMs` until an answer with its
 * id arrives, up to `attempts` sends.
 * @param {{ to?: import('tlskit').DatagramAddress, retryMs?: number, attempts?: number }} [options]
 */
export function resolver({ to, retryMs = 20, attempts = 8 } = {}) {
  /** @type {import('tlskit').DatagramTransport} */
  let transport;
  /** @type {Map<string, (answer: string) => void>} */
  const waiting = new Map();
  let nextId = 1;
  let sends = 0;
  /** @type {import('tlskit').DatagramProtocol} */
  const protocol = {
    connectionMade(t) {
      transport = t;
    },
    datagramReceived(data) {
      const [id, answer] = new TextDecoder().decode(data).split(' ');
      waiting.get(id ?? '')?.(answer ?? ''); // a duplicate or late answer finds nobody waiting
    },
  };
  /** @param {string} name @returns {Promise<string>} */
  function lookup(name) {
    const id = String(nextId++);
    return new Promise((resolve, reject) => {
      let tries = 0;
      const attempt = () => {
        if (tries++ === attempts) {
          waiting.delete(id);
          reject(new Error(`no answer for ${name} after ${attempts} tries`));
          return;
        }
        sends++;
        transport.send(`${id} ${name}`, to);
        timer = setTimeout(attempt, retryMs);
      };
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(answer);
      });
      attempt();
    });
  }
  return { protocol, lookup, sends: () => sends };
}

/** Looks up each name through `client`, logging the answers and how many sends they took. */
/**
 * @param {string} label
 * @param {ReturnType<typeof resolver>} client
 * @param {(line: string) => void} log
 */
async function lookUpAll(label, client, log) {
  const answers = [];
  for (const name of [...RECORDS.keys(), 'missing.example.test'])
    answers.push(`${name}=${await client.lookup(name)}`);
  log(`${label}: ${answers.join(' ')} (${client.sends()} sends for 3 queries)`);
}

export async function main(log = console.log) {
  // A network that loses 40% of datagrams and duplicates and reorders some: seed 2 replays it.
  const [clientEnd, serverEnd] = datagramPair({
    seed: 2,
    loss: 0.4,
    duplication: 0.1,
    reordering: 0.1,
    delay: 2,
  });
  const overMemory = resolver();
  serverEnd.setProtocol(nameServer());
  clientEnd.setProtocol(overMemory.protocol);
  await lookUpAll('lossy memory pair', overMemory, log);
  clientEnd.close();
  serverEnd.close();

  // The same two protocols over UDP: an unconnected server, a client connected to it.
  const server = await createDatagramEndpoint({ type: 'udp4', local: { host: '127.0.0.1' } });
  server.setProtocol(nameServer());
  const client = await createDatagramEndpoint({ type: 'udp4', remote: server.info.local ?? undefined });
  const overUdp = resolver();
  client.setProtocol(overUdp.protocol);
  await lookUpAll('udp', overUdp, log);
  client.close();
  server.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
