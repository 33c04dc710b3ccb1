/**
 * The lab itself: its catalogue, what each server answers, that each weak case negotiates what it
 * claims (checked with openssl s_client at security level 0, which accepts anything), what is
 * unavailable and why, and that stopping it leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { controls, defects } from 'tlskit/pki';
import { GROUPS, type Lab, scenarios, selectScenarios, startLab } from 'tlskit/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const run = promisify(execFile);
let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(() => lab?.stop());

/** What s_client at level 0 sees of a scenario's server (it accepts anything, so it only reports). */
async function negotiated(name: string, extra: string[] = []): Promise<string> {
  const { port } = lab.scenario(name);
  const { stdout, stderr } = await run(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-cipher', 'ALL:eNULL:@SECLEVEL=0', '-showcerts', ...extra],
    { timeout: 8_000 },
  ).catch((error: { stdout: string; stderr: string }) => error);
  return stdout + stderr;
}

/** Sends `request` (or nothing) over TLS without verifying, and returns everything the server sent. */
function exchange(name: string, request: string | null): Promise<string> {
  const { port } = lab.scenario(name);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = tls.connect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ciphers: 'ALL:@SECLEVEL=0' },
      () => {
        if (request !== null) socket.write(request);
      },
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('the catalogue', () => {
  it('holds at least 40 served scenarios with unique names, each described, grouped and with an expectation', () => {
    const names = scenarios.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(lab.scenarios.filter((s) => !s.unavailable).length).toBeGreaterThanOrEqual(40);
    for (const s of scenarios) {
      expect(GROUPS).toContain(s.group);
      expect(['accept', 'reject', 'accept-or-unsupported']).toContain(s.expected);
      expect(s.description.length, s.name).toBeGreaterThan(20);
    }
  });

  it('includes every tlskit/pki defect (reject) and control (accept; Ed25519 may be unsupported)', () => {
    for (const defect of defects)
      expect(lab.scenario(defect.name)).toMatchObject({ group: 'pki-defect', expected: 'reject' });
    for (const control of controls) {
      expect(lab.scenario(control.name)).toMatchObject({
        group: 'pki-control',
        expected: control.name === 'ed25519' ? 'accept-or-unsupported' : 'accept',
      });
    }
  });

  it('selects by name and group, and names an entry that is neither', () => {
    expect(selectScenarios({ only: ['mtls'] }).map((s) => s.name)).toEqual([
      'mtls-required',
      'mtls-expired-client',
    ]);
    expect(
      selectScenarios({ only: ['protocol'], skip: ['rc4', '3des'] }).every((s) => s.group === 'protocol'),
    ).toBe(true);
    expect(() => selectScenarios({ skip: ['expird'] })).toThrow(/no scenario or group named 'expird'/);
  });
});

describe('the servers', () => {
  it('answer an HTTP request with 200 and a body naming the scenario', async () => {
    const response = await exchange('ecdsa', 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).toMatch(/\r\n\r\ntlskit badtls lab: scenario ecdsa \(a strict client would accept\)\n$/);
  });

  it('greet a raw TLS client that sends nothing with the same line', async () => {
    expect(await exchange('expired', null)).toBe(
      'tlskit badtls lab: scenario expired (a strict client would reject)\n',
    );
  });

  it('serve the IPv6 case on [::1] too, on the same port', async () => {
    const { port } = lab.scenario('ipv6-san');
    const socket = net.connect({ host: '::1', port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.destroy();
  });
});

describe('each weak case negotiates what it claims', () => {
  it.each([
    ['tls1.0-only', /Protocol *: TLSv1\n/, /Cipher is ECDHE-RSA-AES\d+-SHA/],
    ['tls1.1-only', /Protocol *: TLSv1\.1\n/, /Cipher is ECDHE-RSA-AES\d+-SHA/],
    ['dhe-1024', /Server Temp Key: DH, 1024 bits/, /Cipher is DHE-RSA-/],
    ['dhe-2048', /Server Temp Key: DH, 2048 bits/, /Cipher is DHE-RSA-/],
    ['null-cipher', /Protocol *: TLSv1\.2/, /Cipher is NULL-SHA256/],
    ['cbc-sha1', /Protocol *: TLSv1\.2/, /Cipher is ECDHE-RSA-AES\d+-SHA\n/],
    ['rsa-512', /Server public key is 512 bit/, /Protocol *: TLSv1\.2/],
    ['rsa-4096', /Server public key is 4096 bit/, /./],
    ['tls1.3-only', /New, TLSv1\.3/, /./],
  ])('%s', async (name, first, second) => {
    const seen = await negotiated(name);
    expect(seen).toMatch(first);
    expect(seen).toMatch(second);
  });

  it('tls1.2-only refuses TLS 1.3 and tls1.3-only refuses TLS 1.2', async () => {
    expect(await negotiated('tls1.2-only', ['-tls1_3'])).toMatch(
      /alert protocol version|no protocols available|wrong version/i,
    );
    expect(await negotiated('tls1.3-only', ['-tls1_2'])).toMatch(
      /alert protocol version|no protocols available|wrong version/i,
    );
  });

  it('md5-signature and sha1-intermediate carry the weak signatures, and the chain order is as described', async () => {
    const md5 = await negotiated('md5-signature');
    expect(await signatures(md5)).toEqual(['md5WithRSAEncryption']);
    const sha1 = await negotiated('sha1-intermediate');
    expect((await signatures(sha1))[1]).toBe('sha1WithRSAEncryption');
    const order = [...(await negotiated('chain-out-of-order')).matchAll(/^ (\d) s:(.*)$/gm)].map((m) => m[2]);
    expect(order).toEqual([
      'CN = localhost',
      expect.stringMatching(/intermediate 1 /),
      expect.stringMatching(/intermediate 2 /),
    ]);
    const deep = [...(await negotiated('chain-4-deep')).matchAll(/^ (\d) s:/gm)];
    expect(deep).toHaveLength(4);
  });
});

/** The signature algorithm of each certificate s_client printed with -showcerts. */
async function signatures(output: string): Promise<string[]> {
  const pems = output.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return Promise.all(
    pems.map(async (pem) => {
      const child = execFile('openssl', ['x509', '-noout', '-text']);
      child.stdin!.end(pem);
      let text = '';
      child.stdout!.on('data', (chunk: string) => {
        text += chunk;
      });
      await new Promise((resolve) => child.once('close', resolve));
      return /Signature Algorithm: (\S+)/.exec(text)?.[1] ?? '';
    }),
  );
}

describe('what cannot be served is unavailable, with the reason, never faked', () => {
  it('DHE under 1024 bits: Node refuses the group', () => {
    expect(lab.scenario('dhe-512')).toMatchObject({
      port: 0,
      unavailable: expect.stringMatching(/DH parameter is less than 1024 bits/),
    });
  });

  it.each(['3des', 'rc4'])('%s: served only where this OpenSSL has the suites', async (name) => {
    const scenario = lab.scenario(name);
    if (scenario.unavailable) {
      expect(scenario.unavailable).toMatch(
        /^node:tls v\d+\.\d+\.\d+ \(OpenSSL [\d.]+\w*\) refuses it: no cipher match$/,
      );
    } else {
      expect(await negotiated(name)).toMatch(/Cipher is \S*(DES-CBC3|RC4)/);
    }
  });
});

describe('stopping', () => {
  it('closes every server and removes the files', async () => {
    const small = await startLab({ only: ['ecdsa', 'mtls'] });
    const files = [
      small.ca.path,
      small.crl.path,
      small.client.certPath,
      small.scenario('mtls-expired-client').files.cert,
    ];
    expect(files.every((file) => existsSync(file))).toBe(true);
    const { port } = small.scenario('ecdsa');
    await small.stop();
    await small.stop();
    expect(existsSync(small.dir)).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      net
        .connect({ host: '127.0.0.1', port })
        .once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? ''))
        .once('connect', () => resolve('connected'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('failures while starting', () => {
  it('credentials that fail to build are reported by lab.ready, never as an unhandled rejection', async () => {
    // The RSA 4096 leaf is built beside the servers; make its key import fail.
    const subtle = webcrypto.subtle;
    const importKey = subtle.importKey.bind(subtle);
    const spy = vi
      .spyOn(subtle, 'importKey')
      .mockImplementation(((...args: Parameters<typeof importKey>) =>
        (args[2] as { modulusLength?: number }).modulusLength === 4096
          ? Promise.reject(new Error('simulated: key import refused'))
          : importKey(...args)) as typeof importKey);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const failing = await startLab({ only: ['rsa-4096', 'ecdsa'] });
      await expect(failing.ready).rejects.toThrow('simulated: key import refused');
      await failing.stop();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      spy.mockRestore();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a server that cannot listen fails startLab and leaves no other server listening', async () => {
    const listen = net.Server.prototype.listen;
    const started: net.Server[] = [];
    const spy = vi.spyOn(net.Server.prototype, 'listen').mockImplementation(function (
      this: net.Server,
      ...args: unknown[]
    ) {
      if (args[1] === '::1') {
        const error = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' });
        process.nextTick(() => this.emit('error', error));
        return this;
      }
      started.push(this);
      return (listen as (...a: unknown[]) => net.Server).apply(this, args);
    });
    try {
      await expect(startLab({ only: ['ipv6-san', 'ecdsa', 'trailing-dot'] })).rejects.toMatchObject({
        code: 'EADDRNOTAVAIL',
      });
    } finally {
      spy.mockRestore();
    }
    expect(started.length).toBeGreaterThanOrEqual(3); // ipv6-san's 127.0.0.1 listener among them
    expect(started.filter((server) => server.listening)).toEqual([]);
  });
});
