import fc from 'fast-check';
import { startTls } from 'tlskit';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { expect, it } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

const fragmentation = fc.oneof(
  fc.record({ chunkSize: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxChunkSize: fc.integer({ min: 1, max: 5000 }),
  }),
  fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxChunkSize: fc.integer({ min: 1, max: 2000 }),
    delay: fc.integer({ min: 0, max: 3 }),
  }),
);
const payload = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40_000, size: 'max' }), {
  minLength: 1,
  maxLength: 6,
});

it('application bytes cross TLS unchanged, however the transport below fragments them', async () => {
  const { serverContext: server, clientContext: client } = await pki();
  await fc.assert(
    fc.asyncProperty(fragmentation, payload, payload, async (options, fromClient, fromServer) => {
      const [a, b] = memoryPair(options);
      const [ct, st] = await Promise.all([
        startTls(a, { context: client, serverName: 'localhost' }),
        startTls(b, { context: server }),
      ]);
      const atServer = new RecordingProtocol({ keepOpenOnEof: true });
      const atClient = new RecordingProtocol({ keepOpenOnEof: true });
      st.setProtocol(atServer);
      ct.setProtocol(atClient);
      for (const chunk of fromClient) ct.write(chunk);
      for (const chunk of fromServer) st.write(chunk);
      ct.end();
      st.end();
      await Promise.all([atServer.waitForEof(), atClient.waitForEof()]);
      expect(Buffer.from(atServer.received()).equals(Buffer.concat(fromClient))).toBe(true);
      expect(Buffer.from(atClient.received()).equals(Buffer.concat(fromServer))).toBe(true);
      expect([...atServer.violations, ...atClient.violations]).toEqual([]);
      expect(await atServer.waitForLost()).toBeNull();
      expect(await atClient.waitForLost()).toBeNull();
    }),
    { numRuns: 25, seed: 20261123 },
  );
});
