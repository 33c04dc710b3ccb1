/**
 * A FIFO of byte chunks that hands out whole chunks without copying and joins chunks only when a
 * caller asks for a span that crosses them. Searches take a starting position, so a reader waiting
 * for a delimiter rescans only the bytes that arrived since its last look.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #length = 0;

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
    return chunk;
  }

  /** Removes and returns the first `count` bytes (at most `length`), copying only across chunks. */
  shift(count: number): Uint8Array {
    const want = Math.min(count, this.#length);
    if (want === 0) return new Uint8Array(0);
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

  /** Position of the first occurrence of `needle` at or after `from`, or -1. */
  indexOf(needle: Uint8Array, from = 0): number {
    const first = needle[0];
    if (first === undefined) return from <= this.#length ? from : -1;
    let base = 0;
    for (let c = this.#head; c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c]!;
      if (base + chunk.length > from) {
        let start = Math.max(0, from - base);
        for (;;) {
          const at = chunk.indexOf(first, start);
          if (at === -1) break;
          if (this.#matchesAt(c, at, needle)) return base + at;
          start = at + 1;
        }
      }
      base += chunk.length;
    }
    return -1;
  }

  #matchesAt(chunkIndex: number, offset: number, needle: Uint8Array): boolean {
    let c = chunkIndex;
    let i = offset;
    for (let n = 0; n < needle.length; n++) {
      let chunk = this.#chunks[c];
      while (chunk !== undefined && i >= chunk.length) {
        c++;
        i = 0;
        chunk = this.#chunks[c];
      }
      if (chunk === undefined || chunk[i] !== needle[n]) return false;
      i++;
    }
    return true;
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
