import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue, DelimiterSearch } from '../../src/stream/byte-queue.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

/** Pushes `pieces` one by one and looks after each; returns what each look found. */
function lookAfterEachPush(pieces: Uint8Array[], needle: Uint8Array) {
  const queue = new ByteQueue();
  const search = new DelimiterSearch(needle);
  return {
    search,
    results: pieces.map((piece) => {
      queue.push(piece);
      return queue.find(search);
    }),
  };
}

describe('ByteQueue.find', () => {
  it('finds a delimiter split across chunks, reporting its position from the front', () => {
    const pieces = ['HEAD', 'ER-', '-E', 'N', 'D--body'].map(bytes);
    expect(lookAfterEachPush(pieces, bytes('--END--')).results).toEqual([-1, -1, -1, -1, 6]);
  });

  it('does not lose a match that starts inside a partial one (a delimiter overlapping itself)', () => {
    // "aabaab" followed by "a" is no match, but its last "aab" + "a" may still begin one: a search
    // that resumes must fall back to that prefix rather than start afresh.
    const pieces = ['aab', 'a', 'a', 'b', 'a', 'abaabc'].map(bytes);
    const haystack = Buffer.concat(pieces);
    const expected = haystack.indexOf('aabaabc');
    expect(lookAfterEachPush(pieces, bytes('aabaabc')).results.at(-1)).toBe(expected);
    expect(expected).toBe(6);
  });

  it('starts again from the front after bytes were removed', () => {
    const queue = new ByteQueue();
    const search = new DelimiterSearch(bytes('\r\n'));
    queue.push(bytes('one\r'));
    expect(queue.find(search)).toBe(-1);
    queue.shift(2);
    queue.push(bytes('\ntwo'));
    expect(queue.find(search)).toBe(1);
    expect(Buffer.from(queue.shift(3)).toString()).toBe('e\r\n');
    expect(queue.find(search)).toBe(-1);
  });

  it('agrees with Buffer.indexOf for any delimiter, bytes and split, looking after every piece', () => {
    const alphabet = fc.constantFrom(0x61, 0x62, 0x63); // few symbols: many partial matches
    fc.assert(
      fc.property(
        fc.array(alphabet, { minLength: 1, maxLength: 5 }),
        fc.array(fc.array(alphabet, { minLength: 1, maxLength: 8 }), { maxLength: 30 }),
        (needleBytes, pieceBytes) => {
          const needle = Uint8Array.from(needleBytes);
          const pieces = pieceBytes.map((piece) => Uint8Array.from(piece));
          const { results } = lookAfterEachPush(pieces, needle);
          let joined = Buffer.alloc(0);
          pieces.forEach((piece, i) => {
            joined = Buffer.concat([joined, piece]);
            expect(results[i]).toBe(joined.indexOf(needle));
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('looks at each byte once when a long line arrives one byte at a time', () => {
    const length = 64 * 1024;
    const pieces = Array.from({ length }, () => bytes('y'));
    const { search, results } = lookAfterEachPush([...pieces, bytes('\n')], bytes('\n'));
    expect(results.at(-1)).toBe(length);
    expect(search.scanned).toBe(length + 1);
  });

  it('stays linear for a delimiter whose prefix keeps matching, one byte at a time', () => {
    const length = 64 * 1024;
    const pieces = Array.from({ length }, () => bytes('a'));
    const { search, results } = lookAfterEachPush([...pieces, bytes('b')], bytes('aaaaaaab'));
    expect(results.at(-1)).toBe(length - 7);
    expect(search.scanned).toBe(length + 1);
  });
});
