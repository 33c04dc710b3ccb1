/**
 * The Protocol interface as protocol code implements it. Most of this file is checked by the
 * compiler (`npm run typecheck` covers test/): a protocol whose `eofReceived` returns nothing must
 * compile, because returning nothing is how it says "close once the peer is done".
 */
import type { Protocol, Transport } from 'tlskit';
import { memoryPair, RecordingProtocol } from 'tlskit/testing';
import { describe, expect, it } from 'vitest';

/** Reads until the peer finishes, then lets the transport close: `eofReceived` returns nothing. */
class ReadToEnd implements Protocol {
  transport: Transport | null = null;
  text = '';
  eofSeen = false;
  closingAfterEof: boolean | null = null;

  connectionMade(transport: Transport): void {
    this.transport = transport;
  }

  dataReceived(data: Uint8Array): void {
    this.text += Buffer.from(data).toString();
  }

  eofReceived(): void {
    this.eofSeen = true;
  }
}

describe('Protocol', () => {
  it('accepts an eofReceived typed as returning nothing, in a class or an object literal', () => {
    const log = (): void => {};
    const literal: Protocol = { eofReceived: log };
    const instance: Protocol = new ReadToEnd();
    expect(literal.eofReceived?.()).toBeUndefined();
    expect(instance.eofReceived?.()).toBeUndefined();
  });

  it('closes the transport after the peer finished when eofReceived returns nothing', async () => {
    const [a, b] = memoryPair();
    const peer = new RecordingProtocol({ keepOpenOnEof: true });
    const reader = new ReadToEnd();
    a.setProtocol(peer);
    b.setProtocol(reader);
    a.write('last words');
    a.end();
    // Our side follows the peer's end of stream: the peer sees ours, and the connection completes.
    await peer.waitForEof();
    expect(reader.eofSeen).toBe(true);
    expect(reader.text).toBe('last words');
    expect(b.closing).toBe(true);
    expect(await peer.waitForLost()).toBeNull();
  });
});
