/** A grade report as a table for people, and as JSON and JUnit XML for machines. */
import type { GradeReport, GradeResult } from './grader.js';
import type { LabScenario } from './lab.js';

/** ANSI colours, or none. */
export interface Palette {
  pass(text: string): string;
  fail(text: string): string;
  skip(text: string): string;
}

const plain: Palette = { pass: (t) => t, fail: (t) => t, skip: (t) => t };
const ansi = (code: number) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const coloured: Palette = { pass: ansi(32), fail: ansi(31), skip: ansi(33) };

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function palette(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Palette {
  return stream.isTTY && !env.NO_COLOR ? coloured : plain;
}

/** Columns padded to their widest cell; the colour is applied after padding so widths stay right. */
function table(
  rows: string[][],
  paint: (row: number, column: number, text: string) => string = (_r, _c, t) => t,
) {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...row[column]!].length)));
  return rows
    .map((row, r) =>
      row
        .map((cell, c) => paint(r, c, c === row.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const word = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;

function note(result: GradeResult): string {
  return result.reason ?? result.stderr;
}

/** scenario, expected, got, PASS/FAIL/SKIP, and the client's last stderr line (or why it was skipped). */
export function formatTable(report: GradeReport, colours: Palette = plain): string {
  const rows = [
    ['scenario', 'expected', 'got', 'result', 'note'],
    ...report.results.map((r) => [r.name, r.expected, r.got ?? '-', word[r.outcome], note(r)]),
  ];
  return table(rows, (row, column, text) => {
    if (row === 0 || column !== 3) return text;
    return colours[report.results[row - 1]!.outcome](text);
  });
}

/** `37/42 passed`, then failures and skips when there are any. */
export function summaryLine(report: GradeReport): string {
  const graded = report.passed + report.failed;
  const parts = [`${report.passed}/${graded} passed`];
  if (report.failed) parts.push(`${report.failed} failed`);
  if (report.skipped) parts.push(`${report.skipped} skipped`);
  return `${parts.join(', ')} (${(report.durationMs / 1000).toFixed(1)} s)`;
}

/** The report as JSON: the command, the counts, and every result. */
export function toJson(report: GradeReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** XML 1.0 cannot hold most control characters at all, escaped or not: they are dropped. */
const dropControls = (text: string) =>
  [...text].filter((c) => c >= ' ' || c === '\t' || c === '\n' || c === '\r').join('');

const xml = (text: string) =>
  dropControls(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

function testcase(result: GradeResult): string {
  const open = `    <testcase classname="badtls.${xml(result.group)}" name="${xml(result.name)}" time="${(result.durationMs / 1000).toFixed(3)}"`;
  const detail = `expected ${result.expected}, got ${result.got ?? 'nothing'}${note(result) ? `: ${note(result)}` : ''}`;
  if (result.outcome === 'pass') return `${open}/>`;
  const body =
    result.outcome === 'skip'
      ? `<skipped message="${xml(detail)}"/>`
      : `<failure message="${xml(detail)}" type="${xml(result.got ?? 'none')}">${xml(`${result.description}\n${result.argv.join(' ')}`)}</failure>`;
  return `${open}>\n      ${body}\n    </testcase>`;
}

/** The report as JUnit XML (one testsuite, one testcase per scenario), which CI systems read. */
export function toJUnit(report: GradeReport): string {
  const total = report.results.length;
  const time = (report.durationMs / 1000).toFixed(3);
  const attributes = `tests="${total}" failures="${report.failed}" errors="0" skipped="${report.skipped}" time="${time}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tlskit badtls" ${attributes}>`,
    `  <testsuite name="${xml(report.command.join(' '))}" ${attributes}>`,
    ...report.results.map(testcase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** The scenario table of a running lab: name, group, expected verdict, where to connect, and what is unavailable. */
export function formatLab(scenarios: readonly LabScenario[]): string {
  return table([
    ['scenario', 'group', 'expected', 'port', 'host', 'description'],
    ...scenarios.map((s) => [
      s.name,
      s.group,
      s.expected,
      s.unavailable ? '-' : String(s.port),
      s.unavailable ? '-' : s.host,
      s.unavailable ? `UNAVAILABLE: ${s.unavailable}` : s.description,
    ]),
  ]);
}

/** A one-line progress bar for a terminal: `[#####.....] 12/52`. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total ? Math.round((done / total) * width) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
