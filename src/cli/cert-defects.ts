/**
 * `tlskit cert defects --out DIR`: the broken chains and controls of tlskit/pki as files, so a
 * shell script (CI without Node code of its own) can serve them with any server and judge any
 * client against them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type ChainFixture, controls, defects } from '../pki/index.js';
import { UsageError, writeFiles } from './cert-files.js';

/** One entry of DIR/index.json. */
export interface DefectFiles {
  name: string;
  kind: 'defect' | 'control';
  description: string;
  /** What a correct client does with this chain. */
  verdict: 'reject' | 'accept';
  /** The CertificateError code a tlskit client reports (defects only). */
  expect: string | null;
  /** The name to connect with (SNI and host name check). */
  serverName: string;
  /** Files in DIR/<name>/. */
  files: { chain: string; key: string; trust: string; leaf: string; crl: string | null };
}

function filesOf(fixture: ChainFixture) {
  const files = [
    { name: 'chain.pem', content: fixture.chainPem, secret: false },
    { name: 'key.pem', content: fixture.keyPem, secret: true },
    { name: 'trust.pem', content: fixture.trustPem, secret: false },
    { name: 'leaf.pem', content: fixture.leafPem, secret: false },
  ];
  if (fixture.crlPem) files.push({ name: 'crl.pem', content: fixture.crlPem, secret: false });
  return files;
}

/** Mints every defect and control and writes them under `dir`; returns the index. */
export async function exportDefects(
  dir: string,
  force: boolean,
  out: (line: string) => void,
): Promise<DefectFiles[]> {
  const index = join(dir, 'index.json');
  if (existsSync(index) && !force) {
    throw new UsageError(`'${index}' already exists; pass --force to replace the exported chains`, {
      help: false,
    });
  }
  const cases = [
    ...defects.map((d) => ({ ...d, kind: 'defect' as const })),
    ...controls.map((c) => ({ ...c, kind: 'control' as const, expect: null })),
  ];
  const fixtures = await Promise.all(cases.map((c) => c.build()));
  const entries = cases.map((c, i): DefectFiles => {
    const fixture = fixtures[i]!;
    const folder = join(dir, c.name);
    writeFiles(folder, filesOf(fixture));
    return {
      name: c.name,
      kind: c.kind,
      description: c.description,
      verdict: c.kind === 'defect' ? 'reject' : 'accept',
      expect: c.expect,
      serverName: fixture.serverName,
      files: {
        chain: join(folder, 'chain.pem'),
        key: join(folder, 'key.pem'),
        trust: join(folder, 'trust.pem'),
        leaf: join(folder, 'leaf.pem'),
        crl: fixture.crlPem ? join(folder, 'crl.pem') : null,
      },
    };
  });
  writeFiles(dir, [{ name: 'index.json', content: `${JSON.stringify(entries, null, 2)}\n`, secret: false }]);
  out(
    `wrote ${defects.length} broken chains and ${controls.length} controls to ${dir} (index: ${index}); ` +
      'serve chain.pem with key.pem, trust trust.pem, and connect as serverName',
  );
  return entries;
}
