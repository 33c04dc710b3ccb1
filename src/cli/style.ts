/**
 * Terminal colours for the tlskit commands. Colour is decoration, never information: every
 * coloured word also reads right without it (✔/✘, "expired"), so scripts and logs lose nothing.
 *
 * Colours are on only when the stream is a terminal and `NO_COLOR` is unset or empty
 * (https://no-color.org); `FORCE_COLOR` (any value but `0`) turns them on for a pipe, for
 * pagers such as `less -R`. `NO_COLOR` wins over `FORCE_COLOR`: someone who asked for no colour
 * everywhere asked first.
 */

/** The colour functions a printer uses; each returns `text` unchanged when colours are off. */
export interface Style {
  readonly enabled: boolean;
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  bold(text: string): string;
  dim(text: string): string;
}

/** Whether to colour output written to `stream`, from its TTY flag and the environment. */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

function sgr(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => `\u001b[${open}m${text}\u001b[${close}m` : (text) => text;
}

/** The style for `stream` (default: standard output). */
export function styleFor(stream: { isTTY?: boolean } = process.stdout, env = process.env): Style {
  const enabled = colourWanted(stream, env);
  return {
    enabled,
    ok: sgr(enabled, 32, 39),
    bad: sgr(enabled, 31, 39),
    warn: sgr(enabled, 33, 39),
    bold: sgr(enabled, 1, 22),
    dim: sgr(enabled, 2, 22),
  };
}
