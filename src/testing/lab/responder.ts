/**
 * What a lab server says once the handshake is done. HTTP clients (curl, fetch, requests,
 * browsers) get `HTTP/1.1 200 OK` with a one-line body naming the scenario; raw TLS clients get the
 * same line as a greeting. A server cannot tell the two apart until the client speaks, so it waits
 * briefly: an HTTP client sends its request at once, a raw client usually sends nothing. Greeting
 * at once (as serveFixture does) makes HTTP clients fail good cases too ("HTTP/0.9 not allowed").
 */
import type { TLSSocket } from 'node:tls';

/** How long a server waits for a request before greeting; HTTP clients send theirs well before. */
export const GREETING_DELAY_MS = 150;
/** The most a request's head may hold before the server answers anyway. */
const MAX_HEAD = 16 * 1024;
const METHOD = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;

/** The line a scenario's server sends, in an HTTP body or as a greeting. */
export function scenarioLine(name: string, expected: string): string {
  return `tlskit badtls lab: scenario ${name} (a strict client would ${expected.replace(/-/g, ' ')})\n`;
}

function httpResponse(line: string, head: boolean): string {
  const headers = [
    'HTTP/1.1 200 OK',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(line)}`,
    'Connection: close',
  ];
  return `${headers.join('\r\n')}\r\n\r\n${head ? '' : line}`;
}

/** Answers one connection: HTTP if the client sends a request, else the greeting line; then ends. */
export function respond(socket: TLSSocket, line: string): void {
  let received = '';
  let done = false;
  const finish = (text: string) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.end(text);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.toString('latin1');
    if (!METHOD.test(received) && received.length >= 8) return finish(line);
    if (received.includes('\r\n\r\n') || received.includes('\n\n') || received.length > MAX_HEAD) {
      finish(METHOD.test(received) ? httpResponse(line, received.startsWith('HEAD ')) : line);
    }
  };
  const timer = setTimeout(() => finish(line), GREETING_DELAY_MS);
  socket.on('data', onData);
  socket.on('end', () => finish(''));
  socket.on('error', () => {
    clearTimeout(timer);
  });
}
