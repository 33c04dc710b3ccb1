/**
 * UDP edges node:dgram gets wrong unless told: a connect that fails, a datagram resolving its
 * address when close() comes, errors the kernel returns at once, IPv4-mapped peers of a udp6
 * endpoint, buffer sizes the OS refuses, and the checks of `local`, `remote` and `to`. Loopback
 * only; every wait is on an event, with a deadline.
 */
import os from 'node:os';
import { createDatagramEndpoint, type DatagramEndpointOptions, type UdpTransport } from 'tlskit';
import { DatagramRecorder } from 'tlskit/testing';
import { afterEach, describe, expect, it } from 'vitest';

const host = '127.0.0.1';
const hasIpv6Loopback = Object.values(os.networkInterfaces()).some((list) =>
  list?.some((entry) => entry.family === 'IPv6' && entry.address === '::1'),
);

const open: UdpTransport[] = [];
afterEach(() => {
  for (const endpoint of open.splice(0)) endpoint.abort();
});

/** An endpoint with a recorder bound, aborted after the test. */
async function endpoint(options: DatagramEndpointOptions): Promise<[UdpTransport, DatagramRecorder]> {
  const transport = await createDatagramEndpoint(options);
  open.push(transport);
  const recorder = new DatagramRecorder();
  transport.setProtocol(recorder);
  return [transport, recorder];
}

describe('createDatagramEndpoint: connect and bind', () => {
  it('a connect the OS refuses rejects, naming `remote`', async () => {
    // A UDP connect to the broadcast address without SO_BROADCAST: EACCES.
    const pending = createDatagramEndpoint({ type: 'udp4', remote: { host: '255.255.255.255', port: 9 } });
    await expect(pending).rejects.toMatchObject({
      code: 'EACCES',
      message: expect.stringMatching(/cannot connect to `remote` 255\.255\.255\.255:9/),
    });
  });

  it('a buffer size over 2^31-1 rejects, naming the field (node:dgram threw it uncaught inside the bind)', async () => {
    for (const field of ['sendBufferSize', 'receiveBufferSize'] as const) {
      await expect(
        createDatagramEndpoint({ type: 'udp4', local: { host }, [field]: 2 ** 31 }),
      ).rejects.toThrow(
        new RegExp(`\`${field}\` must be a positive integer of bytes up to 2147483647, got 2147483648`),
      );
    }
    const [big] = await endpoint({ type: 'udp4', local: { host }, receiveBufferSize: 2 ** 31 - 1 });
    expect(big.info.receiveBufferSize).toBeGreaterThan(0); // the kernel caps it, and says so
  });

  it('checks `local`: its names, its type and its port', async () => {
    const refused = (local: unknown) =>
      createDatagramEndpoint({ type: 'udp4', local: local as DatagramEndpointOptions['local'] });
    await expect(refused({ hots: host })).rejects.toThrow(
      /unknown option `local.hots`; did you mean `local.host`\?/,
    );
    await expect(refused(host)).rejects.toThrow(
      /`local` must be \{ host\?, port\? \}.*got "127.0.0.1" \(a string\)/,
    );
    await expect(refused({ host: 1 })).rejects.toThrow(/`local.host` must be an address or host name/);
    for (const port of [70_000, -1, 1.5, 'abc']) {
      await expect(refused({ host, port })).rejects.toThrow(
        /`local.port` must be an integer from 0 to 65535/,
      );
    }
  });

  it('checks the names in `remote`', async () => {
    await expect(
      createDatagramEndpoint({ type: 'udp4', remote: { host, port: 9, prot: 1 } as never }),
    ).rejects.toThrow(/unknown option `remote.prot`/);
  });
});

describe('UdpTransport.send', () => {
  it('close() right after send(data, to) on an unconnected endpoint still sends it', async () => {
    const [server, heard] = await endpoint({ type: 'udp4', local: { host } });
    const [client, recorder] = await endpoint({ type: 'udp4', local: { host } });
    client.send('hello', server.info.local!);
    expect(client.writeBufferSize).toBe(5); // resolving `to`: node:dgram sends on a later tick
    client.close();
    await heard.waitFor('the datagram sent before close()', () => heard.datagrams.length === 1);
    await recorder.waitFor('connectionLost', () => recorder.lostCount === 1);
    expect(Buffer.from(heard.datagrams[0]!.data).toString()).toBe('hello');
    expect(recorder.lostError).toBeNull();
  });

  it('an error the kernel returns at once reaches errorReceived, and the endpoint stays open', async () => {
    const [client, recorder] = await endpoint({ type: 'udp4', local: { host } });
    client.send('x', { host: '255.255.255.255', port: 9 }); // EACCES without SO_BROADCAST
    await recorder.waitFor('errorReceived', () => recorder.errors.length > 0);
    expect(recorder.errors[0]).toMatchObject({ code: 'EACCES' });
    expect(client.closing).toBe(false);
    expect(client.writeBufferSize).toBe(0);
  });

  it('refuses a bad `to` with an InvalidArgumentError naming it', async () => {
    const [client] = await endpoint({ type: 'udp4', local: { host } });
    for (const to of [{ host, port: 0 }, { host, port: 70_000 }, { host: 123, port: 9 }, `${host}:9`]) {
      expect(() => client.send('x', to as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_ARGUMENT',
          message: expect.stringMatching(/^send: `to` must be \{ host, port \}/),
        }),
      );
    }
    expect(() => client.send('x', { host: '::1', port: 9 })).toThrow(
      /`to.host` "::1" is an IPv6 address but this endpoint is 'udp4'; send IPv6 from a udp6 endpoint/,
    );
  });

  it.skipIf(!hasIpv6Loopback)(
    'a udp6 endpoint refuses an IPv4 literal as `to`, naming the mapped spelling',
    async () => {
      const [client] = await endpoint({ type: 'udp6', local: { host: '::1' } });
      expect(() => client.send('x', { host, port: 9 })).toThrow(
        /`to.host` "127.0.0.1" is an IPv4 address but this endpoint is 'udp6'; spell it ::ffff:127.0.0.1/,
      );
    },
  );

  it.skipIf(!hasIpv6Loopback)('a connected endpoint accepts its peer as `to` in any spelling', async () => {
    const [server, heard] = await endpoint({ type: 'udp6', local: { host: '::1' } });
    const port = server.info.local!.port;
    const [client] = await endpoint({ type: 'udp6', remote: { host: '0:0:0:0:0:0:0:1', port } });
    client.send('long', { host: '0:0:0:0:0:0:0:1', port });
    client.send('short', { host: '::1', port });
    await heard.waitFor('both datagrams', () => heard.datagrams.length === 2);
    expect(() => client.send('x', { host: '::2', port })).toThrow(/connected to ::1:\d+; omit `to`/);
  });

  it.skipIf(!hasIpv6Loopback)('a udp6 endpoint applies the IPv4 limit to an IPv4-mapped peer', async () => {
    const [server, heard] = await endpoint({ type: 'udp4', local: { host } });
    const to = { host: `::ffff:${host}`, port: server.info.local!.port };
    const [client] = await endpoint({ type: 'udp6', local: { host: '::' }, sendBufferSize: 1 << 20 });
    expect(() => client.send(new Uint8Array(65_508), to)).toThrow(
      expect.objectContaining({ code: 'ERR_LIMIT_EXCEEDED', limit: 65_507 }),
    );
    expect(() => client.send(new Uint8Array(65_520), to)).toThrow(
      /65520 bytes is over the limit of 65507 bytes for IPv4, which carries it to the IPv4-mapped ::ffff:127.0.0.1/,
    );
    client.send(new Uint8Array(65_507), to);
    await heard.waitFor('the largest IPv4 datagram', () => heard.datagrams.length === 1);
    expect(heard.datagrams[0]!.data.length).toBe(65_507);
    const [connected] = await endpoint({ type: 'udp6', remote: to });
    expect(connected.maxDatagramSize).toBe(65_507);
    expect(client.maxDatagramSize).toBe(65_527); // unconnected: IPv6 peers take more
  });
});
