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
