import { ContextError } from '../tls/errors.js';

/**
 * A command-line mistake: printed without a stack trace, exit code 2. `help` says whether the
 * usage text is worth showing after it (not for a refusal such as an existing file).
 */
export class UsageError extends Error {
  readonly help: boolean;
  /** The usage to show after the message (a subcommand's), when not the whole help page. */
  readonly usage: string | undefined;

  constructor(message: string, options: { help?: boolean; usage?: string } = {}) {
    super(message);
    this.help = options.help ?? true;
    this.usage = options.usage;
  }
}

/**
 * Runs `make` (which builds a TLS context from flag values) and turns a ContextError into the
 * UsageError of the flag its field came from: `--key 'k.pem': \`key\` does not match …`.
 * `flags` maps a context field (`cert`, `trust`, …) to its flag and the file the flag named.
 */
export function withFlagNames<T>(
  make: () => T,
  flags: Record<string, { flag: string; file: string | undefined }>,
): T {
  try {
    return make();
  } catch (error) {
    if (!(error instanceof ContextError)) throw error;
    const named = flags[error.field.replace(/\[\d+\]$/, '')]; // `crl[0]` came from --crl
    const message = error.message.replace(/^(client|server)Context(\.reload)?: /, '');
    const where = named ? `${named.flag}${named.file ? ` '${named.file}'` : ''}: ` : '';
    throw new UsageError(`${where}${message}`, { help: false });
  }
}
