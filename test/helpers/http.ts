/** HTTP client helpers shared by the serveHttp tests. */
import type http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { Agent } from 'undici';

/** fetch with an undici 7 dispatcher; @types/node's RequestInit names an older undici's types. */
export function fetchWith(url: string, dispatcher: Agent, init: RequestInit = {}): Promise<Response> {
  return globalThis.fetch(url, { ...init, dispatcher } as unknown as RequestInit);
}

/** Everything `stream` yields, as UTF-8 text, once it ends; rejects when it fails. */
export function textOf(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

/** One HTTP/2 request on `session` (a POST when `payload` is given); resolves with the body. */
export function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  payload?: Buffer,
): Promise<string> {
  const stream = session.request({ ':method': payload ? 'POST' : 'GET', ':path': path });
  stream.end(payload);
  return textOf(stream);
}
