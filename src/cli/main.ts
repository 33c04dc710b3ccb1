#!/usr/bin/env node
/**
 * The `tlskit` command. Each subcommand lives in its own module; this file only dispatches and
 * prints help.
 */
import { createRequire } from 'node:module';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const HELP = `tlskit ${version}: TLS over any byte stream, and certificates to test it with.

Usage: tlskit <command> [options]

Commands:
  help               Show this help.
  version            Print the version.

Options:
  -h, --help         Show help for tlskit or for a command.
  -v, --version      Print the version.

Documentation: https://github.com/tlskit/tlskit#readme
`;

export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === 'version' || command === '-v' || command === '--version') {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  process.stderr.write(`tlskit: unknown command '${command}'. Run 'tlskit --help' for the list.\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`tlskit: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
