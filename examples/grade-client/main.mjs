// Grades a TLS client against the bad-TLS lab from a program: start the lab, run the client
// once per scenario, read the report. The client here is tlskit's own (tlskit-client.mjs beside
// this file); any command works, with the placeholders `tlskit badtls --help` lists.
//
// Expect two FAIL lines, cbc-sha1 and dhe-2048: tlskit's client refuses what the lab's verdict
// accepts there, on purpose (the README's bad-TLS lab section says why). The example exits 0 all
// the same; `tlskit badtls check` would exit 1.
//
//   node examples/grade-client/main.mjs
import { fileURLToPath } from 'node:url';
import { gradeClient, startLab, summaryLine } from 'tlskit/testing';

const stub = fileURLToPath(new URL('./tlskit-client.mjs', import.meta.url));

/** @param {(line: string) => void} log */
export async function main(log = console.log) {
  // #region readme
  const lab = await startLab();
  try {
    const report = await gradeClient(lab, [
      process.execPath,
      stub,
      ...['{host}', '{addr}', '{port}', '{ca}', '{crl}', '{cert}', '{key}'],
    ]);
    log(summaryLine(report).replace(/ \(.*\)$/, ''));
    for (const result of report.results.filter((r) => r.outcome === 'fail')) {
      log(`FAIL ${result.name}: expected ${result.expected}, got ${result.got}`);
    }
  } finally {
    await lab.stop();
  }
  // #endregion readme
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
