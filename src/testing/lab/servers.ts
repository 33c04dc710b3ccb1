/**
 * One lab server: a plain node:tls server at OpenSSL security level 0 (tlskit's own contexts
 * refuse weak material on purpose), with the scenario's versions, suites, DH group and client
 * certificate rule, answering through the responder.
 */
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { respond, scenarioLine } from './responder.js';
import type { Scenario, ScenarioSetup } from './types.js';
import { withLevelZero, withQuietDhWarning } from './weak-tls.js';

/** A listening lab server. */
export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

function tlsOptions(setup: ScenarioSetup): tls.TlsOptions {
  const settings = setup.tls ?? {};
  return {
    cert: setup.chainPem,
    key: setup.keyPem,
    ciphers: withLevelZero(settings.ciphers),
    minVersion: settings.minVersion ?? 'TLSv1.2',
    maxVersion: settings.maxVersion ?? 'TLSv1.3',
    ...(settings.dhparam ? { dhparam: settings.dhparam } : {}),
    ...(setup.clientAuth
      ? { requestCert: true, rejectUnauthorized: true, ca: setup.clientAuth.trustPem }
      : {}),
  };
}

function listen(server: tls.Server, port: number, host: string): Promise<number> {
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
  const sockets = new Set<Socket>();
  const make = () => {
    const server = withQuietDhWarning(() =>
      tls.createServer(tlsOptions(setup), (socket) => respond(socket, line)),
    );
    server.on('tlsClientError', () => {});
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return server;
  };
  const servers = [make()];
  const port = await listen(servers[0]!, 0, '127.0.0.1');
  if (setup.ipv6) {
    servers.push(make());
    await listen(servers[1]!, port, '::1');
  }
  return {
    port,
    close: async () => {
      const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
      for (const socket of sockets) socket.destroy();
      await Promise.all(closed);
    },
  };
}
