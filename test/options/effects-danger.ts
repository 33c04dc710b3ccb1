/** tlskit/danger's keyLog: its one option, `reason`, is required, and kept with the key log. */
import { clientContext } from 'tlskit';
import { keyLog } from 'tlskit/danger';
import { expect } from 'vitest';
import { type EffectTable, secured, world } from './support.js';

export const effects = {
  keyLog: {
    async reason() {
      const { ca, server } = await world();
      const client = clientContext({ trust: ca.trust });
      expect(() => keyLog(client, () => {}, {} as never)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/`reason`/) }),
      );
      // With a reason, the key log runs: a connection's secrets arrive.
      const lines: Buffer[] = [];
      const log = keyLog(client, (line) => lines.push(line), { reason: 'option tests' });
      expect(log.reason).toBe('option tests');
      const [ct] = await secured(client, server.serverContext());
      ct.abort();
      log.stop();
      expect(lines.length).toBeGreaterThan(0);
    },
  } satisfies EffectTable,
};
