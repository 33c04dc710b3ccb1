#!/usr/bin/env node
/**
 * The `tlskit` command. Each subcommand lives in its own module; this file only dispatches and
 * prints help.
 */
import { createRequire } from 'node:module';
import { InvalidArgumentError } from '../transport/errors.js';
import { UsageError } from './usage-error.js';

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

type Out = (line: string) => void;
interface Command {
  run(args: string[], out: Out): Promise<number>;
  help: string;
}

/**
 * Each command is loaded only when asked for: a long-running `tlskit tunnel` should not carry
 * the certificate tooling in its heap (a bigger old generation makes every major GC of a bulk
 * transfer dearer), and `tlskit version` should not parse it at all.
 */
const commands: Record<string, () => Promise<Command>> = {
  cert: async () => {
    const m = await import('./cert.js');
    return { run: m.certCommand, help: m.CERT_HELP };
  },
  badtls: async () => {
    const m = await import('./badtls.js');
    return { run: m.badtlsCommand, help: m.BADTLS_HELP };
  },
  connect: async () => {
    const m = await import('./connect.js');
    return { run: m.connectCommand, help: m.CONNECT_HELP };
  },
  tunnel: async () => {
    const m = await import('./tunnel.js');
    return { run: m.tunnelCommand, help: m.TUNNEL_HELP };
  },
};

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
  const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (load) {
    const { run, help } = await load();
    try {
      return await run(rest, out);
    } catch (error) {
      const usage =
        error instanceof UsageError ||
        error instanceof InvalidArgumentError ||
        (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
      if (!usage) throw error;
      process.stderr.write(`tlskit ${command}: ${(error as Error).message}\n`);
      if (error instanceof UsageError && error.help) process.stderr.write(`\n${error.usage ?? help}`);
      else if (!(error instanceof UsageError))
        process.stderr.write(`Run 'tlskit ${command} --help' for the options.\n`);
      return 2;
    }
  }
  process.stderr.write(`tlskit: unknown command '${command}'. Run 'tlskit --help' for the list.\n`);
  return 2;
}

// A reader that stops early (`tlskit cert dev | head -1`) closes the pipe: the rest of the output
// has nowhere to go, which is the reader's choice, not a failure worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`tlskit: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
