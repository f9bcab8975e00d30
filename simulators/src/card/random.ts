/**
 * Deterministic random sources for simulated cards: every challenge and card random comes from an
 * injected `RandomSource`, so scenario tests replay byte for byte.
 */

/** Returns `n` pseudo-random bytes. */
export type RandomSource = (n: number) => Uint8Array;

/**
 * A seeded generator (splitmix32). Not for real secrets — the simulators only need repeatable
 * challenges.
 */
export function seededRandom(seed: number): RandomSource {
  let s = seed >>> 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      out[i] = (z ^ (z >>> 16)) & 0xff;
    }
    return out;
  };
}
