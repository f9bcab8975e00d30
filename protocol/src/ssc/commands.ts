/**
 * Command builders and response-data parsers for the social security card (SSSE) [P5; ssc-card
 * §1.2, §5, §10–12]. Builders return a plain command-APDU object; parsers take the response data
 * field (without SW1 SW2 — status words are data, checked by the caller) and throw coded errors on
 * wrong lengths or malformed TLV. Commands that carry secrets (VERIFY, CHANGE PIN, `84 24`,
 * EXTERNAL AUTHENTICATE) must be redacted in traces.
 */
import { ProtocolError } from '../errors.ts';
import { concat, fromHex } from '../bytes.ts';
import { dataItemByTag } from './data-items.ts';
import { decodeBerTlvs, decodeSimpleTlvs, findTlv, type SimpleTlv } from './tlv.ts';
import { cmd, paramChecks } from './command-builder.ts';

/** Command APDUs are the ISO 7816 structure (`le` is Ne: 1–256, 256 sent as Le byte `00`). */
export type { CommandApdu } from '../iso7816/apdu.ts';
import type { CommandApdu } from '../iso7816/apdu.ts';

/** SSSE DF name `sx1.sh.社会保障` (ASCII ‖ GBK) [P6 table 1]. */
export const SSSE_DF_NAME = fromHex('7378312E73682EC9E7BBE1B1A3D5CF');

/** AIDs of the SSSE applications [P6 table 2]. */
export const SSC_AIDS = {
  common: fromHex('D15600000500'),
  employment: fromHex('D15600000501'),
  socialInsurance1: fromHex('D15600000502'),
  socialInsurance2: fromHex('D15600000503'),
} as const;

/** User-card key identifiers [KEY-IDX] (selection used by terminals). */
export const SSC_KEY_IDS = {
  IRK: 0x00,
  STK: 0x02,
  UKSSSE: 0x04,
  BK: 0x05,
  PUK: 0x06,
  RKSSSE: 0x0a,
  UK1SSSE: 0x0d,
} as const;

/** Algorithm identifiers of the FCI `86` element and the national interface [SC-IF §10.1]. */
export const SSC_ALGORITHMS = { DES: 1, SSF33: 2, SM4: 3 } as const;
export type SscAlgorithm = (typeof SSC_ALGORITHMS)[keyof typeof SSC_ALGORITHMS];

const { param, byteParam, lenParam } = paramChecks('PROTO_ERR_SSC_PARAM');





/** Whether a SELECT asks for the FCI with Le `00`. */
export interface SelectOptions {
  /** Append Le `00` (Ne 256). Default false, as the spec's SELECT SSSE [P6 table 1]. */
  readonly le?: boolean;
}

/**
 * SELECT by DF name / AID: `00 A4 04 00 Lc name [00]` [P5 §6.10].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` when the name is not 1–16 bytes.
 */
export function selectByName(name: Uint8Array, options: SelectOptions = {}): CommandApdu {
  param(name.length >= 1 && name.length <= 16, 'DF name must be 1–16 bytes', 'name');
  return cmd(0x00, 0xa4, 0x04, 0x00, name, options.le === true ? 256 : undefined);
}

/** SELECT of the SSSE by its DF name (always by name, never by FID) [INFER ssc-card §1.1]. */
export function selectSsse(options: SelectOptions = {}): CommandApdu {
  return selectByName(SSSE_DF_NAME, options);
}

/**
 * SELECT by file identifier: `00 A4 P1 00 02 FID`; P1 `00` or `02` (both seen in the field,
 * a card-profile choice) [ssc-card §5.1].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on a FID outside 0000–FFFF or P1 not 00/02.
 */
export function selectByFid(fid: number, p1: 0x00 | 0x02 = 0x02): CommandApdu {
  byteParam(fid, 'fid', 0, 0xffff);
  param(p1 === 0x00 || p1 === 0x02, 'P1 must be 00 or 02', 'p1');
  return cmd(0x00, 0xa4, p1, 0x00, Uint8Array.of(fid >> 8, fid & 0xff));
}

/** READ RECORD addressing modes (P2 b3..b1) [P5 §6.9; 7816-4 §7.3.3]. */
export const READ_RECORD_MODES = {
  firstOccurrence: 0b000,
  lastOccurrence: 0b001,
  nextOccurrence: 0b010,
  previousOccurrence: 0b011,
  recordNumber: 0b100,
  fromP1ToLast: 0b101,
  fromLastToP1: 0b110,
} as const;
export type ReadRecordMode = keyof typeof READ_RECORD_MODES;

/** Options shared by the READ RECORD builders. */
export interface ReadRecordOptions {
  /** SFI 1–30, or 0 (default) for the current EF. */
  readonly sfi?: number;
  /** Expected length Ne, 1–256. */
  readonly le?: number;
}

/**
 * Generic READ RECORD `00 B2 P1 P2 Le`, P2 = SFI << 3 | mode [P5 §6.9; P3 §5.3].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on SFI > 30, P1 > FF or Le outside 1–256.
 */
export function readRecord(p1: number, mode: ReadRecordMode, options: ReadRecordOptions = {}): CommandApdu {
  const sfi = options.sfi ?? 0;
  byteParam(p1, 'p1');
  byteParam(sfi, 'sfi', 0, 30);
  const le = options.le ?? 256;
  byteParam(le, 'le', 1, 256);
  return cmd(0x00, 0xb2, p1, (sfi << 3) | READ_RECORD_MODES[mode], undefined, le);
}

/**
 * READ RECORD of an item by its tag (record identifier, P2 mode `000`), after selecting the EF;
 * Le defaults to the item's defined length + 2, e.g. `00 B2 09 00 20` for the name [ssc-card §5.2].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on a tag outside 01–FE, and as {@link readRecord}.
 */
export function readRecordByTag(tag: number, options: ReadRecordOptions & { readonly occurrence?: 'first' | 'last' | 'next' | 'previous' } = {}): CommandApdu {
  byteParam(tag, 'tag', 1, 0xfe);
  const d = dataItemByTag(tag);
  const le = options.le ?? (d !== undefined ? d.length + 2 : 256);
  const mode = (`${options.occurrence ?? 'first'}Occurrence`) as ReadRecordMode;
  return readRecord(tag, mode, { sfi: options.sfi ?? 0, le });
}

/**
 * READ RECORD by record number (P2 mode `100`), e.g. `00 B2 07 2C 0B` = record 7 of SFI 5.
 * Record 0 means the current record.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on a record over FF, and as {@link readRecord}.
 */
export function readRecordByNumber(record: number, options: ReadRecordOptions = {}): CommandApdu {
  return readRecord(record, 'recordNumber', options);
}

/** Options of {@link readBinary}. */
export interface ReadBinaryOptions {
  /** SFI 1–30: P1 = 80 | SFI, P2 = offset (0–255). Without it, P1P2 = 15-bit offset in the current EF. */
  readonly sfi?: number;
  readonly offset?: number;
  /** Ne, 1–256. */
  readonly le: number;
}

/**
 * READ BINARY `00 B0 P1 P2 Le` [7816-4 §7.2.3], e.g. `00 B0 95 00 1E` (SFI 15) or `00 B0 96 00 06`.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on SFI outside 1–30, offset out of range, or Le outside 1–256.
 */
export function readBinary(options: ReadBinaryOptions): CommandApdu {
  const offset = options.offset ?? 0;
  byteParam(options.le, 'le', 1, 256);
  if (options.sfi !== undefined) {
    byteParam(options.sfi, 'sfi', 1, 30);
    byteParam(offset, 'offset', 0, 0xff);
    return cmd(0x00, 0xb0, 0x80 | options.sfi, offset, undefined, options.le);
  }
  byteParam(offset, 'offset', 0, 0x7fff);
  return cmd(0x00, 0xb0, offset >> 8, offset & 0xff, undefined, options.le);
}

/**
 * GET CHALLENGE `00 84 00 00 04|08|10` [P5 §6.5].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` for another length.
 */
export function getChallenge(length: 4 | 8 | 16 = 8): CommandApdu {
  param(length === 4 || length === 8 || length === 16, 'length must be 4, 8 or 16', 'length');
  return cmd(0x00, 0x84, 0x00, 0x00, undefined, length);
}

/**
 * GET RESPONSE `00 C0 00 00 xx` after `61 xx` [7816-3 §10.3.1]; 256 is sent as `00`.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` when `length` is outside 1–256.
 */
export function getResponse(length: number, cla = 0x00): CommandApdu {
  byteParam(length, 'length', 1, 256);
  byteParam(cla, 'cla');
  return cmd(cla, 0xc0, 0x00, 0x00, undefined, length);
}

/**
 * INTERNAL AUTHENTICATE `00 88 00 00 10|11 R1 ‖ R2 [‖ key version] 00` [P5 §6.7; P7 §5.4]:
 * R1 is the session-key input, R2 the original data.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` unless R1 and R2 are 8 bytes each and the key version a byte.
 */
export function internalAuthenticate(r1: Uint8Array, r2: Uint8Array, keyVersion?: number): CommandApdu {
  lenParam(r1, [8], 'r1');
  lenParam(r2, [8], 'r2');
  if (keyVersion !== undefined) byteParam(keyVersion, 'keyVersion');
  const data = keyVersion === undefined ? concat(r1, r2) : concat(r1, r2, Uint8Array.of(keyVersion));
  return cmd(0x00, 0x88, 0x00, 0x00, data, 256);
}

/**
 * EXTERNAL AUTHENTICATE `00 82 00 keyId 10|11 auth ‖ original [‖ key version]` [P5 §6.4; P7 §6.2],
 * e.g. key `0A` (RKSSSE) before EF06 on 3.0 cards. P2 b8 = specific reference data (P5 table 14).
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` unless both blocks are 8 bytes and keyId a byte.
 */
export function externalAuthenticate(keyId: number, authData: Uint8Array, original: Uint8Array, keyVersion?: number): CommandApdu {
  byteParam(keyId, 'keyId');
  lenParam(authData, [8], 'authData');
  lenParam(original, [8], 'original');
  if (keyVersion !== undefined) byteParam(keyVersion, 'keyVersion');
  const data = keyVersion === undefined ? concat(authData, original) : concat(authData, original, Uint8Array.of(keyVersion));
  return cmd(0x00, 0x82, 0x00, keyId, data);
}

/**
 * Encodes a PIN as `cn`: BCD, an odd digit count padded with a final `F` nibble [P5 §6.3.1].
 * @throws ProtocolError `PROTO_ERR_SSC_PIN_FORMAT` unless 4–16 decimal digits. The PIN never
 * appears in the error.
 */
export function encodePin(pin: string): Uint8Array {
  if (!/^[0-9]{4,16}$/.test(pin)) throw new ProtocolError('PROTO_ERR_SSC_PIN_FORMAT', undefined, { field: 'pin' });
  const out = new Uint8Array(Math.ceil(pin.length / 2)).fill(0xff);
  for (let i = 0; i < pin.length; i++) {
    const d = pin.charCodeAt(i) - 48;
    out[i >> 1] = i % 2 === 0 ? (d << 4) | 0x0f : (out[i >> 1]! & 0xf0) | d;
  }
  return out;
}

/**
 * VERIFY `00 20 00 00 Lc PIN` [P5 §6.14]; without a PIN, the empty probe `00 20 00 00` (P3 `00`):
 * `9000` = no PIN set, `63Cx` = PIN set.
 * @throws ProtocolError `PROTO_ERR_SSC_PIN_FORMAT` on a bad PIN.
 */
export function verifyPin(pin?: string): CommandApdu {
  if (pin === undefined) return cmd(0x00, 0x20, 0x00, 0x00);
  return cmd(0x00, 0x20, 0x00, 0x00, encodePin(pin));
}

/**
 * CHANGE PIN by the holder, in clear: `80 5E 01 00 Lc old ‖ FF ‖ new` [P5 §6.3].
 * @throws ProtocolError `PROTO_ERR_SSC_PIN_FORMAT` on a bad PIN.
 */
export function changePin(oldPin: string, newPin: string): CommandApdu {
  return cmd(0x80, 0x5e, 0x01, 0x00, concat(encodePin(oldPin), Uint8Array.of(0xff), encodePin(newPin)));
}

/**
 * PIN UNBLOCK with secure messaging `84 24 00 00 04 MAC` (resets the try counter) [P5 §6.8].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` unless the MAC is 4 bytes.
 */
export function pinUnblock(mac: Uint8Array): CommandApdu {
  lenParam(mac, [4], 'mac');
  return cmd(0x84, 0x24, 0x00, 0x00, mac);
}

/**
 * PIN CHANGE/RELOAD with secure messaging `84 24 00 01 0C|14 cryptogram ‖ MAC` [P5 §6.8; ssc-card §7.9].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` unless the cryptogram is 8 or 16 bytes and the MAC 4.
 */
export function pinReload(cryptogram: Uint8Array, mac: Uint8Array): CommandApdu {
  lenParam(cryptogram, [8, 16], 'cryptogram');
  lenParam(mac, [4], 'mac');
  return cmd(0x84, 0x24, 0x00, 0x01, concat(cryptogram, mac));
}

/**
 * Plaintext PIN block of `84 24 00 01` before encryption: LD ‖ PIN (cn) ‖ `80 00…` to a multiple
 * of `blockSize`; no padding when already aligned [P4 §8.3; ssc-card §7.4, §7.9].
 * Example: PIN 123456, DES family → `03 12 34 56 80 00 00 00`. An empty PIN clears the PIN [P5 §6.8.3].
 * @throws ProtocolError `PROTO_ERR_SSC_PIN_FORMAT`, or `PROTO_ERR_SSC_PARAM` on a block size not 8/16.
 */
export function pinBlockPlaintext(pin: string, blockSize: 8 | 16): Uint8Array {
  param(blockSize === 8 || blockSize === 16, 'block size must be 8 or 16', 'blockSize');
  const p = pin === '' ? new Uint8Array(0) : encodePin(pin);
  const raw = concat(Uint8Array.of(p.length), p);
  if (raw.length % blockSize === 0) return raw;
  const out = new Uint8Array(Math.ceil((raw.length + 1) / blockSize) * blockSize);
  out.set(raw);
  out[raw.length] = 0x80;
  return out;
}

/**
 * MAC input of a secure-messaging command: header `CLA INS P1 P2 Lc` (Lc counting the 4 MAC bytes)
 * ‖ data ‖ `80 00…` to a multiple of `blockSize`, always adding padding (ISO/IEC 9797-1 method 2)
 * [P4 §8.2.4; ssc-card §7.2, §7.3]. E.g. unblock, DES: `84 24 00 00 04 80 00 00`.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on a bad block size or data over 251 bytes.
 */
export function secureMessagingMacInput(header: { cla: number; ins: number; p1: number; p2: number }, data: Uint8Array, blockSize: 8 | 16): Uint8Array {
  param(blockSize === 8 || blockSize === 16, 'block size must be 8 or 16', 'blockSize');
  param(data.length <= 251, 'data too long', 'data');
  const raw = concat(Uint8Array.of(header.cla, header.ins, header.p1, header.p2, data.length + 4), data);
  const out = new Uint8Array((Math.floor(raw.length / blockSize) + 1) * blockSize);
  out.set(raw);
  out[raw.length] = 0x80;
  return out;
}

/**
 * APPLICATION BLOCK `84 1E 00 01 04 MAC` [P7 §13].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` unless the MAC is 4 bytes.
 */
export function applicationBlock(mac: Uint8Array): CommandApdu {
  lenParam(mac, [4], 'mac');
  return cmd(0x84, 0x1e, 0x00, 0x01, mac);
}

/**
 * CARD BLOCK `84 16 00 00 04 MAC` [P7 §13].
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` unless the MAC is 4 bytes.
 */
export function cardBlock(mac: Uint8Array): CommandApdu {
  lenParam(mac, [4], 'mac');
  return cmd(0x84, 0x16, 0x00, 0x00, mac);
}

// ---------------------------------------------------------------------------------------------
// Response parsers

/** A decoded FCI [P5 table 36]. */
export interface Fci {
  /** `84` DF name / AID. */
  readonly dfName: Uint8Array;
  /** `88` SFI of the DIR file, when present. */
  readonly dirSfi?: number;
  /** `9F0C` issuer discretionary data, when present. */
  readonly issuerDiscretionary?: Uint8Array;
  /** `9F08` application version (transit FCI), when present. */
  readonly applicationVersion?: number;
  /** `86` inside `9F0C`: algorithm environment (1 DES, 2 SSF33, 3 SM4), when present [SC-IF §10.1]. */
  readonly algorithm?: number;
}

/**
 * Parses the FCI returned by SELECT: `6F { 84 name, A5 { 88 SFI, 9F0C { 86 algorithm } } }`.
 * @throws ProtocolError `PROTO_ERR_SSC_TLV_TRUNCATED` / `PROTO_ERR_SSC_TLV_MALFORMED` on bad TLV
 * or trailing bytes, `PROTO_ERR_SSC_FCI` when `6F` or `84` is missing or `88`/`86` is not 1 byte.
 */
export function parseFci(data: Uint8Array): Fci {
  const top = decodeBerTlvs(data);
  const fci = top[0];
  if (fci === undefined || fci.tag !== 0x6f || fci.children === undefined) throw new ProtocolError('PROTO_ERR_SSC_FCI', 'no 6F template', { field: '6F' });
  if (top.length !== 1) throw new ProtocolError('PROTO_ERR_SSC_TLV_MALFORMED', 'bytes after the FCI template', { field: '6F' });
  const name = findTlv(fci.children, 0x84);
  if (name === undefined) throw new ProtocolError('PROTO_ERR_SSC_FCI', 'no DF name (84)', { field: '84' });
  const out: { -readonly [K in keyof Fci]: Fci[K] } = { dfName: name.value };
  const a5 = findTlv(fci.children, 0xa5);
  if (a5?.children !== undefined) {
    const sfi = findTlv(a5.children, 0x88);
    if (sfi !== undefined) {
      if (sfi.value.length !== 1) throw new ProtocolError('PROTO_ERR_SSC_FCI', '88 must be 1 byte', { field: '88' });
      out.dirSfi = sfi.value[0]!;
    }
    const ver = findTlv(a5.children, 0x9f08);
    if (ver !== undefined && ver.value.length === 1) out.applicationVersion = ver.value[0]!;
    const idd = findTlv(a5.children, 0x9f0c);
    if (idd !== undefined) {
      out.issuerDiscretionary = idd.value;
      const alg = tryAlgorithm(idd.value);
      if (alg !== undefined) out.algorithm = alg;
    }
  }
  return out;
}

/** `86 01 xx` inside the issuer discretionary data, when it parses as BER-TLV. */
function tryAlgorithm(idd: Uint8Array): number | undefined {
  let list;
  try {
    list = decodeBerTlvs(idd);
  } catch {
    return undefined; // 9F0C of a transit FCI is the raw public-information file, not TLV
  }
  const t = findTlv(list, 0x86);
  if (t === undefined) return undefined;
  if (t.value.length !== 1) throw new ProtocolError('PROTO_ERR_SSC_FCI', '86 must be 1 byte', { field: '86' });
  return t.value[0]!;
}

/**
 * The SSSE algorithm environment: FCI `86` if present, else region `11…` ⇒ SSF33, any other ⇒ DES
 * [SC-IF §10.1].
 */
export function resolveAlgorithm(fci: Fci, regionCode: string): number {
  if (fci.algorithm !== undefined) return fci.algorithm;
  return regionCode.startsWith('11') ? SSC_ALGORITHMS.SSF33 : SSC_ALGORITHMS.DES;
}

/**
 * Parses a READ RECORD response holding exactly one item record `tag len value`.
 * @throws ProtocolError `PROTO_ERR_SSC_TLV_TRUNCATED` / `PROTO_ERR_SSC_TLV_MALFORMED` on bad TLV,
 * `PROTO_ERR_SSC_RESPONSE_LENGTH` when not exactly one record, `PROTO_ERR_SSC_ITEM_UNKNOWN` when
 * `expectedTag` is given and differs.
 */
export function parseRecordResponse(data: Uint8Array, expectedTag?: number): SimpleTlv {
  const list = decodeSimpleTlvs(data);
  const first = list[0];
  if (first === undefined || list.length !== 1) throw new ProtocolError('PROTO_ERR_SSC_RESPONSE_LENGTH', 'expected exactly one record', { field: 'record', count: list.length });
  if (expectedTag !== undefined && first.tag !== expectedTag) {
    throw new ProtocolError('PROTO_ERR_SSC_ITEM_UNKNOWN', 'record has another tag', { field: 'tag', tag: first.tag, expected: expectedTag });
  }
  return first;
}

/**
 * Parses a whole-file READ RECORD response (`00 B2 01 05 …`): records concatenated [CMD-DOC].
 * Throws as {@link decodeSimpleTlvs}.
 */
export function parseRecordsResponse(data: Uint8Array): SimpleTlv[] {
  return decodeSimpleTlvs(data);
}

/**
 * Parses a GET CHALLENGE response.
 * @throws ProtocolError `PROTO_ERR_SSC_RESPONSE_LENGTH` when not `expected` bytes.
 */
export function parseChallenge(data: Uint8Array, expected: 4 | 8 | 16 = 8): Uint8Array {
  if (data.length !== expected) throw new ProtocolError('PROTO_ERR_SSC_RESPONSE_LENGTH', `challenge must be ${expected} bytes`, { field: 'challenge', length: data.length });
  return data.slice();
}

/**
 * Parses the INTERNAL AUTHENTICATE response: 8 bytes of authentication data [P5 §6.7].
 * @throws ProtocolError `PROTO_ERR_SSC_RESPONSE_LENGTH` when not 8 bytes.
 */
export function parseInternalAuthenticate(data: Uint8Array): Uint8Array {
  if (data.length !== 8) throw new ProtocolError('PROTO_ERR_SSC_RESPONSE_LENGTH', 'authentication data must be 8 bytes', { field: 'authData', length: data.length });
  return data.slice();
}

/** What a `63Cx` / `6983` SW says about a PIN or key try counter [P5 §6.14]. */
export type TryCounterStatus = { readonly kind: 'ok' } | { readonly kind: 'wrong'; readonly triesLeft: number } | { readonly kind: 'locked' } | { readonly kind: 'other' };

/** Interprets the SW of VERIFY / CHANGE PIN / EXTERNAL AUTHENTICATE: `9000`, `63Cx`, `63C0`/`6983` locked. */
export function tryCounterStatus(sw: number): TryCounterStatus {
  if (sw === 0x9000) return { kind: 'ok' };
  if (sw === 0x6983 || sw === 0x63c0) return { kind: 'locked' };
  if ((sw & 0xfff0) === 0x63c0) return { kind: 'wrong', triesLeft: sw & 0x0f };
  return { kind: 'other' };
}
