/**
 * connect and createConnection take the same options; each effect runs through both, by way of
 * an opener that hides whether the result is a Connection or a Transport.
 */
import {
  type ConnectOptions,
  connect,
  createConnection,
  createServer,
  type ListenOptions,
  type Protocol,
  type Server,
  type TransportInfo,
} from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { expect } from 'vitest';
import { blackhole } from '../helpers/blackhole.js';
import { unixPath } from '../helpers/pairs.js';
import { type EffectTable, rejectsWith, silentServer, within, world } from './support.js';

interface Opened {
  info: TransportInfo;
  /** Closes gracefully; resolves with what connectionLost got. */
  close(): Promise<Error | null>;
}

type Opener = (options: ConnectOptions) => Promise<Opened>;

const viaConnect: Opener = async (options) => {
  const connection = await connect(options);
  return {
    info: connection.info,
    close: async () => {
      await connection.close();
      return connection.closed;
    },
  };
};

const viaCreateConnection: Opener = async (options) => {
  const recording = new RecordingProtocol({ keepOpenOnEof: true });
  const transport = await createConnection(() => recording, options);
  return {
    info: transport.info,
    close: () => {
      transport.close();
      return recording.waitForLost();
    },
  };
};

const listener = blackhole();
export const stopBlackhole = () => listener.stop();

/**
 * Runs `body` with the port of a fresh loopback server (or on `path`, a Unix socket, with 0);
 * closes the server after, bounded by a short closeTimeout.
 */
async function withServer<T>(
  options: Omit<ListenOptions, 'host' | 'port' | 'path'> & { path?: string },
  body: (port: number) => Promise<T>,
  protocol: () => Protocol = () => ({}),
): Promise<T> {
  const { path, ...rest } = options;
  const settings = { closeTimeout: 50, ...rest };
  const server: Server = path
    ? await createServer(protocol, { path, ...settings })
    : await createServer(protocol, { host: '127.0.0.1', port: 0, ...settings });
  try {
    return await body('port' in server.address ? server.address.port : 0);
  } finally {
    await server.close();
  }
}

/** A peer that keeps its side open after ours ends, so a close() must wait for its deadline. */
const neverFinishes = (): Protocol => ({ eofReceived: () => true });

function connectEffects(open: Opener): EffectTable {
  return {
    async host() {
      // With TLS, the name checked defaults to `host`: a certificate for localhost alone fails
      // when the host is given as 127.0.0.1, and passes once serverName overrides it.
      const { ca, clientContext: tls } = await world();
      const localhostOnly = (await ca.issue({ hosts: ['localhost'] })).serverContext();
      await withServer({ tls: localhostOnly }, async (port) => {
        const target = { host: '127.0.0.1', port, tls };
        await rejectsWith(open(target), 'HOSTNAME_MISMATCH');
        await (await open({ ...target, serverName: 'localhost' })).close();
      });
    },
    async port() {
      await withServer({}, async (port) => {
        const opened = await open({ host: '127.0.0.1', port });
        expect(opened.info.peer).toEqual({ host: '127.0.0.1', port });
        await opened.close();
      });
    },
    async path() {
      const path = unixPath();
      await withServer({ path }, async () => {
        const opened = await open({ path });
        expect(opened.info).toMatchObject({ kind: 'unix', peer: { path } });
        await opened.close();
      });
    },
    async signal() {
      // The signal cancels the TLS handshake too, not only the connect.
      const silent = await silentServer();
      const controller = new AbortController();
      const { clientContext: tls } = await world();
      const attempt = open({ host: '127.0.0.1', port: silent.port, tls, signal: controller.signal });
      setImmediate(() => controller.abort(new Error('gave up')));
      await rejectsWith(attempt, 'ABORT_ERR');
      silent.close();
    },
    async timeout() {
      const port = await listener.port();
      const error = await rejectsWith(open({ host: '127.0.0.1', port, timeout: 100 }), 'ERR_TIMEOUT');
      expect(error).toMatchObject({ timeout: 100 });
    },
    async closeTimeout() {
      // The peer never finishes: close() ends at our deadline, not the default 5 s, over TCP and
      // over TLS (where the TLS connection, not only the socket under it, must take the option).
      const { serverContext, clientContext } = await world();
      for (const tls of [undefined, serverContext]) {
        await withServer(
          { tls },
          async (port) => {
            const opened = await open({
              host: '127.0.0.1',
              port,
              tls: tls && clientContext,
              serverName: 'localhost',
              closeTimeout: 100,
            });
            expect(
              await within(1_500, opened.close(), `close() ${tls ? 'over TLS' : 'over TCP'}`),
            ).toBeNull();
          },
          neverFinishes,
        );
      }
    },
    async tls() {
      const { serverContext, clientContext } = await world();
      await withServer({ tls: serverContext }, async (port) => {
        const opened = await open({ host: '127.0.0.1', port, tls: clientContext });
        expect(opened.info.kind).toBe('tls');
        await opened.close();
      });
    },
    async serverName() {
      const { serverContext, clientContext } = await world();
      await withServer({ tls: serverContext }, async (port) => {
        const target = { host: '127.0.0.1', port, tls: clientContext };
        await rejectsWith(open({ ...target, serverName: 'elsewhere.test' }), 'HOSTNAME_MISMATCH');
      });
    },
    async handshakeTimeout() {
      const silent = await silentServer();
      const { clientContext: tls } = await world();
      const attempt = open({ host: '127.0.0.1', port: silent.port, tls, handshakeTimeout: 100 });
      const error = await within(1_500, rejectsWith(attempt, 'ERR_TIMEOUT'), 'the handshake deadline');
      expect(error).toMatchObject({ timeout: 100 });
      silent.close();
    },
    async proxyHeader() {
      // A server that trusts us reads the header: it sees the address the header names.
      const peers: unknown[] = [];
      const server = await createServer(
        () => ({ connectionMade: (transport) => void peers.push(transport.info.peer) }),
        { host: '127.0.0.1', port: 0, proxyProtocol: { trusted: ['127.0.0.1'] } },
      );
      const source = { host: '203.0.113.9', port: 4242 };
      const opened = await open({
        host: '127.0.0.1',
        port: (server.address as { port: number }).port,
        proxyHeader: { version: 2, source, destination: { host: '192.0.2.1', port: 443 } },
      });
      await expect.poll(() => peers.length).toBe(1);
      await opened.close();
      expect(peers).toEqual([source]);
      await server.close({ timeout: 100 });
    },
  };
}

export const effects = {
  connect: connectEffects(viaConnect),
  createConnection: connectEffects(viaCreateConnection),
};
