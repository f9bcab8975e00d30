/**
 * A T=0 TPDU adapter over an APDU-level simulated card [7816-3 §10.3; 7816-4 §5.3]. Case 3 TPDUs
 * whose command yields data answer `61xx` and keep the data for GET RESPONSE (`xx C0 00 00 Le`);
 * a case 2 TPDU whose P3 differs from the data length answers `6Cxx` (so READ RECORD with
 * Le = `00` answers `6Cxx`, as real SSCs do).
 */
import { SimulatorError } from '../errors.ts';
import type { SimulatedCard } from './types.ts';

const pending = new WeakMap<SimulatedCard, Uint8Array>();

const sw = (hi: number, lo: number, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = hi;
  out[data.length + 1] = lo & 0xff;
  return out;
};

/**
 * Sends one T=0 TPDU (5-byte header, plus data when P3 is Lc) to `card`.
 * @throws SimulatorError `SIM_ERR_CARD_TPDU` when the TPDU is shorter than 5 bytes or its data
 *   length differs from P3; the card's own errors (`SIM_ERR_CARD_MUTE`, `SIM_ERR_CARD_TORN`).
 */
export function t0Transmit(card: SimulatedCard, tpdu: Uint8Array): Uint8Array {
  if (tpdu.length < 5) throw new SimulatorError('SIM_ERR_CARD_TPDU', 'a T=0 TPDU has a 5-byte header', { field: 'header', length: tpdu.length });
  const p3 = tpdu[4]!;
  if (tpdu.length > 5 && tpdu.length !== 5 + p3) throw new SimulatorError('SIM_ERR_CARD_TPDU', 'data length differs from P3', { field: 'P3', p3, length: tpdu.length - 5 });
  if (tpdu[1] === 0xc0 && tpdu.length === 5) {
    const data = pending.get(card);
    if (data === undefined) return sw(0x69, 0x85);
    const le = p3 === 0 ? 256 : p3;
    if (le > data.length) return sw(0x6c, data.length);
    pending.delete(card);
    if (le < data.length) {
      const rest = data.slice(le);
      pending.set(card, rest);
      return sw(0x61, rest.length, data.slice(0, le));
    }
    return sw(0x90, 0x00, data);
  }
  pending.delete(card);
  const r = card.transmit(tpdu);
  const data = r.subarray(0, r.length - 2);
  const sw1 = r[r.length - 2]!;
  const sw2 = r[r.length - 1]!;
  if (data.length === 0) return r;
  if (tpdu.length === 5) {
    const le = p3 === 0 ? 256 : p3;
    if (le !== data.length) return sw(0x6c, data.length);
    return r;
  }
  if (sw1 !== 0x90 || sw2 !== 0x00) return sw(sw1, sw2);
  pending.set(card, data.slice());
  return sw(0x61, data.length);
}
