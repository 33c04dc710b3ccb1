/**
 * The STARTTLS dialogues of the tlskit command, both sides against each other over memory pairs cut
 * at seeded random places, then TLS both ways; and each side against a scripted peer that refuses,
 * does not offer STARTTLS, or pipelines bytes across the upgrade (the injection the NO STARTTLS
 * study found). The modules are imported from src together with the library they use, so errors
 * are the same classes.
 */
import { describe, expect, it } from 'vitest';
import {
  offerStartTls,
  parseStartTlsProtocol,
  requestStartTls,
  STARTTLS_PROTOCOLS,
  type StartTlsProtocol,
  StartTlsRefusedError,
  skipGreeting,
} from '../../src/cli/starttls.js';
import { Connection, clientContext, StartTlsError, serverContext, TimeoutError } from '../../src/index.js';
import { memoryPair } from '../../src/testing/index.js';
import { opensslCerts } from '../helpers/openssl-certs.js';

const certs = opensslCerts();
const HOST = 'localhost';

function pair(seed?: number): [Connection, Connection] {
  const [a, b] = memoryPair(seed === undefined ? {} : { seed, maxChunkSize: 7 });
  return [new Connection(a), new Connection(b)];
}

const GREETINGS: Record<StartTlsProtocol, RegExp> = {
  smtp: /^220 localhost ESMTP tlskit\r\n$/,
  imap: /^\* OK \[CAPABILITY .*STARTTLS.*\] localhost .*\r\n$/,
  pop3: /^\+OK localhost POP3 .*\r\n$/,
  ftp: /^220 localhost FTP .*\r\n$/,
  xmpp: /^$/,
  postgres: /^$/,
};

describe('requestStartTls ↔ offerStartTls, then TLS', () => {
  for (const protocol of STARTTLS_PROTOCOLS) {
    for (const seed of [1, 2, 3]) {
      it(`${protocol} (seed ${seed}): agree, handshake, and a line echoes over TLS; the greeting is the server's`, async () => {
        const [client, server] = pair(seed);
        const [{ greeting }] = await Promise.all([
          requestStartTls(protocol, client, { hostname: HOST, timeout: 5000 }),
          offerStartTls(protocol, server, { hostname: HOST, timeout: 5000 }),
        ]);
        expect(Buffer.from(greeting).toString()).toMatch(GREETINGS[protocol]);
        await Promise.all([
          client.startTls({ context: clientContext({ trust: certs.caPem }), serverName: HOST }),
          server.startTls({ context: serverContext({ cert: certs.serverCertPem, key: certs.serverKeyPem }) }),
        ]);
        expect(client.info.kind).toBe('tls');
        await client.write('ping\r\n');
        const line = await server.readLine();
        await server.write(`echo ${line}\r\n`);
        expect(await client.readLine()).toBe('echo ping');
        await Promise.all([client.close(), server.close()]);
      });
    }
  }
});

/** A scripted peer: reads until `expect`, then writes `send`, in order. */
async function script(connection: Connection, steps: Array<{ until?: string; send?: string | Uint8Array }>) {
  for (const step of steps) {
    if (step.until !== undefined) await connection.readUntil(step.until, { timeout: 5000 });
    if (step.send !== undefined) await connection.write(step.send);
  }
}

describe('the client side refuses what a server says', () => {
  const cases: Array<
    [StartTlsProtocol, string, Array<{ until?: string; send?: string | Uint8Array }>, RegExp]
  > = [
    [
      'smtp',
      'no STARTTLS in EHLO',
      [{ send: '220 mx\r\n' }, { until: '\n', send: '250-mx\r\n250 SIZE 1000\r\n' }],
      /does not offer STARTTLS.*'250-mx\\n250 SIZE 1000'/,
    ],
    [
      'smtp',
      'STARTTLS refused',
      [
        { send: '220 mx\r\n' },
        { until: '\n', send: '250 STARTTLS\r\n' },
        { until: '\n', send: '454 4.7.0 TLS not available\r\n' },
      ],
      /refused STARTTLS: '454 4\.7\.0 TLS not available'/,
    ],
    ['smtp', 'a 554 greeting', [{ send: '554 go away\r\n' }], /did not greet with 220: '554 go away'/],
    [
      'imap',
      'no STARTTLS capability',
      [{ send: '* OK ready\r\n' }, { until: '\n', send: '* CAPABILITY IMAP4rev1\r\na001 OK done\r\n' }],
      /does not offer STARTTLS.*'\* OK ready\\n\* CAPABILITY IMAP4rev1\\na001 OK done'/,
    ],
    [
      'imap',
      'STARTTLS answered BAD',
      [
        { send: '* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n' },
        { until: '\n', send: 'a001 OK\r\n' },
        { until: '\n', send: 'a002 BAD no\r\n' },
      ],
      /refused STARTTLS: 'a002 BAD no'/,
    ],
    [
      'pop3',
      'no STLS in CAPA',
      [{ send: '+OK hi\r\n' }, { until: '\n', send: '+OK\r\nUSER\r\n.\r\n' }],
      /does not offer STLS.*'USER'/,
    ],
    [
      'pop3',
      'STLS answered -ERR (no CAPA)',
      [
        { send: '+OK hi\r\n' },
        { until: '\n', send: '-ERR unknown\r\n' },
        { until: '\n', send: '-ERR not now\r\n' },
      ],
      /refused STLS: '-ERR not now'/,
    ],
    [
      'ftp',
      'AUTH TLS refused',
      [
        { send: '220-hello\r\nwelcome\r\n220 ready\r\n' },
        { until: '\n', send: '500 AUTH not understood\r\n' },
      ],
      /refused AUTH TLS: '500 AUTH not understood'/,
    ],
    [
      'xmpp',
      'no <starttls/> feature',
      [{ until: '>', send: "<stream:stream from='x'><stream:features><mechanisms/></stream:features>" }],
      /does not offer <starttls\/>.*<mechanisms\/>/,
    ],
    [
      'xmpp',
      'empty features',
      [{ until: '>', send: "<stream:stream from='x'><stream:features/>" }],
      /does not offer <starttls\/>.*<stream:features\/>/,
    ],
    [
      'xmpp',
      '<failure/>',
      [
        {
          until: '>',
          send: "<stream:stream><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
        },
        { until: '/>', send: "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" },
      ],
      /refused <starttls\/>: '<failure /,
    ],
    ['postgres', "'N'", [{ until: '\x2f', send: 'N' }], /answered 'N' to SSLRequest/],
  ];
  for (const [protocol, what, steps, message] of cases) {
    it(`${protocol}, ${what}: StartTlsRefusedError quoting the reply`, async () => {
      const [client, server] = pair();
      const attempt = requestStartTls(protocol, client, { hostname: HOST, timeout: 5000 });
      const scripted = script(server, steps);
      const error = await attempt.catch((e: unknown) => e);
      await scripted;
      expect(error).toBeInstanceOf(StartTlsRefusedError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('rejects response injection: a server that sends bytes behind its 220 to STARTTLS (StartTlsError)', async () => {
    const [client, server] = pair();
    const attempt = requestStartTls('smtp', client, { hostname: HOST, timeout: 5000 });
    await script(server, [
      { send: '220 mx\r\n' },
      { until: '\n', send: '250 STARTTLS\r\n' },
      { until: '\n', send: '220 go ahead\r\n250 injected\r\n' },
    ]);
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartTlsError);
    expect((error as StartTlsError).pendingBytes).toBe('250 injected\r\n'.length);
  });

  it('postgres: bytes behind the S are refused (CVE-2021-23222)', async () => {
    const [client, server] = pair();
    const attempt = requestStartTls('postgres', client, { hostname: HOST, timeout: 5000 });
    await script(server, [{ until: '\x2f', send: 'SE' }]);
    await expect(attempt).rejects.toBeInstanceOf(StartTlsError);
  });

  it('times out with a TimeoutError naming what it waited for when the server says nothing', async () => {
    const [client] = pair();
    const error = await requestStartTls('smtp', client, { hostname: HOST, timeout: 50 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(
      /smtp STARTTLS: waited 50 ms for the 220 greeting from the server; is it a server of this protocol/,
    );
  });

  it('refuses a server line longer than the limit instead of buffering it', async () => {
    const [client, server] = pair();
    const attempt = requestStartTls('smtp', client, { hostname: HOST, timeout: 5000 });
    await server.write(`220 ${'x'.repeat(10_000)}`);
    await expect(attempt).rejects.toThrow(/sent more than we accept before TLS/);
  });
});

/** The upgrade command with one more command behind it, in one write, per protocol. */
const PIPELINED: Record<StartTlsProtocol, Array<{ until?: string; send?: string | Uint8Array }>> = {
  smtp: [{ until: '\n', send: 'STARTTLS\r\nMAIL FROM:<a@b>\r\n' }],
  imap: [{ until: '\n', send: 'x STARTTLS\r\ny LOGIN a b\r\n' }],
  pop3: [{ until: '\n', send: 'STLS\r\nUSER a\r\n' }],
  ftp: [{ until: '\n', send: 'AUTH TLS\r\nUSER a\r\n' }],
  xmpp: [
    { send: "<stream:stream to='x'>" },
    { until: '</stream:features>', send: "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message/>" },
  ],
  postgres: [{ send: Uint8Array.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f, 0x16]) }],
};

/** A command that needs TLS first, and the protocol's "issue STARTTLS first" answer. */
const TOO_EARLY: Partial<Record<StartTlsProtocol, [string, RegExp]>> = {
  smtp: ['MAIL FROM:<a@b>\r\n', /^530 5\.7\.0 Must issue a STARTTLS command first\r\n$/],
  imap: ['t1 LOGIN a b\r\n', /^t1 NO \[PRIVACYREQUIRED\] /],
  pop3: ['USER a\r\n', /^-ERR Must issue STLS first\r\n$/],
  ftp: ['USER a\r\n', /^530 Please login with AUTH TLS first\r\n$/],
};

const UPGRADE_COMMANDS: Partial<Record<StartTlsProtocol, string>> = {
  smtp: 'STARTTLS\r\n',
  imap: 't2 STARTTLS\r\n',
  pop3: 'STLS\r\n',
  ftp: 'AUTH TLS\r\n',
};

describe('the server side', () => {
  for (const protocol of STARTTLS_PROTOCOLS) {
    it(`${protocol}: a command pipelined behind the upgrade command is refused (StartTlsError), no go-ahead sent`, async () => {
      const [client, server] = pair();
      const offered = offerStartTls(protocol, server, { hostname: HOST, timeout: 5000 });
      await script(client, PIPELINED[protocol]);
      const error = await offered.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StartTlsError);
      expect((error as StartTlsError).pendingBytes).toBeGreaterThan(0);
      expect(client.bufferedBytes).toBe(0); // nothing answered after the refused command
    });
  }

  for (const [protocol, [command, answer]] of Object.entries(TOO_EARLY) as Array<
    [StartTlsProtocol, [string, RegExp]]
  >) {
    it(`${protocol}: a command before STARTTLS gets "must issue STARTTLS first", and STARTTLS still works after`, async () => {
      const [client, server] = pair();
      const offered = offerStartTls(protocol, server, { hostname: HOST, timeout: 5000 });
      await client.readLine({ timeout: 5000 });
      await client.write(command);
      expect(`${await client.readLine({ timeout: 5000 })}\r\n`).toMatch(answer);
      await client.write(UPGRADE_COMMANDS[protocol] ?? '');
      expect(await client.readLine({ timeout: 5000 })).toMatch(/^(220|t2 OK|\+OK|234) /);
      await offered;
    });
  }

  it('postgres: a StartupMessage without SSLRequest gets a FATAL ErrorResponse (28000)', async () => {
    const [client, server] = pair();
    const offered = offerStartTls('postgres', server, { hostname: HOST, timeout: 5000 });
    const startup = Buffer.alloc(8);
    startup.writeUInt32BE(8, 0);
    startup.writeUInt32BE(196608, 4);
    await client.write(startup);
    await expect(offered).rejects.toThrow(/without SSLRequest/);
    const header = Buffer.from(await client.readExactly(5, { timeout: 5000 }));
    expect(header.toString('latin1', 0, 1)).toBe('E');
    const body = Buffer.from(await client.readExactly(header.readUInt32BE(1) - 4, { timeout: 5000 }));
    expect(body.toString('latin1')).toMatch(/^SFATAL\0VFATAL\0C28000\0M.*TLS is required.*\0\0$/);
  });

  it('smtp: EHLO without a domain gets 501, then EHLO with one lists STARTTLS', async () => {
    const [client, server] = pair();
    const offered = offerStartTls('smtp', server, { hostname: HOST, timeout: 5000 });
    await client.readLine({ timeout: 5000 });
    await client.write('EHLO\r\n');
    expect(await client.readLine({ timeout: 5000 })).toBe('501 5.5.4 Syntax: EHLO hostname');
    await client.write('EHLO client.test\r\n');
    expect([await client.readLine(), await client.readLine()]).toEqual(['250-localhost', '250 STARTTLS']);
    await client.write('STARTTLS\r\n');
    await offered;
  });

  it('smtp: QUIT before STARTTLS is answered 221 and rejects', async () => {
    const [client, server] = pair();
    const offered = offerStartTls('smtp', server, { hostname: HOST, timeout: 5000 });
    await script(client, [{ until: '\n', send: 'QUIT\r\n' }]);
    await expect(offered).rejects.toBeInstanceOf(StartTlsRefusedError);
    expect(await client.readLine({ timeout: 5000 })).toMatch(/^221 /);
  });
});

describe('skipGreeting', () => {
  const greetings: Record<StartTlsProtocol, string> = {
    smtp: '220-mx.example\r\n220 ESMTP\r\n',
    imap: '* OK [CAPABILITY IMAP4rev1] ready\r\n',
    pop3: '+OK ready\r\n',
    ftp: '220-welcome\r\n be nice\r\n220 ready\r\n',
    xmpp: '',
    postgres: '',
  };
  for (const protocol of STARTTLS_PROTOCOLS) {
    it(`${protocol}: consumes exactly the greeting (${greetings[protocol] === '' ? 'nothing' : 'its lines'})`, async () => {
      const [backend, peer] = pair(7);
      await peer.write(`${greetings[protocol]}NEXT\r\n`);
      await skipGreeting(protocol, backend, { timeout: 5000 });
      expect(await backend.readLine({ timeout: 5000 })).toBe('NEXT');
    });
  }

  it('rejects a backend greeting that is not positive, quoting it', async () => {
    const [backend, peer] = pair();
    await peer.write('421 too busy\r\n');
    await expect(skipGreeting('smtp', backend, { timeout: 5000 })).rejects.toThrow(
      /did not greet with 220: '421 too busy'/,
    );
  });
});

describe('parseStartTlsProtocol', () => {
  it('accepts the six names in any case and names the flag and the choices otherwise', () => {
    expect(parseStartTlsProtocol('--starttls', 'SMTP')).toBe('smtp');
    expect(() => parseStartTlsProtocol('--starttls', 'ldap')).toThrow(
      "--starttls 'ldap' is not a STARTTLS protocol; use one of smtp, imap, pop3, ftp, xmpp, postgres",
    );
  });
});
