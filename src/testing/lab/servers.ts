/**
 * One lab server: a plain node:tls server at OpenSSL security level 0 (tlskit's own contexts
 * refuse weak material on purpose), with the scenario's versions, suites, DH group and client
 * certificate rule, answering through the responder. A plain TCP listener in front accepts
 * connections from the start and hands each to the TLS server once the scenario's credentials
 * exist (`pauseOnConnect` keeps a client's first bytes in the socket until then).
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { respond, scenarioLine } from './responder.js';
import type { Scenario, ScenarioSetup, ServerCredentials } from './types.js';
import { withLevelZero, withQuietDhWarning } from './weak-tls.js';

/** A listening lab server. */
export interface RunningServer {
  port: number;
  /** Settles when the TLS side can answer (at once unless its credentials were still in the making). */
  ready: Promise<void>;
  close(): Promise<void>;
}

function tlsOptions(setup: ScenarioSetup, credentials: ServerCredentials): tls.TlsOptions {
  const settings = setup.tls ?? {};
  return {
    cert: credentials.chainPem,
    key: credentials.keyPem,
    ciphers: withLevelZero(settings.ciphers),
    minVersion: settings.minVersion ?? 'TLSv1.2',
    maxVersion: settings.maxVersion ?? 'TLSv1.3',
    ...(settings.dhparam ? { dhparam: settings.dhparam } : {}),
    ...(setup.clientAuth
      ? { requestCert: true, rejectUnauthorized: true, ca: setup.clientAuth.trustPem }
      : {}),
  };
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts `scenario`'s server on 127.0.0.1 (and, for the IPv6 case, on [::1] with the same port,
 * so `{addr}` is 127.0.0.1 for every scenario and a client that connects to the URL's address
 * finds the server too). Open connections are destroyed on close.
 */
export async function startServer(scenario: Scenario, setup: ScenarioSetup): Promise<RunningServer> {
  const line = scenarioLine(scenario.name, scenario.expected);
  const secure = Promise.resolve(setup.credentials).then((credentials) => {
    const server = withQuietDhWarning(() =>
      tls.createServer(tlsOptions(setup, credentials), (socket) => respond(socket, line)),
    );
    server.on('tlsClientError', () => {});
    return server;
  });
  // A failure to build the credentials shows on each connection (closed) and in `ready`.
  secure.catch(() => {});
  const sockets = new Set<Socket>();
  const front = () =>
    net.createServer({ pauseOnConnect: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      secure.then(
        (server) => server.emit('connection', socket),
        () => socket.destroy(),
      );
    });
  const listeners = [front()];
  const close = async () => {
    const closed = listeners.map(
      (server) =>
        new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
    );
    for (const socket of sockets) socket.destroy();
    await Promise.all(closed);
  };
  let port: number;
  try {
    port = await listen(listeners[0]!, 0, '127.0.0.1');
    if (setup.ipv6) {
      listeners.push(front());
      await listen(listeners[1]!, port, '::1');
    }
  } catch (error) {
    await close(); // a listener that did start (127.0.0.1, when [::1] failed) must not stay open
    throw error;
  }
  const ready = secure.then(() => {});
  ready.catch(() => {}); // reported through lab.ready
  return { port, ready, close };
}
