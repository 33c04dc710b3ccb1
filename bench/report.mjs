// @ts-check
/**
 * The benchmark's output: the Markdown table, and the one-line machine-readable summary that
 * `--json` adds (see docs/BENCHMARKS.md for its shape).
 */
import { median } from './common.mjs';

/**
 * One case of the run. `raw` holds the baseline's numbers: raw node:tls, or for a reference row
 * (`reference: true`) the other implementation named by `baseline` (stunnel4, Go, Python, ...).
 * @typedef {{ section: string, name: string, unit: string, raw: number[], tlskit: number[],
 *   rawCpu: number[], tlskitCpu: number[], cpuUnit: string, target?: string, higherIsBetter: boolean,
 *   reference?: boolean, baseline?: string }} Entry
 */

export const format = (/** @type {number} */ value) =>
  Number.isNaN(value) ? 'n/a' : value >= 100 ? value.toFixed(0) : value.toFixed(1);
export const ratio = (/** @type {Entry} */ entry) => median(entry.tlskit) / median(entry.raw);
/** Raw CPU per unit over tlskit CPU per unit: like the rate ratio, 1.00 is parity, higher is better. */
export const cpuRatio = (/** @type {Entry} */ entry) => median(entry.rawCpu) / median(entry.tlskitCpu);

/**
 * Whether `value` meets a target such as ">= 0.98" or "<= 1.15"; null when there is no target
 * or it is not a bound (the tunnel's "reference").
 * @param {string | undefined} target @param {number} value @returns {boolean | null}
 */
export function evaluate(target, value) {
  const [op, bound] = (target ?? '').split(' ');
  if ((op !== '>=' && op !== '<=') || bound === undefined || Number.isNaN(Number(bound))) return null;
  return op === '>=' ? value >= Number(bound) : value <= Number(bound);
}

/** Prints every entry as a row of the Markdown table. @param {Entry[]} results */
export function printTable(results) {
  console.log(
    '\n| section | case | raw node:tls | tlskit | unit | tlskit/raw | CPU raw | CPU tlskit | CPU raw/tlskit | target |',
  );
  console.log('| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |');
  for (const entry of results) {
    const met = evaluate(entry.target, ratio(entry));
    const verdict = met === null ? '' : met ? ' (met)' : ' (missed)';
    const cpu = entry.rawCpu.length
      ? `${format(median(entry.rawCpu))} ${entry.cpuUnit} | ${format(median(entry.tlskitCpu))} ${entry.cpuUnit} | ${cpuRatio(entry).toFixed(2)}`
      : ' | | ';
    console.log(
      `| ${entry.section} | ${entry.name} | ${format(median(entry.raw))} | ${format(median(entry.tlskit))} | ${entry.unit} | ${ratio(entry).toFixed(2)} | ${cpu} | ${entry.target ?? ''}${verdict} |`,
    );
  }
}

/** NaN and infinities (no samples, a zero CPU median) become null, which JSON can say. */
const finite = (/** @type {number} */ value) => (Number.isFinite(value) ? value : null);

/**
 * The `--json` summary: one object per case with medians and ratios, plus the machine, the
 * sections skipped and the file holding every sample.
 * @param {Entry[]} results @param {object} extra machine, file, skipped, mint and lab figures
 */
export function summary(results, extra) {
  const cases = results.map((entry) => ({
    section: entry.section,
    name: entry.name,
    unit: entry.unit,
    baseline: entry.baseline ?? 'raw node:tls',
    raw: finite(median(entry.raw)),
    tlskit: finite(median(entry.tlskit)),
    ratio: finite(ratio(entry)),
    cpuUnit: entry.cpuUnit || null,
    rawCpu: finite(median(entry.rawCpu)),
    tlskitCpu: finite(median(entry.tlskitCpu)),
    cpuRatio: finite(cpuRatio(entry)),
    rounds: entry.tlskit.length,
    higherIsBetter: entry.higherIsBetter,
    target: entry.target ?? null,
    met: evaluate(entry.target, ratio(entry)),
    reference: entry.reference === true,
  }));
  return `BENCH-SUMMARY ${JSON.stringify({ ...extra, cases })}`;
}
