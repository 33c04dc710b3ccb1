/**
 * Shared pieces of the option tests: certificates, a handshake over a memory pair whose outcome
 * never rejects, a silent peer, and a deadline for "this must happen much sooner than the default".
 */
import { createPrivateKey } from 'node:crypto';
import net from 'node:net';
import { type ClientContext, type Protocol, type ServerContext, startTls, type Transport } from 'tlskit';
import { type CA, createCA, type IssuedCertificate } from 'tlskit/pki';
import { type MemoryPairOptions, memoryPair, RecordingProtocol } from 'tlskit/testing';
import { expect } from 'vitest';
import { once } from '../helpers/once.js';
import { type Pki, pki } from '../helpers/pki-fixtures.js';

/** A test's own effect check; it must fail if the option were ignored. */
export type Effect = () => Promise<void>;

/** Effects by option name, for one function. */
export type EffectTable = Record<string, Effect>;

/** The shared test PKI (pki-fixtures), plus a CA nobody trusts and a localhost leaf of it. */
export interface World extends Pki {
  other: CA;
  stranger: IssuedCertificate;
}

/** Certificates minted once per test file. */
export const world = once(async (): Promise<World> => {
  const other = await createCA();
  const stranger = await other.issue({ hosts: ['localhost'], subject: 'stranger' });
  return { ...(await pki()), other, stranger };
});

/** How one side's handshake ended: its TLS transport, or the error. Never rejects. */
export type Outcome = { transport: Transport; error?: undefined } | { transport?: undefined; error: Error };

export function outcome(attempt: Promise<Transport>): Promise<Outcome> {
  return attempt.then(
    (transport) => ({ transport }),
    (error: Error) => ({ error }),
  );
}

/** Both handshakes over a fresh memory pair. */
export async function handshake(
  client: ClientContext,
  server: ServerContext,
  options: { serverName?: string; memory?: MemoryPairOptions; protocols?: [Protocol?, Protocol?] } = {},
): Promise<{ client: Outcome; server: Outcome }> {
  const [a, b] = memoryPair(options.memory);
  const [clientSide, serverSide] = await Promise.all([
    outcome(
      startTls(a, {
        context: client,
        serverName: options.serverName ?? 'localhost',
        protocol: options.protocols?.[0],
      }),
    ),
    outcome(startTls(b, { context: server, protocol: options.protocols?.[1] })),
  ]);
  return { client: clientSide, server: serverSide };
}

/** A handshake that must succeed; returns both TLS transports. */
export async function secured(
  client: ClientContext,
  server: ServerContext,
  serverName?: string,
): Promise<[Transport, Transport]> {
  const result = await handshake(client, server, { serverName });
  if (result.client.error || result.server.error) throw result.client.error ?? result.server.error;
  return [result.client.transport!, result.server.transport!];
}

/** Resolves with `promise`, or fails the test if it takes more than `ms`. */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A loopback TCP server that accepts and never sends a byte. */
export async function silentServer(): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** Expects `promise` to reject with an error whose `code` is `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(
    () => null,
    (caught: Error) => caught,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(Error);
  expect(error).toMatchObject({ code });
  return error!;
}

/** `pem`'s private key, encrypted with `passphrase` (PKCS#8, AES-256-CBC). */
export function encryptedKey(pem: string, passphrase: string): string {
  return createPrivateKey(pem).export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase,
  }) as string;
}

/** Two connections in a row; returns whether the second resumed the first one's session. */
export async function secondResumes(
  client: ClientContext,
  servers: [ServerContext, ServerContext],
): Promise<boolean> {
  let resumed = false;
  for (const server of servers) {
    const [a, b] = memoryPair();
    const greeting = { connectionMade: (transport: Transport) => transport.write('hi') };
    const recording = new RecordingProtocol({ keepOpenOnEof: true });
    const [ct] = await Promise.all([
      startTls(a, { context: client, serverName: 'localhost', protocol: recording }),
      startTls(b, { context: server, protocol: greeting }),
    ]);
    await recording.waitForBytes(2); // the session tickets came before the greeting
    resumed = ct.info.tls!.resumed;
    ct.close();
    await recording.waitForLost();
  }
  return resumed;
}

/**
 * The connection under one side is cut after the handshake without close_notify (a forged FIN
 * towards `side`); resolves with what that side's protocol heard first: a clean end of stream
 * (`eof`), or the loss of the connection and its error.
 */
export async function cutTowards(
  side: 'client' | 'server',
  client: ClientContext,
  server: ServerContext,
): Promise<{ eof: boolean; error: Error | null }> {
  const [a, b] = memoryPair();
  const recording = new RecordingProtocol({ keepOpenOnEof: true });
  const protocols: [Protocol, Protocol] = side === 'client' ? [recording, {}] : [{}, recording];
  await Promise.all([
    startTls(a, { context: client, serverName: 'localhost', protocol: protocols[0] }),
    startTls(b, { context: server, protocol: protocols[1] }),
  ]);
  (side === 'client' ? b : a).injectEof();
  await recording.waitFor('the end', () => recording.eofCount > 0 || recording.lostCount > 0);
  const seen = { eof: recording.eofCount === 1, error: recording.lostError ?? null };
  recording.transport?.abort();
  return seen;
}

/**
 * `side` closes right after the handshake while its peer never answers with close_notify;
 * resolves with what `side`'s connectionLost got, failing past `bound` ms.
 */
export async function closeAgainstSilentPeer(
  side: 'client' | 'server',
  client: ClientContext,
  server: ServerContext,
  bound = 1_500,
): Promise<Error | null> {
  const closer = new RecordingProtocol({ onMade: (transport) => transport.close() });
  const silent = new RecordingProtocol({ keepOpenOnEof: true });
  const protocols: [Protocol, Protocol] = side === 'client' ? [closer, silent] : [silent, closer];
  const [a, b] = memoryPair();
  await Promise.all([
    startTls(a, { context: client, serverName: 'localhost', protocol: protocols[0] }),
    startTls(b, { context: server, protocol: protocols[1] }),
  ]);
  const error = await within(bound, closer.waitForLost(), `the ${side}'s close()`);
  silent.transport?.abort();
  return error;
}
