import { once } from 'node:events';
import http from 'node:http';
import { PassThrough, pipeline, Readable, Writable } from 'node:stream';
import { fromDuplex, type Transport, toDuplex } from 'tlskit';
import { memoryPair, patternBytes, RecordingProtocol, turns } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { type BaseTransport, kOnLost } from '../../src/transport/base.js';
import { tcpPair } from '../helpers/pairs.js';

/** Resolves with the error the transport's connection ended with, once it has. */
function lostOf(transport: Transport): Promise<Error | null> {
  return new Promise((resolve) => (transport as BaseTransport)[kOnLost](resolve));
}

describe('toDuplex', () => {
  it('lets a node:http server and client exchange a request and a response over a memory pair', async () => {
    const [clientEnd, serverEnd] = memoryPair({ seed: 3, maxChunkSize: 50 });
    const server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        res.setHeader('content-type', 'text/plain');
        res.end(`${req.method} ${req.url} got ${Buffer.concat(parts).toString()}`);
      });
    });
    server.emit('connection', toDuplex(serverEnd));

    const body = await new Promise<string>((resolve, reject) => {
      const request = http.request(
        { method: 'POST', path: '/echo?x=1', createConnection: () => toDuplex(clientEnd) },
        (response) => {
          expect(response.statusCode).toBe(200);
          expect(response.headers['content-type']).toBe('text/plain');
          const parts: Buffer[] = [];
          response.on('data', (part: Buffer) => parts.push(part));
          response.on('end', () => resolve(Buffer.concat(parts).toString()));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end('ping over memory');
    });
    expect(body).toBe('POST /echo?x=1 got ping over memory');
    server.close();
  });

  it('carries bytes through stream.pipeline with backpressure, in order', async () => {
    const [a, b] = memoryPair({ chunkSize: 1000 });
    const bytes = patternBytes(300_000, 8);
    const received: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setImmediate(callback); // a slow consumer
      },
    });
    const reader = toDuplex(b);
    const done = new Promise<void>((resolve, reject) =>
      pipeline(reader, sink, (error) => (error ? reject(error) : resolve())),
    );
    const writer = toDuplex(a);
    Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]).pipe(writer);
    await done;
    expect(Buffer.concat(received).equals(Buffer.from(bytes))).toBe(true);
  });

  it('destroying the Duplex with an error aborts the transport; without one, closes it', async () => {
    const [a, b] = memoryPair();
    const peer = new RecordingProtocol();
    b.setProtocol(peer);
    const duplex = toDuplex(a);
    duplex.on('error', () => {});
    duplex.destroy(new Error('gone'));
    expect(await peer.waitForLost()).toMatchObject({ code: 'ECONNRESET' });

    const [c, d] = memoryPair();
    const calm = new RecordingProtocol();
    d.setProtocol(calm);
    toDuplex(c).destroy();
    await calm.waitForEof();
    expect(await calm.waitForLost()).toBeNull();
  });

  it('keeps what the peer sent after a clean close until the consumer has read it', async () => {
    const [a, b] = memoryPair();
    const peer = new RecordingProtocol({ keepOpenOnEof: true });
    a.setProtocol(peer);
    a.write(patternBytes(10, 4));
    a.end();
    const duplex = toDuplex(b);
    duplex.end();
    expect(await lostOf(b)).toBeNull();
    // Nobody has read yet: the bytes wait in the stream, which must not be torn down under them.
    expect(duplex.destroyed).toBe(false);
    expect(duplex.readableLength).toBe(10);
    const closed = once(duplex, 'close');
    const parts: Buffer[] = [];
    duplex.on('data', (part: Buffer) => parts.push(part));
    await once(duplex, 'end');
    expect(Buffer.concat(parts).equals(Buffer.from(patternBytes(10, 4)))).toBe(true);
    await closed;
  });

  it('lets pipeline into a slow sink finish after the peer closed cleanly', async () => {
    const [a, b] = memoryPair();
    const response = patternBytes(50 * 1024, 6);
    a.setProtocol(
      new RecordingProtocol({
        keepOpenOnEof: true,
        onData: (_data, transport) => {
          transport.write(response);
          transport.end();
        },
      }),
    );
    const duplex = toDuplex(b);
    const received: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setImmediate(callback); // slower than the memory pair delivers
      },
    });
    const done = new Promise<Error | null>((resolve) =>
      pipeline(duplex, sink, (error) => resolve(error ?? null)),
    );
    duplex.end('GET\n');
    await once(duplex, 'close');
    expect(duplex.readableEnded).toBe(true); // 'end' came first: nothing was thrown away
    expect(await done).toBeNull();
    expect(Buffer.concat(received).equals(Buffer.from(response))).toBe(true);
  });

  it("emits 'finish' only once the transport has handed on every byte written before end()", async () => {
    const [a, b] = memoryPair({ chunkSize: 4096 });
    const peer = new RecordingProtocol({ keepOpenOnEof: true });
    b.setProtocol(peer);
    peer.pauseReading(); // the peer takes nothing for now, as a full TCP window would
    const duplex = toDuplex(a);
    const bytes = patternBytes(20_000, 9); // below the high-water mark: every write is accepted at once
    let receivedAtFinish = -1;
    const finished = once(duplex, 'finish').then(() => {
      receivedAtFinish = peer.receivedBytes;
    });
    duplex.end(bytes);
    await turns(20);
    expect(duplex.writableFinished).toBe(false);
    peer.resumeReading();
    await finished;
    expect(receivedAtFinish).toBe(bytes.length);
    await peer.waitForEof();
    expect(Buffer.from(peer.received()).equals(Buffer.from(bytes))).toBe(true);
  });

  it('destroys at once when the connection is lost with an error', async () => {
    const [a, b] = memoryPair();
    a.setProtocol({});
    const duplex = toDuplex(b);
    const failed = once(duplex, 'error');
    a.abort(); // the memory pair resets its peer
    const [error] = await failed;
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(duplex.destroyed).toBe(true);
  });

  it('carries two requests of a keep-alive http.Agent over one connection', async () => {
    const [clientEnd, serverEnd] = memoryPair({ seed: 5, maxChunkSize: 100 });
    const server = http.createServer((req, res) => {
      let length = 0;
      req.on('data', (part: Buffer) => {
        length += part.length;
      });
      req.on('end', () => res.end(`${req.method} ${req.url} ${length}`));
    });
    server.emit('connection', toDuplex(serverEnd));
    // Between requests the agent unrefs the idle socket and refs it again when reusing it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let connections = 0;
    agent.createConnection = () => {
      connections++;
      return toDuplex(clientEnd);
    };
    const post = (path: string, body: string) =>
      new Promise<{ text: string; reused: boolean }>((resolve, reject) => {
        const request = http.request({ method: 'POST', path, agent }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (part: string) => {
            text += part;
          });
          response.on('end', () => resolve({ text, reused: request.reusedSocket }));
        });
        request.on('error', reject);
        request.end(body);
      });
    expect(await post('/one', 'a'.repeat(1000))).toEqual({ text: 'POST /one 1000', reused: false });
    expect(await post('/two', 'b'.repeat(5000))).toEqual({ text: 'POST /two 5000', reused: true });
    expect(connections).toBe(1);
    agent.destroy();
    server.close();
  });

  it('ref() and unref() reach the socket under a TCP transport', async () => {
    const [client, server] = await tcpPair();
    const sockets = () => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
    const duplex = toDuplex(client);
    const held = sockets();
    expect(duplex.unref()).toBe(duplex);
    expect(sockets()).toBe(held - 1); // this end no longer keeps the process alive
    expect(duplex.ref()).toBe(duplex);
    expect(sockets()).toBe(held);
    duplex.destroy();
    server.close();
  });

  it('emits timeout after idling, as node:http expects of a socket', async () => {
    const [a] = memoryPair();
    const duplex = toDuplex(a);
    await new Promise<void>((resolve) => duplex.setTimeout(20, resolve));
    duplex.destroy();
  });
});

describe('fromDuplex', () => {
  it('turns a Node stream into a transport and rejects things that are not streams', async () => {
    const stream = new PassThrough();
    const transport = fromDuplex(stream);
    const protocol = new RecordingProtocol({ keepOpenOnEof: true });
    transport.setProtocol(protocol);
    transport.write('loop');
    transport.end();
    await protocol.waitForEof();
    expect(protocol.text()).toBe('loop');
    expect(transport.info.kind).toBe('duplex');
    expect(() => fromDuplex({} as never)).toThrow(/must be a Node Duplex stream/);
  });

  it.each(['hex', 'base64', 'latin1', 'utf8'] as const)(
    'delivers the bytes of a stream given setEncoding(%s), not the text it decoded them to',
    async (encoding) => {
      const stream = new PassThrough();
      stream.setEncoding(encoding);
      const transport = fromDuplex(stream);
      const protocol = new RecordingProtocol({ keepOpenOnEof: true });
      transport.setProtocol(protocol);
      // Binary bytes, except for utf8, which can only carry text (a character cut between writes too).
      const bytes = encoding === 'utf8' ? Buffer.from('grüße, 😀') : Buffer.from([0, 1, 2, 0x7f, 0x80, 0xff]);
      transport.write(bytes.subarray(0, 3));
      transport.write(bytes.subarray(3));
      transport.end();
      await protocol.waitForEof();
      expect(Buffer.from(protocol.received())).toEqual(bytes);
    },
  );
});
