/**
 * Event ids: 26 Crockford base32 characters, 48 bits of milliseconds then 80 random bits, so
 * they sort by time. Within one millisecond the generator increments the random part, so ids
 * from one generator are strictly increasing even when the clock stands still or steps back.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Matches an id produced by {@link createEventIdGenerator}. */
export const EVENT_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** A monotonic id generator; `now` is injected (milliseconds). */
export function createEventIdGenerator(now: () => number = Date.now, random: (n: number) => Uint8Array = (n) => randomBytes(n)): () => string {
  let lastMs = -1;
  let rand: number[] = [];
  return () => {
    let ms = Math.max(0, Math.floor(now()));
    if (ms <= lastMs) {
      ms = lastMs;
      // Increment the 80-bit random part held as 16 base32 digits.
      let i = rand.length - 1;
      while (i >= 0 && rand[i] === 31) { rand[i] = 0; i--; }
      if (i < 0) { ms = lastMs + 1; rand = Array.from(random(16), (b) => b & 31); } else rand[i] = rand[i]! + 1;
    } else {
      rand = Array.from(random(16), (b) => b & 31);
    }
    lastMs = ms;
    return encodeTime(ms) + rand.map((d) => ALPHABET[d]).join('');
  };
}
