/**
 * Dispersion factors and per-card keys [ssc-card §7.8, §4]: province factor from the region's
 * first 2 digits, city factor from the region (with the Zhejiang rule of SC-IF §10.3 as an
 * option), card factor = ATR historical bytes T6..TD; the purse DPK/DTK follow the OneCard test
 * hierarchy [ONECARD]: master root → issuer factor → application serial (rightmost 8 bytes).
 */
import { type Family, disperse, disperseOnce, pbocDisperse } from './crypto.ts';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Level-1 (province) factor: ASCII of the first 2 region digits ‖ "0000sh". */
export function provinceFactor(region: string): Uint8Array {
  return ascii(`${region.slice(0, 2)}0000sh`);
}

/** Level-2 (city) factor: ASCII of the 6-digit region ‖ "sx"; `sc-if` rule: region 33 → 4 digits ‖ "00sx". */
export function cityFactor(region: string, rule: 'generic' | 'sc-if' = 'sc-if'): Uint8Array {
  if (rule === 'sc-if' && region.startsWith('33')) return ascii(`${region.slice(0, 4)}00sx`);
  return ascii(`${region}sx`);
}

/** Level-3 (card) factor: historical bytes 6..13 (T6..TD). */
export function cardFactor(historical: Uint8Array): Uint8Array {
  return historical.slice(5, 13);
}

/** A card's own key: the issuer root dispersed province → city → card. */
export function cardKey(f: Family, root: Uint8Array, region: string, historical: Uint8Array, rule: 'generic' | 'sc-if' = 'sc-if'): Uint8Array {
  return disperse(f, root, [provinceFactor(region), cityFactor(region, rule), cardFactor(historical)]);
}

/** The key a PSAM stores when it holds a root `skip` levels below the issuer root. */
export function psamStoredKey(f: Family, root: Uint8Array, region: string, skip: number, rule: 'generic' | 'sc-if' = 'sc-if'): Uint8Array {
  return disperse(f, root, [provinceFactor(region), cityFactor(region, rule)].slice(0, skip));
}

/** Issuer-level purse key [ONECARD]: root dispersed with the 8-byte issuer factor. */
export function purseIssuerKey(root: Uint8Array, issuerFactor: Uint8Array): Uint8Array {
  return disperseOnce('des', root, issuerFactor);
}

/** Per-card purse key (DPK or DTK) from the master root, issuer factor and 10-byte serial. */
export function purseCardKey(root: Uint8Array, issuerFactor: Uint8Array, serial10: Uint8Array): Uint8Array {
  return pbocDisperse(purseIssuerKey(root, issuerFactor), serial10.slice(2, 10));
}
