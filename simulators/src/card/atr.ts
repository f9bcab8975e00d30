/**
 * ATRs of the simulated cards [7816-3 §8.2; ssc-card §4]. T=0: `3B 6x 00 00` ‖ historical bytes
 * (TB1 = TC1 = 00, no TD1, no TCK) as the SSC spec templates it [SPEC P10 §5.1.2]. T=1 variant of the
 * same card: `3B Ex 00 00 81 31 FE 45` ‖ historical bytes ‖ TCK (TD1 → T=1, TA3 IFSC 254,
 * TB3 BWI 4 / CWI 5) [ONECARD].
 */

/** Builds the ATR for `protocol` with up to 15 historical bytes. */
export function buildAtr(protocol: 0 | 1, historical: Uint8Array): Uint8Array {
  const k = historical.length & 0x0f;
  if (protocol === 0) return Uint8Array.of(0x3b, 0x60 | k, 0x00, 0x00, ...historical);
  const body = [0xe0 | k, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x45, ...historical];
  const tck = body.reduce((x, b) => x ^ b, 0);
  return Uint8Array.of(0x3b, ...body, tck);
}

/**
 * SSC historical bytes [SPEC P2 §8.4 table 16]: chip supplier (2) ‖ COS data (3) ‖ card
 * manufacturer (2) ‖ first 4 digits of the region, BCD (2) ‖ card serial (4).
 */
export function sscHistoricalBytes(chipSupplier: Uint8Array, cosData: Uint8Array, manufacturer: Uint8Array, region: string, serial: Uint8Array): Uint8Array {
  const r = Uint8Array.of(parseInt(region.slice(0, 2), 16), parseInt(region.slice(2, 4), 16));
  return Uint8Array.of(...chipSupplier, ...cosData, ...manufacturer, ...r, ...serial);
}
