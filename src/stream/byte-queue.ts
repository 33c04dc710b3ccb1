/**
 * A FIFO of byte chunks that hands out whole chunks without copying and joins chunks only when a
 * caller asks for a span that crosses them. A `DelimiterSearch` keeps its place between calls to
 * `find`, so a reader waiting for a delimiter looks at each arriving byte once, however the bytes
 * are split: reading a line delivered one byte at a time costs time linear in its length.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #length = 0;
  /** Changes whenever bytes are removed: a search made before a removal starts again. */
  #generation = 0;

  /** Bytes queued. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Removes and returns the first chunk as it arrived (or what is left of it). */
  shiftChunk(): Uint8Array | null {
    if (this.#length === 0) return null;
    const chunk = this.#chunks[this.#head]!;
    this.#dropHead();
    this.#length -= chunk.length;
    this.#generation++;
    return chunk;
  }

  /** Removes and returns the first `count` bytes (at most `length`), copying only across chunks. */
  shift(count: number): Uint8Array {
    const want = Math.min(count, this.#length);
    if (want === 0) return new Uint8Array(0);
    this.#generation++;
    const first = this.#chunks[this.#head]!;
    if (first.length >= want) {
      if (first.length === want) this.#dropHead();
      else this.#chunks[this.#head] = first.subarray(want);
      this.#length -= want;
      return first.length === want ? first : first.subarray(0, want);
    }
    const out = new Uint8Array(want);
    let filled = 0;
    while (filled < want) {
      const chunk = this.#chunks[this.#head]!;
      const take = Math.min(chunk.length, want - filled);
      out.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
      filled += take;
      if (take === chunk.length) this.#dropHead();
      else this.#chunks[this.#head] = chunk.subarray(take);
    }
    this.#length -= want;
    return out;
  }

  /**
   * Position of the first occurrence of `search.needle` from the front, or -1 if the queued bytes do
   * not contain it yet. Continues from where the last call with the same `search` stopped, as long
   * as nothing was removed in between (otherwise it starts again from the front). A match may span
   * any number of chunks.
   */
  find(search: DelimiterSearch): number {
    if (search.owner !== this || search.generation !== this.#generation) {
      search.owner = this;
      search.generation = this.#generation;
      search.chunk = this.#head;
      search.offset = 0;
      search.base = 0;
      search.matched = 0;
      search.found = -1;
    }
    if (search.found !== -1) return search.found;
    const { needle, fallback } = search;
    const first = needle[0]!;
    let { chunk: c, offset, matched } = search;
    for (; c < this.#chunks.length; c++, offset = 0) {
      const chunk = this.#chunks[c]!;
      while (offset < chunk.length) {
        if (matched === 0) {
          // Nothing matched yet: let the native search skip to the delimiter's first byte.
          const at = chunk.indexOf(first, offset);
          const stop = at === -1 ? chunk.length : at + 1;
          search.scanned += stop - offset;
          offset = stop;
          if (at === -1) break;
          matched = 1;
        } else {
          // Knuth-Morris-Pratt: on a mismatch, fall back to the longest prefix of the delimiter
          // that still ends here, so no byte is ever looked at again.
          const byte = chunk[offset++]!;
          search.scanned++;
          while (matched > 0 && byte !== needle[matched]) matched = fallback[matched - 1]!;
          if (byte === needle[matched]) matched++;
        }
        if (matched === needle.length) {
          search.found = search.base + offset - needle.length;
          search.chunk = c;
          search.offset = offset;
          search.matched = matched;
          return search.found;
        }
      }
      search.base += chunk.length;
    }
    search.chunk = c;
    search.offset = offset;
    search.matched = matched;
    return -1;
  }

  #dropHead(): void {
    this.#head++;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * One search for a delimiter in a `ByteQueue`, and where it has got to. Make a new one for each
 * read; pass it to `find` again after more bytes arrived.
 */
export class DelimiterSearch {
  readonly needle: Uint8Array;
  /** For each prefix of `needle`, the length of its longest proper prefix that is also a suffix. */
  readonly fallback: Uint32Array;
  /** Bytes looked at so far, over all calls to `find`: the work done, for tests. */
  scanned = 0;
  owner: ByteQueue | null = null;
  generation = -1;
  /** Where to continue: index into the queue's chunks, offset in that chunk, bytes before it. */
  chunk = 0;
  offset = 0;
  base = 0;
  /** How many bytes of `needle` end at the position to continue from. */
  matched = 0;
  found = -1;

  /** `needle` must not be empty. */
  constructor(needle: Uint8Array) {
    if (needle.length === 0) throw new RangeError('DelimiterSearch: the delimiter must not be empty');
    this.needle = needle;
    this.fallback = new Uint32Array(needle.length);
    for (let i = 1, k = 0; i < needle.length; i++) {
      while (k > 0 && needle[i] !== needle[k]) k = this.fallback[k - 1]!;
      if (needle[i] === needle[k]) k++;
      this.fallback[i] = k;
    }
  }
}
