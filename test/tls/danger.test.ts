import { ContextError, connect, serve } from 'tlskit';
import { insecureClientContext } from 'tlskit/danger';
import { createCA } from 'tlskit/pki';
import { describe, expect, it } from 'vitest';

describe('tlskit/danger', () => {
  it('is the only way to skip verification, needs a reason, and warns the process once', async () => {
    expect(() => insecureClientContext({} as never)).toThrow(ContextError);
    expect(() => insecureClientContext({ reason: '' })).toThrow(/`reason` is required/);
    expect(() => insecureClientContext({ reason: 'x' })).toThrow(
      /`reason` must be a sentence of 3 characters or more, got "x": say why/,
    );
    const warnings: Array<{ code?: string; message: string }> = [];
    const listener = (warning: Error & { code?: string }) => warnings.push(warning);
    process.on('warning', listener);
    const context = insecureClientContext({ reason: 'test against a throwaway server' });
    insecureClientContext({ reason: 'and again' });
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', listener);
    const ours = warnings.filter((w) => w.code === 'TLSKIT_INSECURE');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toMatch(/verification is OFF.*reason: test against a throwaway server/);
    expect(context.insecureReason).toBe('test against a throwaway server');

    // It connects to a server nobody trusts, under a name the certificate does not carry.
    const stranger = await (await createCA()).issue({ hosts: ['elsewhere.test'] });
    const server = await serve({ host: '127.0.0.1', port: 0, tls: stranger.serverContext() }, async (c) => {
      await c.write('unverified hello\n');
    });
    const conn = await connect({
      host: '127.0.0.1',
      port: server.address.port,
      tls: context,
      serverName: 'localhost',
    });
    expect(await conn.readLine()).toBe('unverified hello');
    await conn.close();
    await server.close();
  });

  it('the main entry exports nothing that turns verification off', async () => {
    const main = await import('tlskit');
    expect(Object.keys(main).filter((name) => /insecure|danger|unsafe/i.test(name))).toEqual([]);
  });
});
