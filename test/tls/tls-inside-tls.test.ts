/**
 * TLS inside TLS over TCP, where both engines are native: the inner layer's engine reads straight
 * from the outer one's, as node:tls does for `tls.connect({ socket: tlsSocket })`, and bulk data
 * never crosses into JavaScript between them. The outer layer then reports its own close_notify to
 * the inner one as an end of stream, which must not pass for the inner layer's: the party at the
 * other end of the outer layer (a TLS proxy, say) could otherwise cut the inner stream short
 * unnoticed. The peer here is raw node:tls stacked the same way, so it can end either layer alone.
 */
import net from 'node:net';
import { getDefaultHighWaterMark, type Readable } from 'node:stream';
import tls from 'node:tls';
import { createConnection, createServer, startTls, type Transport } from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

/** How the raw peer ends after sending its payload. */
type Ending = 'inner close_notify' | 'outer close_notify only' | 'TCP close without close_notify';
const endings: Ending[] = ['inner close_notify', 'outer close_notify only', 'TCP close without close_notify'];

/** A raw node:tls connection with one TLS engine stacked on another, and the TCP socket below. */
interface RawStack {
  tcp: net.Socket;
  outer: tls.TLSSocket;
  inner: tls.TLSSocket;
}

/** Sends `payload` on the inner layer, then ends as told once node:tls has taken every byte. */
function sendAndEnd({ tcp, outer, inner }: RawStack, payload: Buffer, ending: Ending): Promise<void> {
  return new Promise((resolve) => {
    inner.write(payload, () => {
      // A turn later, as with any node:tls end(): Node loses a close_notify sent sooner.
      setImmediate(() => {
        if (ending === 'inner close_notify') inner.end();
        else if (ending === 'outer close_notify only') outer.end();
        else tcp.destroy();
        resolve();
      });
    });
  });
}

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const step of cleanup) step();
  cleanup = [];
});

/** A raw server that stacks two TLS layers on each connection; `onStack` gets each one. */
async function rawStackServer(onStack: (stack: RawStack) => void): Promise<number> {
  const { server } = await pki();
  const options = { isServer: true, cert: server.chainPem, key: server.keyPem };
  const listener = net.createServer((tcp) => {
    tcp.on('error', () => {});
    const outer = new tls.TLSSocket(tcp, options);
    outer.on('error', () => {});
    outer.once('secure', () => {
      const inner = new tls.TLSSocket(outer, options);
      inner.on('error', () => {});
      inner.once('secure', () => onStack({ tcp, outer, inner }));
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => listener.close());
  return (listener.address() as net.AddressInfo).port;
}

/**
 * A TCP relay to `port` that forwards both ways; after `hold()`, what the server sends waits until
 * the server's connection has closed, and `release()` then passes it on in a single write, followed by the end.
 */
async function holdingRelay(port: number) {
  let held: Buffer[] | null = null;
  let serverEnded!: () => void;
  const ended = new Promise<void>((resolve) => {
    serverEnded = resolve;
  });
  let toClient!: net.Socket;
  const listener = net.createServer((client) => {
    toClient = client;
    const server = net.connect(port, '127.0.0.1');
    for (const socket of [client, server]) socket.on('error', () => {});
    client.on('data', (chunk) => server.write(chunk));
    client.on('end', () => server.end());
    server.on('data', (chunk) => (held ? held.push(chunk) : client.write(chunk)));
    server.on('close', serverEnded);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => listener.close());
  return {
    port: (listener.address() as net.AddressInfo).port,
    hold() {
      held = [];
    },
    async release() {
      await ended;
      toClient.end(Buffer.concat(held ?? []));
      held = null;
    },
  };
}

/** tlskit's client: TLS over TCP, then TLS again over that, recorded. */
async function tlskitInsideTls(port: number, options: { paused?: boolean } = {}) {
  const { clientContext } = await pki();
  const outer = await createConnection(() => ({}), {
    host: '127.0.0.1',
    port,
    tls: clientContext,
    serverName: 'localhost',
  });
  const recorder: RecordingProtocol = new RecordingProtocol({
    onMade: () => (options.paused ? recorder.pauseReading() : undefined),
  });
  const inner = await startTls(outer, {
    context: clientContext,
    serverName: 'localhost',
    protocol: recorder,
  });
  cleanup.push(() => inner.abort());
  return { outer, inner, recorder };
}

/** The Node socket a tlskit transport runs over (white-box: which engine reads from which). */
function handleOf(transport: Transport): unknown {
  return (transport as unknown as { stream: { _handle: unknown } }).stream._handle;
}

/**
 * Resolves when node:tls reports the end of stream under `transport` (white-box: while the protocol
 * is paused nothing observable happens then, but that is the moment the verdict is taken).
 */
function endReached(transport: Transport): Promise<void> {
  const socket = (transport as unknown as { stream: Readable }).stream;
  const push = socket.push;
  return new Promise((resolve) => {
    socket.push = function (this: Readable, chunk: unknown, encoding?: BufferEncoding) {
      const result = push.call(this, chunk, encoding);
      if (chunk === null) resolve();
      return result;
    };
  });
}

/** What the protocol of an inner layer must see for each ending of a peer that sent `payload`. */
async function expectEnding(recorder: RecordingProtocol, payload: Buffer, ending: Ending): Promise<void> {
  const error = await recorder.waitForLost();
  expect(recorder.violations).toEqual([]);
  if (ending === 'inner close_notify') {
    expect(error).toBeNull();
    expect(recorder.eofCount).toBe(1);
    expect(Buffer.from(recorder.received()).equals(payload)).toBe(true);
  } else {
    expect(error).toMatchObject({ code: 'ERR_TLS_TRUNCATED' });
    expect(recorder.eofCount).toBe(0);
  }
}

describe('TLS inside TLS: one native engine on another', () => {
  it('the inner engine reads from the outer engine directly, not through JavaScript', async () => {
    let stacked!: (stack: RawStack) => void;
    const peer = new Promise<RawStack>((resolve) => {
      stacked = resolve;
    });
    const port = await rawStackServer(stacked);
    const { outer, inner, recorder } = await tlskitInsideTls(port);
    const innerHandle = handleOf(inner) as { _parent?: unknown };
    expect(innerHandle._parent).toBe(handleOf(outer));
    (await peer).inner.write('over both engines');
    await recorder.waitForBytes(17);
    expect(recorder.text()).toBe('over both engines');
  });

  for (const ending of endings) {
    it(`client: a peer ending with ${ending} is ${ending === 'inner close_notify' ? 'a clean end' : 'ERR_TLS_TRUNCATED'}`, async () => {
      const payload = Buffer.from('the whole message');
      const port = await rawStackServer((stack) => void sendAndEnd(stack, payload, ending));
      const { recorder } = await tlskitInsideTls(port);
      await expectEnding(recorder, payload, ending);
    });
  }

  for (const ending of ['inner close_notify', 'outer close_notify only'] as const) {
    it(`client, reading paused: ${ending} arriving right behind the data that fills the buffer gives the same verdict`, async () => {
      // The end must arrive in the same read as the data that fills the paused reader's buffer:
      // Node then stops reading the socket and reports the end in the same breath. A relay holds
      // the peer's bytes and passes them on in one write once the peer has ended. (A TCP end has
      // no such moment: it is not read at all while the socket is stopped.)
      const payload = Buffer.alloc(getDefaultHighWaterMark(false) + 4096, 0x61);
      let send!: () => void;
      const peerReady = new Promise<void>((resolve) => {
        send = resolve;
      });
      const port = await rawStackServer(
        (stack) => void peerReady.then(() => sendAndEnd(stack, payload, ending)),
      );
      const relay = await holdingRelay(port);
      const { recorder } = await tlskitInsideTls(relay.port, { paused: true });
      expect(recorder.readingPaused).toBe(true);
      relay.hold();
      send();
      const arrived = endReached(recorder.transport!);
      await relay.release();
      await arrived;
      recorder.resumeReading();
      await expectEnding(recorder, payload, ending);
    });
  }

  for (const ending of endings) {
    it(`server: a client ending with ${ending} is ${ending === 'inner close_notify' ? 'a clean end' : 'ERR_TLS_TRUNCATED'}`, async () => {
      const { ca, serverContext } = await pki();
      const recorder = new RecordingProtocol();
      const server = await createServer(
        () => ({
          connectionMade: (transport: Transport) => {
            startTls(transport, { context: serverContext, protocol: recorder }).catch(() => {});
          },
        }),
        { host: '127.0.0.1', port: 0, tls: serverContext },
      );
      cleanup.push(() => void server.close());
      const payload = Buffer.from('from the client');
      const tcp = net.connect(server.address.port, '127.0.0.1');
      tcp.on('error', () => {});
      const options = { ca: ca.trust, servername: 'localhost' };
      const outer = tls.connect({ ...options, socket: tcp });
      outer.on('error', () => {});
      await new Promise((resolve) => outer.once('secureConnect', resolve));
      const inner = tls.connect({ ...options, socket: outer });
      inner.on('error', () => {});
      await new Promise((resolve) => inner.once('secureConnect', resolve));
      await sendAndEnd({ tcp, outer, inner }, payload, ending);
      await expectEnding(recorder, payload, ending);
    });
  }
});
