/**
 * serveHttp on workers: the requests in flight when the group closes are counted in the workers
 * that served them, and the primary's close() sums them (the primary itself serves none).
 */
import { readFileSync } from 'node:fs';
import { clientContext, connect } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { killPeers } from '../helpers/peers.js';
import { WorkersFixture, workerCertificates } from '../helpers/workers.js';

const started: WorkersFixture[] = [];
afterEach(async () => {
  const fixtures = started.splice(0);
  await killPeers();
  for (const fixture of fixtures) fixture.expectNoUnhandledRejection();
});

describe('serveHttp on workers', () => {
  it("counts a request a worker was serving when the group closed in close()'s `requests`", async () => {
    const certificates = await workerCertificates();
    const fixture = new WorkersFixture({ ...certificates, api: 'serveHttp', workers: 1 });
    started.push(fixture);
    const { port } = await fixture.ready();
    const open = () =>
      connect({
        host: '127.0.0.1',
        port,
        serverName: 'localhost',
        tls: clientContext({ trust: readFileSync(certificates.ca, 'utf8') }),
      });
    const held = await open();
    await held.write('POST /hold HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n');
    // The headers came: the worker is serving the request, and holds it until the body arrives.
    expect(await held.readUntil('\r\n\r\n')).toBeTruthy();
    // An idle keep-alive connection to the same worker shows when its closing has begun: the
    // worker ends it at once.
    const idle = await open();
    await idle.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(await idle.readUntil('"with":"serveHttp"')).toBeTruthy();
    const closed = fixture.close(5000);
    await readAll(idle);
    await idle.close();
    await held.write('hello');
    expect(Buffer.concat(await readAll(held)).toString()).toContain('"with":"serveHttp"');
    await held.close();
    expect(await closed).toMatchObject({ drained: 2, aborted: 0, requests: { completed: 1, cut: 0 } });
    expect(await fixture.peer.waitForExit()).toEqual({ code: 0, signal: null });
  });
});

async function readAll(connection: Awaited<ReturnType<typeof connect>>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await connection.read(); chunk !== null; chunk = await connection.read())
    chunks.push(chunk);
  return chunks;
}
