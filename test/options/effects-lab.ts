/** The effect of each option of the bad-TLS lab: startLab, selectScenarios and gradeClient. */
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gradeClient, type Lab, selectScenarios, startLab } from 'tlskit/testing';
import { expect } from 'vitest';
import type { EffectTable } from './support.js';

/** A lab of three quick scenarios, started once for every gradeClient effect. */
let shared: Promise<Lab> | undefined;
const smallLab = () => {
  shared ??= startLab({ only: ['ecdsa', 'rsa', 'expired'] });
  return shared;
};
export const stopLab = async () => (await shared)?.stop();

/** A client that logs when it starts and ends, so overlap between runs shows. */
function loggingClient(log: string): string[] {
  const script = `const fs=require('fs');fs.appendFileSync(${JSON.stringify(log)},'start\\n');setImmediate(()=>fs.appendFileSync(${JSON.stringify(log)},'end\\n'))`;
  return [process.execPath, '-e', script];
}

export const effects = {
  startLab: {
    async only() {
      const lab = await startLab({ only: ['ecdsa'] });
      expect(lab.scenarios.map((s) => s.name)).toEqual(['ecdsa']);
      await lab.stop();
    },
    async skip() {
      const lab = await startLab({ only: ['pki-control'], skip: ['rsa'] });
      expect(lab.scenarios.map((s) => s.name)).not.toContain('rsa');
      expect(lab.scenarios.map((s) => s.name)).toContain('ecdsa');
      await lab.stop();
    },
  } satisfies EffectTable,
  selectScenarios: {
    async only() {
      expect(selectScenarios({ only: ['mtls'] }).every((s) => s.group === 'mtls')).toBe(true);
    },
    async skip() {
      const all = selectScenarios().length;
      expect(selectScenarios({ skip: ['mtls'] })).toHaveLength(
        all - selectScenarios({ only: ['mtls'] }).length,
      );
    },
  } satisfies EffectTable,
  gradeClient: {
    async jobs() {
      // One at a time: every start is followed by its end before the next start.
      const log = join(mkdtempSync(join(tmpdir(), 'tlskit-jobs-')), 'log');
      appendFileSync(log, '');
      await gradeClient(await smallLab(), loggingClient(log), { jobs: 1 });
      expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
        'start',
        'end',
        'start',
        'end',
        'start',
        'end',
      ]);
    },
    async timeoutMs() {
      const hang = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];
      const report = await gradeClient(await smallLab(), hang, { timeoutMs: 200, jobs: 3 });
      expect(report.results.every((r) => r.got === 'timeout')).toBe(true);
    },
    async onResult() {
      const seen: number[] = [];
      await gradeClient(await smallLab(), ['true'], { onResult: (_r, done) => seen.push(done) });
      expect(seen.sort()).toEqual([1, 2, 3]);
    },
    async signal() {
      const controller = new AbortController();
      const report = await gradeClient(await smallLab(), ['true'], {
        jobs: 1,
        signal: controller.signal,
        onResult: () => controller.abort(),
      });
      expect(report.results.length).toBeLessThan(3);
    },
  } satisfies EffectTable,
};
