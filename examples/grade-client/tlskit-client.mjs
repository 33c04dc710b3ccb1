// A stub for a tlskit client, for `tlskit badtls check`. It prints ACCEPT or REJECT as its last
// line (the trytls convention) and, on a rejection, tlskit's reason on stderr:
//
//   tlskit badtls check -- node examples/grade-client/tlskit-client.mjs {host} {addr} {port} {ca} {crl} {cert} {key}
import { readFileSync } from 'node:fs';
import { clientContext, connect } from 'tlskit';

const [host, addr, port, ca = '', crl = '', cert = '', key = ''] = process.argv.slice(2);
const read = (/** @type {string} */ file) => readFileSync(file, 'utf8');
try {
  const context = clientContext({ trust: read(ca), crl: read(crl), cert: read(cert), key: read(key) });
  const connection = await connect({ host: addr, port: Number(port), serverName: host, tls: context });
  connection.abort();
  console.log('ACCEPT');
} catch (error) {
  const { code, message } = /** @type {Error & { code?: string }} */ (error);
  console.error(`tlskit: ${code}: ${message}`);
  console.log('REJECT');
}
