/**
 * The help of `tlskit cert`: one entry per subcommand, from which both the whole page and the
 * usage shown after a mistake in one subcommand are made, so the two never disagree.
 */
import { KEY_TYPES } from '../pki/index.js';

interface CommandHelp {
  /** What follows `tlskit cert`. */
  synopsis: string;
  /** What it does, wrapped for the terminal. */
  about: string[];
  /** The options it takes (names without dashes). */
  options: readonly string[];
}

export const COMMANDS: Record<string, CommandHelp> = {
  ca: {
    synopsis: 'ca --out DIR',
    about: [
      'Create a root CA: DIR/ca.pem and DIR/ca-key.pem. An existing CA in DIR is never',
      'replaced without --force (exit code 2), since the certificates it issued need it.',
    ],
    options: ['out', 'key-type', 'days', 'name', 'path-length', 'force'],
  },
  issue: {
    synopsis: 'issue HOST... --ca DIR --out DIR',
    about: [
      'Issue a certificate for HOSTs (DNS names, *.wildcards, IP addresses, emails) under',
      "the CA in DIR (ca.pem, or dev-ca.pem from 'cert dev'): OUT/<host>.pem (chain) and",
      'OUT/<host>-key.pem, never over existing files unless --force is given.',
    ],
    options: ['ca', 'out', 'key-type', 'days', 'name', 'usage', 'force'],
  },
  inspect: {
    synopsis: 'inspect FILE|-',
    about: [
      'Describe every certificate in a PEM file (- reads standard input), and whether a chain',
      "is in order. --json: an array, one report per certificate. A live server's chain, and",
      'whether it is trusted: tlskit connect HOST:PORT --ca FILE.',
    ],
    options: ['json'],
  },
  'p12 export': {
    synopsis: 'p12 export --cert FILE --key FILE --out FILE',
    about: [
      'Write a password-protected PKCS#12 bundle (password from --password-env or --password-file);',
      "--name gives the key a friendly name (default: the certificate's CN), as openssl's -name does.",
    ],
    options: ['cert', 'key', 'out', 'name', 'password-env', 'password-file', 'force'],
  },
  'p12 import': {
    synopsis: 'p12 import FILE --out DIR',
    about: ['Read a PKCS#12 bundle into DIR/cert.pem and DIR/key.pem.'],
    options: ['out', 'password-env', 'password-file', 'force'],
  },
  dev: {
    synopsis: 'dev [--out DIR]',
    about: [
      'Create a development CA and a certificate for localhost, 127.0.0.1 and ::1 in certs/',
      '(or DIR), and print how to trust the CA. Valid ones already there are kept (exit code 0);',
      '--force replaces them.',
    ],
    options: ['out', 'force'],
  },
  defects: {
    synopsis: 'defects --out DIR',
    about: [
      'Write every broken chain and control of tlskit/pki to DIR/<name>/ (chain.pem, key.pem,',
      'trust.pem, leaf.pem, crl.pem when there is one) and DIR/index.json (names, expected verdicts),',
      'for testing a client from a shell script without Node.',
    ],
    options: ['out', 'force'],
  },
};

const OPTION_HELP: Record<string, string> = {
  out: '--out DIR|FILE            Where to write',
  ca: '--ca DIR                  The CA to issue under',
  cert: '--cert FILE               The certificate (chain) file',
  key: '--key FILE                The private key file',
  'key-type': `--key-type TYPE           ${KEY_TYPES.join(', ')} (default ecdsa-p256)`,
  days: "--days N                  Validity in days (no longer than the issuing CA's)",
  name: '--name NAME               Subject common name (p12 export: the name of the key in the bundle)',
  usage: '--usage server|client|both  Extended key usage (default both)',
  'path-length': '--path-length N           Path length constraint of the CA',
  'password-env': '--password-env NAME       Read the password from this environment variable',
  'password-file': '--password-file FILE      Read the password from this file',
  json: '--json                    Print JSON',
  force: '--force                   Replace existing files',
};

/** The usage of one subcommand, shown after a mistake in it. */
export function commandUsage(command: string): string {
  const help = COMMANDS[command];
  if (!help) return CERT_HELP;
  return [
    `Usage: tlskit cert ${help.synopsis}`,
    '',
    ...help.about.map((line) => `  ${line}`),
    '',
    'Options:',
    ...help.options.map((name) => `  ${OPTION_HELP[name]}`),
    '',
  ].join('\n');
}

/** The whole `tlskit cert --help` page. */
export const CERT_HELP = [
  'Usage: tlskit cert <command> [options]',
  '',
  'Commands:',
  ...Object.values(COMMANDS).flatMap((help) => [
    `  ${help.synopsis}`,
    ...help.about.map((line) => `      ${line}`),
  ]),
  '',
  'Options:',
  ...Object.values(OPTION_HELP).map((line) => `  ${line}`),
  '',
  "Run 'tlskit cert <command> --help' for one command's options.",
  'Exit codes: 0 done (also when cert dev keeps valid files), 1 an unexpected failure,',
  '2 a usage mistake or a refusal (an existing file without --force, a damaged input).',
  '',
].join('\n');
