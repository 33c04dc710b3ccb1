import { type Protocol, startTls, type Transport } from 'tlskit';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { expect, it } from 'vitest';
import { pki } from '../helpers/pki-fixtures.js';

/**
 * Relays bytes between two transports and lists the TLS records that go from `from` to `to`
 * (content type and length), as a middlebox on the wire would see them.
 */
function tap(from: Transport, to: Transport): Array<{ type: number; length: number }> {
  const records: Array<{ type: number; length: number }> = [];
  let pending = Buffer.alloc(0);
  const forward = (target: Transport, parse: boolean): Protocol => ({
    dataReceived: (data) => {
      target.write(data);
      if (!parse) return;
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt16BE(3)) {
        records.push({ type: pending[0]!, length: pending.readUInt16BE(3) });
        pending = pending.subarray(5 + pending.readUInt16BE(3));
      }
    },
  });
  from.setProtocol(forward(to, true));
  to.setProtocol(forward(from, false));
  return records;
}

it('a burst of small writes becomes a couple of TLS records, not one record per write', async () => {
  // One record per small write costs CPU and bandwidth many times over (Twisted #11989).
  const { clientContext: client, serverContext: server } = await pki();
  const [a, b] = memoryPair();
  const [c, d] = memoryPair();
  const records = tap(b, c);
  const receiver = new RecordingProtocol();
  const [ct] = await Promise.all([
    startTls(a, { context: client, serverName: 'localhost' }),
    startTls(d, { context: server, protocol: receiver }),
  ]);
  records.length = 0;
  for (let i = 0; i < 100; i++) ct.write('0123456789');
  await receiver.waitForBytes(1000);
  const applicationData = records.filter((record) => record.type === 23);
  // Node sends the first write at once and gathers the rest while it is in flight.
  expect(applicationData.length).toBeLessThanOrEqual(2);
  ct.close();
});
