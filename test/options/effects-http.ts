/**
 * The HTTPS clients' options: each deadline reaches the connections they open, and `agent` reaches
 * the undici or node:http Agent.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import https from 'node:https';
import {
  type ClientContext,
  createServer,
  type Server,
  type TransportDuplex,
  tlsAgent,
  tlsConnector,
  tlsDispatcher,
} from 'tlskit';
import { expect } from 'vitest';
import { blackhole } from '../helpers/blackhole.js';
import { httpsServer } from '../helpers/https-server.js';
import { type EffectTable, silentServer, within, world } from './support.js';

const listener = blackhole();
export const stopBlackhole = () => listener.stop();

type Dial = (context: ClientContext, options: object, port: number) => Promise<TransportDuplex>;

/** One connection through a connector, as undici would ask for it. */
const viaConnector: Dial = (context, options, port) =>
  new Promise((resolve, reject) => {
    const connector = tlsConnector(context, options);
    connector(
      { hostname: '127.0.0.1', protocol: 'https:', port: String(port), servername: 'localhost' },
      (error, socket) => (error ? reject(error) : resolve(socket as unknown as TransportDuplex)),
    );
  });

/**
 * One connection through a dispatcher, opened by a fetch: the socket undici's public
 * `undici:client:connected` channel reports, or the reason the fetch failed.
 */
const viaDispatcher: Dial = (context, options, port) =>
  new Promise((resolve, reject) => {
    const dispatcher = tlsDispatcher(context, options);
    const onConnected = (message: unknown) => {
      diagnostics_channel.unsubscribe('undici:client:connected', onConnected);
      resolve((message as { socket: TransportDuplex }).socket);
    };
    diagnostics_channel.subscribe('undici:client:connected', onConnected);
    fetch(`https://127.0.0.1:${port}/`, { dispatcher } as unknown as RequestInit).then(
      (response) => response.arrayBuffer(),
      (error: TypeError) => {
        diagnostics_channel.unsubscribe('undici:client:connected', onConnected);
        reject(error.cause);
      },
    );
  });

/** One connection through the agent's createConnection, as node:http asks for it. */
const viaAgent: Dial = (context, options, port) =>
  new Promise((resolve, reject) => {
    tlsAgent(context, options).createConnection(
      { host: '127.0.0.1', port, servername: 'localhost' },
      (error, socket) => (error ? reject(error) : resolve(socket as TransportDuplex)),
    );
  });

/** Resolves with what the transport under `duplex` reports when its connection is lost. */
function lossOf(duplex: TransportDuplex): Promise<Error | null> {
  const protocol = duplex.transport.protocol!;
  const original = protocol.connectionLost!.bind(protocol);
  return new Promise((resolve) => {
    protocol.connectionLost = (error) => {
      original(error);
      resolve(error);
    };
  });
}

function dialEffects(dial: Dial): EffectTable {
  return {
    async connectTimeout() {
      const { clientContext } = await world();
      const error = await dial(clientContext, { connectTimeout: 100 }, await listener.port()).then(
        () => null,
        (caught: Error) => caught,
      );
      expect(error).toMatchObject({ code: 'ERR_TIMEOUT', timeout: 100 });
    },
    async handshakeTimeout() {
      const silent = await silentServer();
      const { clientContext } = await world();
      const attempt = dial(clientContext, { handshakeTimeout: 100 }, silent.port).then(
        () => null,
        (caught: Error) => caught,
      );
      expect(await within(1_500, attempt, 'the handshake deadline')).toMatchObject({
        code: 'ERR_TIMEOUT',
        timeout: 100,
      });
      silent.close();
    },
    async closeTimeout() {
      // The server never answers our close_notify: the connection is released at our deadline.
      const { serverContext, clientContext } = await world();
      const server: Server = await createServer(() => ({ eofReceived: () => true }), {
        host: '127.0.0.1',
        port: 0,
        tls: serverContext,
        closeTimeout: 50,
      });
      const port = (server.address as { port: number }).port;
      const duplex = await dial(clientContext, { closeTimeout: 100 }, port);
      const lost = lossOf(duplex);
      duplex.destroy();
      await within(1_500, lost, 'the release after closeTimeout');
      await server.close({ timeout: 100 });
    },
  };
}

/** Two requests to a fresh server; resolves with how many connections it accepted. */
async function connectionsFor(send: (url: string) => Promise<void>): Promise<number> {
  const server = await httpsServer((await world()).server);
  try {
    await send(`https://127.0.0.1:${server.port}/`);
    return server.connections;
  } finally {
    await server.close();
  }
}

export const effects = {
  tlsConnector: dialEffects(viaConnector),
  tlsDispatcher: {
    ...dialEffects(viaDispatcher),
    async agent() {
      // Two requests at once share one connection only when the Agent takes `connections: 1`.
      const { clientContext } = await world();
      const dispatcher = tlsDispatcher(clientContext, { agent: { connections: 1 } });
      const init = { dispatcher } as unknown as RequestInit;
      const count = await connectionsFor(async (url) => {
        await Promise.all([1, 2].map(async () => (await fetch(url, init)).text()));
      });
      await dispatcher.close();
      expect(count).toBe(1);
    },
  },
  tlsAgent: {
    ...dialEffects(viaAgent),
    async agent() {
      // A new https.Agent does not keep connections alive unless told to.
      const { clientContext } = await world();
      const agent = tlsAgent(clientContext, { agent: { keepAlive: true } });
      const get = (url: string) =>
        new Promise<void>((resolve, reject) => {
          https.get(url, { agent }, (response) => response.resume().on('end', resolve)).on('error', reject);
        });
      const count = await connectionsFor(async (url) => {
        await get(url);
        await get(url);
      });
      agent.destroy();
      expect(count).toBe(1);
    },
  },
} satisfies Record<string, EffectTable>;
