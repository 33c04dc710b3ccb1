import { clientContext, type Protocol, serverContext, startTls, type Transport } from 'tlskit';
import type { MemoryPairOptions } from 'tlskit/testing';
import { opensslCerts } from './openssl-certs.js';
import { memory, tcpPair } from './pairs.js';

export function contexts() {
  const certs = opensslCerts();
  return {
    client: clientContext({ trust: certs.caPem }),
    server: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
  };
}

/** Runs both handshakes over a connected pair: [client TLS end, server TLS end]. */
export async function secure([a, b]: [Transport, Transport]): Promise<[Transport, Transport]> {
  const { client, server } = contexts();
  return Promise.all([
    startTls(a, { context: client, serverName: 'localhost' }),
    startTls(b, { context: server }),
  ]);
}

export const tlsOverTcp = async () => secure(await tcpPair());
export const tlsOverMemory = (options?: MemoryPairOptions) => () => secure(memory(options)());
export const tlsOverTls = async () => secure(await secure(await tcpPair()));

/**
 * A plaintext exchange first (the client asks, the server agrees), then both upgrade: the
 * STARTTLS pattern, mid-stream.
 */
export async function afterStartTls(pair: [Transport, Transport]): Promise<[Transport, Transport]> {
  const [a, b] = pair;
  const upgraded = new Promise<void>((resolve) => {
    b.setProtocol({
      dataReceived: (data: Uint8Array) => {
        if (Buffer.from(data).toString().includes('STARTTLS\r\n')) {
          b.write('220 go ahead\r\n');
          resolve();
        }
      },
    } satisfies Protocol);
  });
  let answered!: () => void;
  const ready = new Promise<void>((resolve) => {
    answered = resolve;
  });
  let seen = '';
  a.setProtocol({
    dataReceived: (data: Uint8Array) => {
      seen += Buffer.from(data).toString();
      if (seen.endsWith('\r\n')) answered();
    },
  });
  a.write('STARTTLS\r\n');
  const { client, server } = contexts();
  const serverSide = upgraded.then(() => startTls(b, { context: server }));
  await ready;
  const clientSide = startTls(a, { context: client, serverName: 'localhost' });
  return Promise.all([clientSide, serverSide]);
}

/** How a handshake attempt ended: the TLS transport, or the error startTls rejected with. */
export type Attempt = { transport: Transport; error?: undefined } | { transport?: undefined; error: Error };

/** Starts both handshakes over a connected pair; each result settles, never rejects. */
export function startBoth([a, b]: [Transport, Transport]): [Promise<Attempt>, Promise<Attempt>] {
  const { client, server } = contexts();
  const settle = (attempt: Promise<Transport>): Promise<Attempt> =>
    attempt.then(
      (transport) => ({ transport }),
      (error: Error) => ({ error }),
    );
  return [
    settle(startTls(a, { context: client, serverName: 'localhost' })),
    settle(startTls(b, { context: server })),
  ];
}
