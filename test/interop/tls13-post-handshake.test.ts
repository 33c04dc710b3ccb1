/**
 * TLS 1.3 messages after the handshake (KeyUpdate, NewSessionTicket) sent by OpenSSL peers. They
 * are records without application data: tlskit must neither deliver them as data nor mistake them
 * for an end of stream, and the connection must keep working in both directions with the new keys.
 * `-msg` makes the OpenSSL tools trace each message they send (>>>) and receive (<<<). The traces
 * go through a buffered stdout BIO, while received data is written to stdout directly, so a trace
 * is awaited for itself, and a count is taken only once a later trace is visible.
 */
import { clientContext, createServer, serverContext } from 'tlskit';
import { RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import {
  connectRecorded,
  opensslClient,
  opensslServer,
  PEER_TIMEOUT,
  serversClosedAfterEach,
} from '../helpers/peers.js';

const certs = opensslCerts();
const servers = serversClosedAfterEach();

const sentKeyUpdate = />>> TLS 1\.3, Handshake \[length 0005\], KeyUpdate\n/;
/** The trace of a TLS 1.3 record carrying application data (inner content type 23). */
const sentApplicationData = />>> TLS 1\.2, InnerContent \[length 0001\]\n\s+17\n/;
const receivedApplicationData = /<<< TLS 1\.3, InnerContent \[length 0001\]\n\s+17\n/;
const sentTicket = />>> TLS 1\.3, Handshake \[length [0-9a-f]{4}\], NewSessionTicket\n/;
const followedBy = (first: RegExp, then: RegExp) => new RegExp(`${first.source}[\\s\\S]*${then.source}`);
const receivedKeyUpdate = /<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate\n/;

const tlskitClient = (port: number, context = clientContext({ trust: certs.caPem })) =>
  connectRecorded(port, context);

const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;

describe('tlskit client with openssl s_server -tls1_3', () => {
  it('a KeyUpdate from the server ("k") is neither data nor an end of stream, and data flows on both ways', async () => {
    const server = await opensslServer(['-tls1_3', '-msg']);
    const { transport, recording } = await tlskitClient(server.port);
    server.send('before\n');
    await recording.waitFor('"before"', () => recording.text() === 'before\n');

    const mark = server.mark();
    server.send('k\n');
    await server.waitFor(sentKeyUpdate, { since: mark });
    server.send('after\n');
    await recording.waitFor('"after"', () => recording.text() === 'before\nafter\n');

    transport.write('client after k\n');
    await server.waitFor(/client after k\n/, { since: mark });
    // "k" does not ask for an update in return, so tlskit sends none: nothing is traced before the
    // record that carried the line (traces are buffered, so wait for that one first).
    await server.waitFor(receivedApplicationData, { since: mark });
    expect(server.output.slice(mark)).not.toMatch(receivedKeyUpdate);
    expect(recording.events).toEqual(['made', 'data']);
    expect(recording.violations).toEqual([]);
  });

  it('answers a KeyUpdate that requests one ("K") with its own, and the server decrypts what follows', async () => {
    const server = await opensslServer(['-tls1_3', '-msg']);
    const { transport, recording } = await tlskitClient(server.port);
    transport.write('hello\n');
    await server.waitFor(/hello\n/);

    const mark = server.mark();
    server.send('K\n');
    await server.waitFor(sentKeyUpdate, { since: mark });
    server.send('after K\n');
    await recording.waitFor('"after K"', () => recording.text() === 'after K\n');

    // OpenSSL answers the request before the next record it writes.
    transport.write('client after K\n');
    await server.waitFor(/client after K\n/, { since: mark });
    await server.waitFor(followedBy(receivedKeyUpdate, receivedApplicationData), { since: mark });
    expect(count(server.output.slice(mark), receivedKeyUpdate)).toBe(1);
    expect(recording.events).toEqual(['made', 'data']);
  });

  it('survives many KeyUpdates in a row, with nothing delivered until the data behind them', async () => {
    const server = await opensslServer(['-tls1_3', '-msg']);
    const { transport, recording } = await tlskitClient(server.port);
    const mark = server.mark();
    for (let i = 0; i < 5; i++) {
      server.send(i % 2 === 0 ? 'k\n' : 'K\n');
      await server.waitFor(new RegExp(`(${sentKeyUpdate.source}[\\s\\S]*){${i + 1}}`), { since: mark });
    }
    expect(count(server.output.slice(mark), sentKeyUpdate)).toBe(5);
    expect(recording.receivedBytes).toBe(0);
    server.send('payload\n');
    await recording.waitFor('"payload"', () => recording.text() === 'payload\n');
    transport.write('still here\n');
    await server.waitFor(/still here\n/, { since: mark });
    expect(recording.events).toEqual(['made', 'data']);
  });

  it('while the protocol has paused reading, a KeyUpdate and the data behind it wait, then arrive intact', async () => {
    const server = await opensslServer(['-tls1_3', '-msg']);
    const { transport, recording } = await tlskitClient(server.port);
    recording.pauseReading();
    const mark = server.mark();
    server.send('k\n');
    await server.waitFor(sentKeyUpdate, { since: mark });
    server.send('held back\n');
    await server.waitFor(sentApplicationData, { since: mark });
    // A round trip the other way, after the server wrote both records, before checking that
    // nothing was delivered.
    transport.write('ping\n');
    await server.waitFor(/ping\n/, { since: mark });
    expect(recording.receivedBytes).toBe(0);
    recording.resumeReading();
    await recording.waitFor('"held back"', () => recording.text() === 'held back\n');
    expect(recording.violations).toEqual([]);
    expect(recording.events).toEqual(['made', 'data']);
  });

  it('absorbs the session tickets the server sends after the handshake, and resumes with one', async () => {
    const server = await opensslServer(['-tls1_3', '-msg', '-num_tickets', '4']);
    const context = clientContext({ trust: certs.caPem, sessionCache: true });
    const first = await tlskitClient(server.port, context);
    server.send('first\n');
    await first.recording.waitFor('"first"', () => first.recording.text() === 'first\n');
    await server.waitFor(new RegExp(`(${sentTicket.source}[\\s\\S]*){4}`));
    expect(first.transport.info.tls?.resumed).toBe(false);
    expect(first.recording.events).toEqual(['made', 'data']);
    first.transport.close();
    expect(await first.recording.waitForLost()).toBeNull();
    await server.waitFor(/^DONE$/m);
    expect(count(server.output, sentTicket)).toBe(4);

    const mark = server.mark();
    const second = await tlskitClient(server.port, context);
    expect(second.transport.info.tls?.resumed).toBe(true);
    await server.waitFor(/^Reused session-id$/m, { since: mark });
    second.transport.write('resumed\n');
    await server.waitFor(/resumed\n/, { since: mark });
    second.transport.close();
    expect(await second.recording.waitForLost()).toBeNull();
  });
});

describe('tlskit server with openssl s_client -tls1_3', () => {
  it('a KeyUpdate from the client ("K") is not data; tlskit answers with its own and keeps both directions working', async () => {
    const recording = new RecordingProtocol({ timeout: PEER_TIMEOUT });
    const server = await createServer(() => recording, {
      host: '127.0.0.1',
      port: 0,
      tls: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }),
    });
    servers.push(server);
    const client = opensslClient(server.address.port, ['-tls1_3', '-msg']);
    client.send('before\n');
    await recording.waitFor('"before"', () => recording.text() === 'before\n');

    const mark = client.mark();
    client.send('K\n');
    await client.waitFor(sentKeyUpdate, { since: mark });
    client.send('after\n');
    await recording.waitFor('"after"', () => recording.text() === 'before\nafter\n');
    recording.transport!.write('server after K\n');
    await client.waitFor(/server after K\n/, { since: mark });
    await client.waitFor(followedBy(receivedKeyUpdate, receivedApplicationData), { since: mark });
    expect(count(client.output.slice(mark), receivedKeyUpdate)).toBe(1);
    expect(recording.events).toEqual(['made', 'data']);
    expect(recording.violations).toEqual([]);
  });
});
