/**
 * tlskit as a TLS client of `gnutls-serv --echo` (GnuTLS 3.7), a TLS stack that shares no code with
 * OpenSSL. gnutls-serv listens on every address; the tests only ever connect to 127.0.0.1.
 */
import { clientContext, type TlsVersion } from 'tlskit';
import { afterEach, describe, expect, it } from 'vitest';
import { opensslCerts } from '../helpers/openssl-certs.js';
import { connectRecorded, gnutlsOnly, gnutlsServer, killPeers } from '../helpers/peers.js';

afterEach(killPeers);

const certs = opensslCerts();

const versions: Array<{ version: TlsVersion; priority: string; gnutlsName: string }> = [
  { version: 'TLSv1.3', priority: gnutlsOnly('1.3'), gnutlsName: 'TLS1.3' },
  { version: 'TLSv1.2', priority: gnutlsOnly('1.2'), gnutlsName: 'TLS1.2' },
];
const requireClientCert = ['--require-client-cert', '--verify-client-cert', '--x509cafile', certs.paths.ca];

describe('tlskit client with gnutls-serv', () => {
  for (const { version, priority, gnutlsName } of versions) {
    it(`negotiates ${version} with a server limited to it and gets its data echoed`, async () => {
      const server = await gnutlsServer([priority]);
      const { transport, recording } = await connectRecorded(
        server.port,
        clientContext({ trust: certs.caPem }),
      );

      const tls = transport.info.tls!;
      expect(tls.protocol).toBe(version);
      expect(tls.peerCertificates[0]?.subject).toBe('CN=localhost');
      await server.waitFor(new RegExp(`^- Version: ${gnutlsName.replace('.', '\\.')}$`, 'm'));
      await server.waitFor(/^- Given server name\[1\]: localhost$/m);

      const message = `echo me over ${version}\n`;
      transport.write(message);
      await recording.waitFor('the echo', () => recording.text() === message);

      transport.close();
      expect(await recording.waitForLost()).toBeNull();
      expect(recording.violations).toEqual([]);
    });

    it(`presents its client certificate over ${version}, which gnutls-serv verifies as trusted`, async () => {
      const server = await gnutlsServer([priority, ...requireClientCert]);
      const context = clientContext({
        trust: certs.caPem,
        cert: certs.clientCertPem,
        key: certs.clientKeyPem,
      });
      const { transport, recording } = await connectRecorded(server.port, context);

      await server.waitFor(/^- Status: The certificate is trusted\./m);
      await server.waitFor(/^\s*Subject: CN=test client$/m);
      transport.write('with a certificate\n');
      await recording.waitFor('the echo', () => recording.text() === 'with a certificate\n');
      transport.close();
      expect(await recording.waitForLost()).toBeNull();
    });
  }

  it('fails the TLS 1.2 handshake when gnutls-serv requires a certificate and it has none', async () => {
    const server = await gnutlsServer([gnutlsOnly('1.2'), ...requireClientCert]);
    const failure = connectRecorded(server.port, clientContext({ trust: certs.caPem }));
    // GnuTLS 3.7 answers a missing certificate in TLS 1.2 with a decode_error alert.
    await expect(failure).rejects.toMatchObject({ code: 'ERR_TLS_HANDSHAKE', alert: 'decode_error' });
    await server.waitFor(/Error in handshake: No certificate was found/);
  });

  // The alert comes after the client's side of the TLS 1.3 handshake (see client-openssl.test.ts).
  it("reports gnutls-serv's TLS 1.3 certificate_required alert as ERR_TLS_PROTOCOL, not as a truncation", async () => {
    const server = await gnutlsServer([gnutlsOnly('1.3'), ...requireClientCert]);
    const { recording } = await connectRecorded(server.port, clientContext({ trust: certs.caPem }));
    await server.waitFor(/Error in handshake: Certificate is required/);
    const error = await recording.waitForLost();
    expect(error).toMatchObject({ code: 'ERR_TLS_PROTOCOL', alert: 'certificate_required' });
  });

  it('negotiates ALPN: gnutls-serv --alpn http/1.1 selects it from [h2, http/1.1]', async () => {
    const server = await gnutlsServer(['--alpn=http/1.1']);
    const { transport } = await connectRecorded(
      server.port,
      clientContext({ trust: certs.caPem, alpn: ['h2', 'http/1.1'] }),
    );
    expect(transport.info.tls?.alpnProtocol).toBe('http/1.1');
    await server.waitFor(/^- Application protocol: http\/1\.1$/m);
    transport.close();
  });

  it('fails the handshake with no_application_protocol against gnutls-serv --alpn-fatal when no protocol is shared', async () => {
    const server = await gnutlsServer(['--alpn=spdy/3', '--alpn-fatal']);
    const failure = connectRecorded(server.port, clientContext({ trust: certs.caPem, alpn: ['h2'] }));
    await expect(failure).rejects.toMatchObject({
      code: 'ERR_TLS_HANDSHAKE',
      alert: 'no_application_protocol',
    });
  });
});
