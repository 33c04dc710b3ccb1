/**
 * IP addresses to and from their bytes: for comparing two spellings of one address (host name
 * checks), for the PROXY protocol's binary addresses, and for what a certificate holds.
 * @peculiar/x509 parses address text itself and gets forms with an IPv4 tail wrong
 * (`::ffff:1.2.3.4` became `0:0:0:0:0:0:ffff:1`, silently), so the PKI hands it addresses only in
 * the one form it reads correctly (`encodableIp`): dotted quads for IPv4, all eight hex groups for
 * IPv6.
 */
import { isIP } from 'node:net';

function ipv4Bytes(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255))
    return null;
  return parts.map(Number);
}

function ipv6Bytes(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string | undefined): number[] | null => {
    if (!half) return [];
    const words: number[] = [];
    const parts = half.split(':');
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1 && part.includes('.')) {
        // An IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups.
        const v4 = ipv4Bytes(part);
        if (!v4) return null;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        words.push(Number.parseInt(part, 16));
      } else {
        return null;
      }
    }
    return words;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const words = [...head, ...Array<number>(missing).fill(0), ...tail];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address in any textual form, or `null` if it is not one. */
export function ipBytes(text: string): Uint8Array | null {
  const version = isIP(text);
  if (version === 0 || text.includes('%')) return null;
  const bytes = version === 4 ? ipv4Bytes(text) : ipv6Bytes(text);
  return bytes ? Uint8Array.from(bytes) : null;
}

/**
 * The text @peculiar/x509 encodes to exactly `bytes`: a dotted quad, or eight hex groups with no
 * `::` and no IPv4 tail (the two forms its parser handles correctly).
 */
export function encodableIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return words.join(':');
}

/**
 * An address as people write it (RFC 5952): IPv4 dotted; IPv6 in lowercase with the longest run of
 * two or more zero groups (the first, on a tie) as `::`, and IPv4-mapped addresses as `::ffff:a.b.c.d`
 * (which is also how Node prints a socket's address).
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  const words = encodableIp(bytes).split(':');
  let best = { start: -1, length: 1 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && words[start + length] === '0') length++;
    if (length > best.length) best = { start, length };
  }
  if (best.start < 0) return words.join(':');
  return `${words.slice(0, best.start).join(':')}::${words.slice(best.start + best.length).join(':')}`;
}

/** Whether two texts spell the same IP address (`::1` and `0:0:0:0:0:0:0:1`); false if either is none. */
export function sameIp(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return x !== null && y !== null && x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack socket reports IPv4) as IPv4. */
export function unmappedIp(bytes: Uint8Array): Uint8Array {
  const mapped =
    bytes.length === 16 &&
    bytes.slice(0, 10).every((byte) => byte === 0) &&
    bytes[10] === 0xff &&
    bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}
