/**
 * GBK encoding for personalisation (names are stored GBK-encoded in EF06 tag `09`/`4E`,
 * [SPEC V2 table 10]). Node ships a GBK decoder but no encoder, so the reverse table is built once
 * by decoding every two-byte GBK code.
 */
let table: Map<number, number> | undefined;

function reverseTable(): Map<number, number> {
  if (table !== undefined) return table;
  const dec = new TextDecoder('gbk', { fatal: true });
  const m = new Map<number, number>();
  const pair = new Uint8Array(2);
  for (let hi = 0x81; hi <= 0xfe; hi++) {
    for (let lo = 0x40; lo <= 0xfe; lo++) {
      if (lo === 0x7f) continue;
      pair[0] = hi;
      pair[1] = lo;
      let s: string;
      try {
        s = dec.decode(pair);
      } catch {
        continue;
      }
      const cp = s.codePointAt(0);
      if (s.length === 1 && cp !== undefined && cp !== 0xfffd && !m.has(cp)) m.set(cp, (hi << 8) | lo);
    }
  }
  table = m;
  return m;
}

/** GBK bytes of `text`, or `undefined` when a character has no GBK code. */
export function encodeGbk(text: string): Uint8Array | undefined {
  const out: number[] = [];
  const t = reverseTable();
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out.push(cp);
      continue;
    }
    const code = t.get(cp);
    if (code === undefined) return undefined;
    out.push(code >> 8, code & 0xff);
  }
  return Uint8Array.from(out);
}

/** Decodes GBK bytes (for tests and diagnostics). */
export function decodeGbk(bytes: Uint8Array): string {
  return new TextDecoder('gbk').decode(bytes);
}

/**
 * Splits GBK bytes at most `max` bytes into the first part without cutting a two-byte character;
 * returns the byte count that fits.
 */
export function gbkFit(bytes: Uint8Array, max: number): number {
  let i = 0;
  while (i < bytes.length) {
    const w = bytes[i]! >= 0x81 ? 2 : 1;
    if (i + w > max) break;
    i += w;
  }
  return i;
}
