// A stub for Node's own tls.connect, for `tlskit badtls check`:
//
//   tlskit badtls check -- node examples/grade-client/node-tls.mjs {host} {addr} {port} {ca} {crl} {cert} {key}
//
// It verifies as an application should: the lab's CA bundle as `ca`, its CRLs as `crl`, the host
// name checked by tls.checkServerIdentity (an address is not sent as SNI, RFC 6066), and the client
// certificate offered. Exit status 0 means the handshake and the checks succeeded. Node reads one
// CRL from each `crl` entry, so the bundle is split: given whole, only its first CRL would count
// and every other chain would fail with UNABLE_TO_GET_CRL.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';

const [host = '', addr, port, ca = '', crl = '', cert = '', key = ''] = process.argv.slice(2);
const socket = tls.connect({
  host: addr,
  port: Number(port),
  servername: isIP(host) ? undefined : host,
  checkServerIdentity: (_name, certificate) => tls.checkServerIdentity(host, certificate),
  ca: readFileSync(ca),
  crl: readFileSync(crl, 'utf8').match(/-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/g) ?? [],
  cert: readFileSync(cert),
  key: readFileSync(key),
});
socket.once('secureConnect', () => {
  socket.destroy();
  process.exitCode = 0;
});
socket.once('error', (/** @type {NodeJS.ErrnoException} */ error) => {
  console.error(`node-tls: ${error.code ?? ''} ${error.message}`);
  process.exitCode = 1;
});
