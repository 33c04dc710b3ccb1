#!/usr/bin/env node
/**
 * The `tlskit` command. Each subcommand lives in its own module; this file only dispatches and
 * prints help.
 */
import { createRequire } from 'node:module';
import { InvalidArgumentError } from '../transport/errors.js';
import { BADTLS_HELP, badtlsCommand } from './badtls.js';
import { CERT_HELP, certCommand, UsageError } from './cert.js';
import { CONNECT_HELP, connectCommand } from './connect.js';
import { TUNNEL_HELP, tunnelCommand } from './tunnel.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const HELP = `tlskit ${version}: TLS over any byte stream, and certificates to test it with.

Usage: tlskit <command> [options]

Commands:
  cert ca|issue|inspect|p12|dev|defects
                                  Make and inspect certificates (tlskit cert --help).
  connect HOST:PORT               Is this server trusted, and why not? What does it present?
                                  (tlskit connect --help)
  badtls check|serve|list         Grade a TLS client's certificate and protocol checks against
                                  a lab of good and bad servers (tlskit badtls --help).
  tunnel --accept P --to H:P      Terminate or originate TLS in front of a plain service, like
                                  stunnel (tlskit tunnel --help).
  help [COMMAND]                  Show this help, or a command's (tlskit help cert).
  version                         Print the version.

Options:
  -h, --help                      Show help for tlskit or for a command.
  -v, --version                   Print the version.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (command === 'help' && rest.length > 0) return main([...rest, '--help']); // tlskit help cert
  if (command === undefined || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === 'version' || command === '-v' || command === '--version') {
    out(version);
    return 0;
  }
  try {
    if (command === 'cert') return await certCommand(rest, out);
    if (command === 'badtls') return await badtlsCommand(rest, out);
    if (command === 'connect') return await connectCommand(rest, out);
    if (command === 'tunnel') return await tunnelCommand(rest, out);
  } catch (error) {
    const usage =
      error instanceof UsageError ||
      error instanceof InvalidArgumentError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw error;
    process.stderr.write(`tlskit ${command}: ${(error as Error).message}\n`);
    if (error instanceof UsageError && error.help)
      process.stderr.write(
        `\n${error.usage ?? (command === 'badtls' ? BADTLS_HELP : command === 'connect' ? CONNECT_HELP : command === 'tunnel' ? TUNNEL_HELP : CERT_HELP)}`,
      );
    return 2;
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
