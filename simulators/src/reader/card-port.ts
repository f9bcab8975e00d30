/**
 * What the simulated reader needs from a card: its answer to reset and an APDU exchange. Any
 * simulated card (SSC, PSAM, in-test fakes) fits once wrapped to this shape.
 */

export interface ReaderCard {
  /** Cold/warm reset: returns the ATR. */
  reset(): Uint8Array;
  /** One command APDU in, response data ‖ SW1 SW2 out (APDU level). */
  transmit(apdu: Uint8Array): Uint8Array;
}

/** ATR protocol summary used by the reader: whether T=1 is offered (any TDi with T=1). */
export function atrOffersT1(atr: Uint8Array): boolean {
  let i = 1;
  let y = (atr[1] ?? 0) >> 4;
  let k = 0;
  while (i < atr.length) {
    const td = (y & 8) !== 0;
    i += ((y & 1) !== 0 ? 1 : 0) + ((y & 2) !== 0 ? 1 : 0) + ((y & 4) !== 0 ? 1 : 0);
    if (!td) break;
    i += 1;
    const tdi = atr[i] ?? 0;
    if ((tdi & 0x0f) === 1) return true;
    y = tdi >> 4;
    k++;
    if (k > 15) break;
  }
  return false;
}

/**
 * Rewrites an ATR as a T=1-only ATR with the same historical bytes: `3B 8K 01 ‖ hist ‖ TCK`
 * (TD1 = 01: T=1, defaults IFSC 32, BWI 4, CWI 13, LRC) [7816-3 §8.2, §11.4]. Used by `--t1`.
 */
export function toT1Atr(atr: Uint8Array): Uint8Array {
  const k = (atr[1] ?? 0) & 0x0f;
  const hist = atr.slice(historicalStart(atr), historicalStart(atr) + k);
  const body = Uint8Array.from([0x80 | hist.length, 0x01, ...hist]);
  let tck = 0;
  for (const b of body) tck ^= b; // [7816-3 §8.2.5] XOR of T0..TCK is 00
  return Uint8Array.from([0x3b, ...body, tck]);
}

function historicalStart(atr: Uint8Array): number {
  let i = 2;
  let y = (atr[1] ?? 0) >> 4;
  for (let guard = 0; guard < 16; guard++) {
    i += ((y & 1) !== 0 ? 1 : 0) + ((y & 2) !== 0 ? 1 : 0) + ((y & 4) !== 0 ? 1 : 0);
    if ((y & 8) === 0) break;
    y = (atr[i] ?? 0) >> 4;
    i += 1;
  }
  return i;
}
