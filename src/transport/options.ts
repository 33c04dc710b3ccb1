/**
 * One checker for every options object of the public API: an option a function accepts must act,
 * so a name it does not take is refused, never ignored. A misspelt `closeTimout` would otherwise
 * leave the default in force without a word, and an option that belongs to a neighbouring API
 * (`ca` given to `serve` instead of the server context) would look configured while doing nothing.
 */
import { InvalidArgumentError } from './errors.js';

/** The option names a function takes, and where names users put there by mistake belong. */
export interface OptionNames {
  readonly known: readonly string[];
  /**
   * Hints for names of neighbouring APIs, each finishing the sentence "unknown option `x`; …",
   * e.g. `ca: 'trust belongs in clientContext({ trust }), passed as `tls`'`.
   */
  readonly elsewhere?: Readonly<Record<string, string>>;
  /** For a nested object, its field: names are then reported as `validity.days`. */
  readonly path?: string;
}

/** Builds the error for a refused option; contexts use their own class and code. */
export type OptionError = (field: string, message: string) => Error;

const invalidArgument: OptionError = (_field, message) => new InvalidArgumentError(message);

/**
 * Throws for the first name in `options` that `names` does not know, naming the function, the
 * option, and the fix: where it belongs, the known name it looks like a typo of, or else the names
 * that are known. A name given as `undefined` counts too: a typo means the intended option is unset.
 */
export function checkOptionNames(
  where: string,
  options: unknown,
  names: OptionNames,
  fail: OptionError = invalidArgument,
): void {
  if (typeof options !== 'object' || options === null) return;
  let known = knownSets.get(names);
  if (known === undefined) {
    known = new Set(names.known);
    knownSets.set(names, known);
  }
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue;
    const label = (name: string) => (names.path ? `${names.path}.${name}` : name);
    throw fail(label(name), `${where}: unknown option \`${label(name)}\`; ${hint(name, names, label)}`);
  }
}

/** The known names as a set, made once per `OptionNames` (options are checked on every call). */
const knownSets = new WeakMap<OptionNames, ReadonlySet<string>>();

function hint(name: string, names: OptionNames, label: (name: string) => string): string {
  const elsewhere = names.elsewhere;
  if (elsewhere && Object.hasOwn(elsewhere, name)) return elsewhere[name]!;
  const typo = likelyMeant(name, names.known);
  if (typo) return `did you mean \`${label(typo)}\`?`;
  return `known options: ${names.known.map(label).join(', ')}`;
}

/** Makes the same hint for several names: `'`x` belongs in …'`. */
export function belongIn(names: readonly string[], place: (name: string) => string): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, place(name)]));
}

/**
 * The known name `name` is most likely a typo of: the same letters in another case, or within one
 * edit (two for longer names) counting a swap of neighbours as one. Short names get one edit only,
 * so that `ca` is not taken for `crl`.
 */
export function likelyMeant(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameLetters = known.find((candidate) => candidate.toLowerCase() === lower);
  if (sameLetters) return sameLetters;
  const allowed = name.length >= 6 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3; // farther than any hint allows
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = rows[i]!;
      const above = rows[i - 1]!;
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
      }
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * A value as an error message shows it: a string quoted and called one, so that `'443'` given for
 * a number does not read like the number it looks like.
 */
export function shown(value: unknown): string {
  return typeof value === 'string' ? `${JSON.stringify(value)} (a string)` : String(value);
}

/** What kind of value this is, for "got …" in an error: `null`, `a function`, `an ArrayBuffer`, `string`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = value.constructor?.name ?? 'object';
    return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
  }
  return typeof value;
}

/** Checks that the options argument is an object at all; `example` shows the least it holds. */
export function checkOptionsObject(where: string, options: unknown, example: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(
      `${where}: the options must be an object such as ${example}, got ${Array.isArray(options) ? 'an array' : shown(options)}`,
    );
  }
}

/** Checks an optional positive, finite number of milliseconds, naming the field and the value. */
export function checkMilliseconds(
  where: string,
  field: string,
  value: unknown,
  fail: OptionError = invalidArgument,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw fail(
      field,
      `${where}: \`${field}\` must be a positive number of milliseconds, got ${shown(value)}`,
    );
  }
  if (value > MAX_TIMER_MS) {
    // Node fires a longer timer after 1 ms (with a TimeoutOverflowWarning): a deadline meant to
    // be far away would cut every connection at once.
    throw fail(
      field,
      `${where}: \`${field}\` is ${value} ms, longer than a Node timer can wait; use at most ${MAX_TIMER_MS} (about 24.8 days)`,
    );
  }
  return value;
}

/** The longest delay `setTimeout` honours: 2^31 - 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks an optional callback. */
export function checkFunction(where: string, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidArgumentError(`${where}: \`${field}\` must be a function, got ${typeof value}`);
  }
}

/** Checks an optional boolean. */
export function checkBoolean(where: string, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new InvalidArgumentError(`${where}: \`${field}\` must be true or false, got ${String(value)}`);
  }
}

/** Checks an optional `signal`. */
export function checkSignal(where: string, signal: unknown): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`${where}: \`signal\` must be an AbortSignal, got ${typeof signal}`);
  }
}
