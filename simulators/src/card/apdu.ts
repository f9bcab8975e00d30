/**
 * Command-APDU parsing and response building for the simulated cards (short APDUs only, as on
 * real social security cards [7816-4 §5.1]). A malformed APDU is answered with a status word, as a
 * card would; nothing here throws.
 */

/** A parsed short command APDU. `le` is the raw Le byte (`0` means "256 / any"), `null` if absent. */
export interface Command {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  readonly le: number | null;
  /** Whether an Lc byte was present (case 3/4). */
  readonly hasLc: boolean;
}

/** Status words used by the simulated cards [ssc-card §12; 7816-4 §5.6]. */
export const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  INVALID_STATE: 0x6901,
  INCOMPATIBLE_FILE: 0x6981,
  SECURITY: 0x6982,
  LOCKED: 0x6983,
  REF_DATA_INVALID: 0x6984,
  CONDITIONS: 0x6985,
  NO_CURRENT_EF: 0x6986,
  SM_MAC_WRONG: 0x6988,
  WRONG_DATA: 0x6a80,
  FUNC_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  WRONG_P1P2: 0x6a86,
  KEY_NOT_FOUND: 0x6a88,
  OFFSET_BEYOND: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  MAC_INVALID: 0x9302,
  INSUFFICIENT_FUNDS: 0x9401,
  ATC_MAX: 0x9402,
  KEY_INDEX: 0x9403,
  MAC_NOT_AVAILABLE: 0x9406,
} as const;

/** Parses a short APDU; `undefined` when the lengths are inconsistent. */
export function parseCommand(apdu: Uint8Array): Command | undefined {
  if (apdu.length < 4) return undefined;
  const [cla, ins, p1, p2] = [apdu[0]!, apdu[1]!, apdu[2]!, apdu[3]!];
  if (apdu.length === 4) return { cla, ins, p1, p2, data: new Uint8Array(0), le: null, hasLc: false };
  if (apdu.length === 5) return { cla, ins, p1, p2, data: new Uint8Array(0), le: apdu[4]!, hasLc: false };
  const lc = apdu[4]!;
  if (lc === 0) return undefined; // extended length is not supported by these cards
  if (apdu.length === 5 + lc) return { cla, ins, p1, p2, data: apdu.slice(5, 5 + lc), le: null, hasLc: true };
  if (apdu.length === 6 + lc) return { cla, ins, p1, p2, data: apdu.slice(5, 5 + lc), le: apdu[5 + lc]!, hasLc: true };
  return undefined;
}

/** Response bytes: data ‖ SW1 SW2. */
export function respond(sw: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

/** `63Cx` with x tries left. */
export function swTries(left: number): number {
  return 0x63c0 | Math.max(0, Math.min(15, left));
}

/**
 * Answers a command whose response has a fixed length: `6Cxx` when Le is `00` or wrong
 * [7816-3 §10.3.3; ssc-card §5.2], the data otherwise. A missing Le (case 3 form used by PC/SC
 * over T=0) gets the data too.
 */
export function exactLe(cmd: Command, data: Uint8Array): Uint8Array {
  if (cmd.le !== null && cmd.le !== (data.length & 0xff)) return respond(0x6c00 | (data.length & 0xff));
  if (cmd.le === 0 && data.length !== 256) return respond(0x6c00 | data.length);
  return respond(SW.OK, data);
}

/** Simple BER-TLV encoder for FCI templates (lengths up to 255). */
export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const t = tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const l = value.length < 0x80 ? [value.length] : [0x81, value.length];
  const out = new Uint8Array(t.length + l.length + value.length);
  out.set([...t, ...l], 0);
  out.set(value, t.length + l.length);
  return out;
}
