/**
 * Answer-to-Reset decoding and encoding (ISO/IEC 7816-3 §8). `decodeAtr` reads TS, T0, every
 * interface-byte group, the historical bytes and TCK, then derives what a terminal needs: offered
 * protocols, Fi/Di/f max, specific or negotiable mode, guard time, T=0 WI, the T=1 parameters and the
 * T=15 global bytes. In lenient mode (the default) every deviation becomes a coded finding and the
 * result holds everything that could be read; strict mode throws the first error finding.
 * `encodeAtr` builds an ATR from the same fields, computing T0, the TDi high nibbles and TCK.
 */
import { ProtocolError } from '../errors.ts';
import { ATR_ERRORS } from './atr-error-codes.ts';
import { decodeHistoricalBytes, type HistoricalBytes } from './historical-bytes.ts';

/** Maximum ATR length, TS included. [7816-3 §8.2.1] */
export const MAX_ATR_LENGTH = 33;

/** Fi by TA1 high nibble; `null` = RFU. [7816-3 §8.3 table 7] */
export const FI_TABLE: readonly (number | null)[] = [372, 372, 558, 744, 1116, 1488, 1860, null, null, 512, 768, 1024, 1536, 2048, null, null];
/** f max in MHz by TA1 high nibble; `null` = RFU. [7816-3 §8.3 table 7] */
export const FMAX_MHZ_TABLE: readonly (number | null)[] = [4, 5, 6, 8, 12, 16, 20, null, null, 5, 7.5, 10, 15, 20, null, null];
/** Di by TA1 low nibble; `null` = RFU. [7816-3 §8.3 table 8] */
export const DI_TABLE: readonly (number | null)[] = [null, 1, 2, 4, 8, 16, 32, 64, 12, 20, null, null, null, null, null, null];

export type AtrErrorCode = keyof typeof ATR_ERRORS;

/** One problem found in an ATR. `error` makes the ATR invalid (and strict mode throw); `warning` does not. */
export interface AtrFinding {
  readonly code: AtrErrorCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** Field name, e.g. `TS`, `TA2`, `TCK`, `historical`. */
  readonly field?: string;
  /** Byte offset in the ATR (TS = 0). */
  readonly offset?: number;
}

/**
 * Interface bytes of group i: TAi, TBi, TCi and the protocol T of TDi. The TDi high nibble is not
 * stored; it is implied by the presence of the next group.
 */
export interface AtrGroup {
  readonly ta?: number;
  readonly tb?: number;
  readonly tc?: number;
  /** Low nibble of TDi; present iff TDi is present. */
  readonly t?: number;
}

/** Everything needed to rebuild an ATR byte for byte; the input of {@link encodeAtr}. */
export interface AtrFields {
  /** `3B` direct or `3F` inverse convention (any byte is accepted, for fault injection). */
  readonly ts: number;
  /** Group 1 (TA1..TD1) first; always at least one group, which may be empty. */
  readonly groups: readonly AtrGroup[];
  /** T1..TK, at most 15 bytes. */
  readonly historicalBytes: Uint8Array;
  /**
   * Omitted: TCK written iff required, computed. A number: this TCK byte is written (even when not
   * required or wrong). `null`: no TCK even when required.
   */
  readonly tck?: number | null;
  /** Surplus bytes after the ATR (decoder output for non-conforming ATRs; for fault injection). */
  readonly trailing?: Uint8Array;
}

/** TCK status. [7816-3 §8.2.5] `absent`: not required and not there; the others as named. */
export type TckStatus = 'ok' | 'bad' | 'missing' | 'unexpected' | 'absent';

export interface AtrTck {
  readonly status: TckStatus;
  /** True when TCK is required (some TDi indicates a protocol other than T=0). */
  readonly required: boolean;
  readonly present: boolean;
  /** True for `ok` and `absent`. */
  readonly valid: boolean;
  /** The TCK byte, when present. */
  readonly value?: number;
  /** The TCK that would make the check pass, when the ATR is complete. */
  readonly expected?: number;
}

/** TA2, the specific-mode byte. [7816-3 §8.3] */
export interface AtrSpecificMode {
  /** The only protocol allowed (TA2 low nibble). */
  readonly protocol: number;
  /** b8 = 0: the card can change to negotiable mode (e.g. after a warm reset). */
  readonly canChangeMode: boolean;
  /** b5 = 1: transmission parameters are implicit, TA1 does not apply. */
  readonly implicitParameters: boolean;
}

/** T=1 parameters, from the first TAi/TBi/TCi after a TD indicating T=1, i >= 3. [7816-3 §11.4] */
export interface AtrT1Parameters {
  /** IFSC, default 32. The raw value (00 and FF are reported as findings, not changed). */
  readonly ifsc: number;
  readonly bwi: number;
  readonly cwi: number;
  readonly edc: 'lrc' | 'crc';
  /** Which values came from the ATR (false = default). */
  readonly explicit: { readonly ifsc: boolean; readonly bwi: boolean; readonly edc: boolean };
}

/** T=15 global bytes. [7816-3 §8.3] */
export interface AtrGlobalT15 {
  /** Clock stop indicator XI (first TAi after T=15, bits 8-7). */
  readonly clockStop?: 'not-supported' | 'state-L' | 'state-H' | 'no-preference';
  /** Class indicator UI (bits 6-1): supported classes A (5 V), B (3 V), C (1.8 V). */
  readonly classes?: readonly ('A' | 'B' | 'C')[];
  /** UI raw value. */
  readonly ui?: number;
  /** SPU (first TBi after T=15), raw. */
  readonly spu?: number;
}

/** The decoded ATR. */
export interface Atr {
  readonly bytes: Uint8Array;
  /** No error findings. */
  readonly valid: boolean;
  readonly findings: readonly AtrFinding[];
  /** False when the ATR ended before a byte announced by T0/TDi. */
  readonly complete: boolean;
  readonly convention: 'direct' | 'inverse' | 'unknown';
  /** Raw fields; `encodeAtr(atr.fields)` gives back `atr.bytes` for every complete ATR of at most 33 bytes. */
  readonly fields: AtrFields;
  /** K from T0 (may exceed the bytes actually present when truncated). */
  readonly historicalLength: number;
  readonly historicalBytes: Uint8Array;
  /** Decoded historical bytes, when they follow ISO/IEC 7816-4 (otherwise a warning finding). */
  readonly historical?: HistoricalBytes;
  readonly tck: AtrTck;
  /** Offered protocols, ascending and unique (T=15 included when indicated). */
  readonly protocols: readonly number[];
  /** T of TD1, or 0 without TD1. [7816-3 §8.2.3] */
  readonly defaultProtocol: number;
  /** TA1 or its default `11`. */
  readonly ta1: number;
  readonly fi: number | null;
  readonly di: number | null;
  readonly fmaxMHz: number | null;
  /** TA2 present: specific mode; absent: negotiable. */
  readonly specificMode?: AtrSpecificMode;
  /** TC1 = N: extra guard time in etu; N = 255 means the minimum guard time (12 etu T=0, 11 etu T=1). */
  readonly extraGuardTime: { readonly n: number; readonly minimum: boolean };
  /** T=0 waiting time integer WI (TC2, default 10); present when T=0 is offered. */
  readonly t0?: { readonly wi: number };
  /** T=1 parameters; present when T=1 is offered. */
  readonly t1?: AtrT1Parameters;
  /** T=15 global bytes; present when T=15 TAi/TBi exist (i >= 3). */
  readonly global?: AtrGlobalT15;
}

export type AtrMode = 'lenient' | 'strict';


const NAMES = ['A', 'B', 'C', 'D'] as const;

/**
 * Decodes an ATR. Lenient mode (default) never throws: problems are findings and the result holds
 * everything read. Strict mode throws the first finding of severity `error`.
 * @throws ProtocolError (strict mode only) `PROTO_ERR_ATR_TRUNCATED`, `PROTO_ERR_ATR_TS`,
 *   `PROTO_ERR_ATR_TOO_LONG`, `PROTO_ERR_ATR_TCK_MISSING`, `PROTO_ERR_ATR_TCK_BAD`,
 *   `PROTO_ERR_ATR_TCK_UNEXPECTED`, `PROTO_ERR_ATR_TRAILING`, `PROTO_ERR_ATR_FI_RFU`,
 *   `PROTO_ERR_ATR_DI_RFU`, `PROTO_ERR_ATR_T15_IN_TD1`, `PROTO_ERR_ATR_IFSC`, `PROTO_ERR_ATR_BWI`,
 *   `PROTO_ERR_ATR_WI`.
 */
export function decodeAtr(bytes: Uint8Array, options: { readonly mode?: AtrMode } = {}): Atr {
  const atr = analyse(bytes);
  if (options.mode === 'strict') {
    const first = atr.findings.find((f) => f.severity === 'error');
    if (first !== undefined) {
      const details: Record<string, string | number> = {};
      if (first.field !== undefined) details['field'] = first.field;
      if (first.offset !== undefined) details['offset'] = first.offset;
      throw new ProtocolError(first.code, first.message, details);
    }
  }
  return atr;
}

function analyse(input: Uint8Array): Atr {
  const bytes = input.slice();
  const n = bytes.length;
  const findings: AtrFinding[] = [];
  const add = (code: AtrErrorCode, severity: AtrFinding['severity'], message: string, field?: string, offset?: number): void => {
    const f: { code: AtrErrorCode; severity: AtrFinding['severity']; message: string; field?: string; offset?: number } = { code, severity, message };
    if (field !== undefined) f.field = field;
    if (offset !== undefined) f.offset = offset;
    findings.push(f);
  };

  // [7816-3 §8.1] TS: 3B direct, 3F inverse convention
  const ts = bytes[0];
  let convention: Atr['convention'] = 'unknown';
  if (ts === undefined) {
    add('PROTO_ERR_ATR_TRUNCATED', 'error', 'empty ATR, TS missing', 'TS', 0);
  } else if (ts === 0x3b) convention = 'direct';
  else if (ts === 0x3f) convention = 'inverse';
  else {
    const hint = ts === 0x03 ? ' (an inverse-convention ATR not yet converted?)' : '';
    add('PROTO_ERR_ATR_TS', 'error', `TS = ${h2(ts)}${hint}`, 'TS', 0);
  }

  const groups: AtrGroup[] = [];
  let complete = ts !== undefined;
  let pos = 1;
  let k = 0;
  const t0 = bytes[1];
  if (ts !== undefined && t0 === undefined) {
    add('PROTO_ERR_ATR_TRUNCATED', 'error', 'T0 missing', 'T0', 1);
    complete = false;
  }
  if (t0 !== undefined) {
    k = t0 & 0x0f;
    pos = 2;
    let y = t0 >> 4;
    // [7816-3 §8.2.2] each Y nibble announces TAi, TBi, TCi, TDi; TDi's high nibble is the next Y
    for (let i = 1; complete; i++) {
      const g: { ta?: number; tb?: number; tc?: number; t?: number } = {};
      let td: number | undefined;
      for (let bit = 0; bit < 4; bit++) {
        if ((y & (1 << bit)) === 0) continue;
        const b = bytes[pos];
        if (b === undefined) {
          add('PROTO_ERR_ATR_TRUNCATED', 'error', `T${NAMES[bit]}${i} missing`, `T${NAMES[bit]}${i}`, pos);
          complete = false;
          break;
        }
        pos++;
        if (bit === 0) g.ta = b;
        else if (bit === 1) g.tb = b;
        else if (bit === 2) g.tc = b;
        else {
          td = b;
          g.t = b & 0x0f;
        }
      }
      groups.push(g);
      if (td === undefined || !complete) break;
      y = td >> 4;
      if (y === 0) break;
    }
  }
  if (groups.length === 0) groups.push({});

  // historical bytes
  let historicalBytes = new Uint8Array(0);
  const histStart = pos;
  if (complete) {
    if (n - pos < k) {
      add('PROTO_ERR_ATR_TRUNCATED', 'error', `${k} historical bytes announced, ${n - pos} present`, 'historical', pos);
      historicalBytes = bytes.slice(pos, n);
      pos = n;
      complete = false;
    } else {
      historicalBytes = bytes.slice(pos, pos + k);
      pos += k;
    }
  }

  // [7816-3 §8.2.5] TCK present iff any TDi indicates T != 0 (any, not only the last TD)
  const tckRequired = groups.some((g) => g.t !== undefined && g.t !== 0);
  let tck: AtrTck;
  let fieldTck: number | null | undefined;
  let trailing: Uint8Array | undefined;
  const xorFrom1 = (end: number): number => {
    let x = 0;
    for (let j = 1; j < end; j++) x ^= bytes[j]!;
    return x;
  };
  if (!complete) {
    tck = { status: tckRequired ? 'missing' : 'absent', required: tckRequired, present: false, valid: !tckRequired };
  } else {
    const rest = n - pos;
    const expected = xorFrom1(pos);
    if (tckRequired) {
      if (rest === 0) {
        add('PROTO_ERR_ATR_TCK_MISSING', 'error', 'TCK required but the ATR ends after the historical bytes', 'TCK', pos);
        tck = { status: 'missing', required: true, present: false, valid: false, expected };
        fieldTck = null;
      } else {
        const value = bytes[pos]!;
        const ok = value === expected;
        if (!ok) add('PROTO_ERR_ATR_TCK_BAD', 'error', `TCK = ${h2(value)}, expected ${h2(expected)}`, 'TCK', pos);
        tck = { status: ok ? 'ok' : 'bad', required: true, present: true, valid: ok, value, expected };
        if (!ok) fieldTck = value;
        if (rest > 1) {
          trailing = bytes.slice(pos + 1);
          add('PROTO_ERR_ATR_TRAILING', 'error', `${rest - 1} byte(s) after TCK`, 'trailing', pos + 1);
        }
      }
    } else if (rest === 1) {
      const value = bytes[pos]!;
      add('PROTO_ERR_ATR_TCK_UNEXPECTED', 'error', `byte ${h2(value)} after the historical bytes of a T=0-only ATR`, 'TCK', pos);
      tck = { status: 'unexpected', required: false, present: true, valid: false, value, expected };
      fieldTck = value;
    } else {
      tck = { status: 'absent', required: false, present: false, valid: true };
      if (rest > 1) {
        trailing = bytes.slice(pos);
        add('PROTO_ERR_ATR_TRAILING', 'error', `${rest} byte(s) after the historical bytes`, 'trailing', pos);
      }
    }
  }
  // [7816-3 §8.2.1] at most 33 bytes
  if (n > MAX_ATR_LENGTH) add('PROTO_ERR_ATR_TOO_LONG', 'error', `${n} bytes`, 'ATR', MAX_ATR_LENGTH);

  // protocols [7816-3 §8.2.3]
  const indicated = groups.flatMap((g) => (g.t === undefined ? [] : [g.t]));
  const g1 = groups[0]!;
  const protocols = g1.t === undefined ? [0] : [...new Set(indicated)].sort((a, b) => a - b);
  const defaultProtocol = g1.t ?? 0;
  if (g1.t === 15) add('PROTO_ERR_ATR_T15_IN_TD1', 'error', 'TD1 indicates T=15', 'TD1');
  for (let j = 1; j < indicated.length; j++) {
    if (indicated[j]! < indicated[j - 1]!) {
      add('PROTO_ERR_ATR_PROTOCOL_ORDER', 'warning', `T=${indicated[j]} after T=${indicated[j - 1]}`, `TD${j + 1}`);
      break;
    }
  }

  // TA1: Fi, Di [7816-3 §8.3 tables 7, 8]
  const ta1 = g1.ta ?? 0x11;
  const fi = FI_TABLE[ta1 >> 4] ?? null;
  const di = DI_TABLE[ta1 & 0x0f] ?? null;
  const fmaxMHz = FMAX_MHZ_TABLE[ta1 >> 4] ?? null;
  if (fi === null) add('PROTO_ERR_ATR_FI_RFU', 'error', `TA1 = ${h2(ta1)}: Fi code ${(ta1 >> 4).toString(16).toUpperCase()} is RFU`, 'TA1');
  if (di === null) add('PROTO_ERR_ATR_DI_RFU', 'error', `TA1 = ${h2(ta1)}: Di code ${(ta1 & 15).toString(16).toUpperCase()} is RFU`, 'TA1');

  // TC1: extra guard time N; 255 = minimum guard time [7816-3 §8.3]
  const tc1 = g1.tc ?? 0;
  const g2 = groups[1];

  const result: {
    -readonly [K in keyof Atr]: Atr[K];
  } = {
    bytes,
    valid: true,
    findings,
    complete,
    convention,
    fields: buildFields(ts ?? 0, groups, historicalBytes, fieldTck, trailing),
    historicalLength: k,
    historicalBytes,
    tck,
    protocols,
    defaultProtocol,
    ta1,
    fi,
    di,
    fmaxMHz,
    extraGuardTime: { n: tc1, minimum: tc1 === 255 },
  };

  // TA2: specific mode [7816-3 §8.3]
  if (g2?.ta !== undefined) {
    result.specificMode = { protocol: g2.ta & 0x0f, canChangeMode: (g2.ta & 0x80) === 0, implicitParameters: (g2.ta & 0x10) !== 0 };
  }
  // TC2: WI for T=0 [7816-3 §10.2]
  if (protocols.includes(0)) {
    const wi = g2?.tc ?? 10;
    if (wi === 0) add('PROTO_ERR_ATR_WI', 'error', 'TC2 = 00', 'TC2');
    result.t0 = { wi };
  }
  // T=1 bytes: first TAi/TBi/TCi after a TD indicating T=1, i >= 3 [7816-3 §11.4]
  if (protocols.includes(1)) {
    const first = firstAfter(groups, 1);
    const ifsc = first.ta ?? 32;
    const bwi = first.tb === undefined ? 4 : first.tb >> 4;
    const cwi = first.tb === undefined ? 13 : first.tb & 0x0f;
    if (first.ta === 0x00 || first.ta === 0xff) add('PROTO_ERR_ATR_IFSC', 'error', `IFSC = ${h2(first.ta)}`, `TA${first.taIndex}`);
    if (bwi > 9) add('PROTO_ERR_ATR_BWI', 'error', `BWI = ${bwi}`, `TB${first.tbIndex}`);
    result.t1 = {
      ifsc,
      bwi,
      cwi,
      edc: first.tc !== undefined && (first.tc & 1) === 1 ? 'crc' : 'lrc',
      explicit: { ifsc: first.ta !== undefined, bwi: first.tb !== undefined, edc: first.tc !== undefined },
    };
  }
  // T=15 global bytes: first TAi (XI, UI) and TBi (SPU) after T=15, i >= 3 [7816-3 §8.3]
  const glob = firstAfter(groups, 15);
  if (glob.ta !== undefined || glob.tb !== undefined) {
    const g: { -readonly [K in keyof AtrGlobalT15]: AtrGlobalT15[K] } = {};
    if (glob.ta !== undefined) {
      g.clockStop = (['not-supported', 'state-L', 'state-H', 'no-preference'] as const)[glob.ta >> 6]!;
      g.ui = glob.ta & 0x3f;
      g.classes = (['A', 'B', 'C'] as const).filter((_, j) => (glob.ta! & (1 << j)) !== 0);
    }
    if (glob.tb !== undefined) g.spu = glob.tb;
    result.global = g;
  }

  // historical bytes [7816-4 §8.1.1]; not following the standard is only a warning
  if (historicalBytes.length > 0 && complete) {
    try {
      result.historical = decodeHistoricalBytes(historicalBytes);
    } catch (err) {
      if (!(err instanceof ProtocolError) || !isAtrCode(err.code)) throw err;
      const off = typeof err.details['offset'] === 'number' ? histStart + err.details['offset'] : undefined;
      add(err.code, 'warning', `historical bytes: ${err.message}`, 'historical', off);
    }
  } else if (complete) {
    result.historical = { kind: 'empty' };
  }

  result.valid = !findings.some((f) => f.severity === 'error');
  return result;
}

function isAtrCode(code: string): code is AtrErrorCode {
  return Object.hasOwn(ATR_ERRORS, code);
}

function firstAfter(groups: readonly AtrGroup[], t: number): { ta?: number; tb?: number; tc?: number; taIndex?: number; tbIndex?: number } {
  const out: { ta?: number; tb?: number; tc?: number; taIndex?: number; tbIndex?: number } = {};
  // group index j (0-based) is group i = j + 1; it follows TD(i-1) = groups[j-1]
  for (let j = 2; j < groups.length; j++) {
    if (groups[j - 1]!.t !== t) continue;
    const g = groups[j]!;
    if (out.ta === undefined && g.ta !== undefined) {
      out.ta = g.ta;
      out.taIndex = j + 1;
    }
    if (out.tb === undefined && g.tb !== undefined) {
      out.tb = g.tb;
      out.tbIndex = j + 1;
    }
    if (out.tc === undefined && g.tc !== undefined) out.tc = g.tc;
  }
  return out;
}

function buildFields(ts: number, groups: AtrGroup[], historicalBytes: Uint8Array, tck: number | null | undefined, trailing: Uint8Array | undefined): AtrFields {
  const f: { ts: number; groups: AtrGroup[]; historicalBytes: Uint8Array; tck?: number | null; trailing?: Uint8Array } = { ts, groups, historicalBytes };
  if (tck !== undefined) f.tck = tck;
  if (trailing !== undefined) f.trailing = trailing;
  return f;
}

/**
 * Builds an ATR: T0 and the TDi high nibbles from the groups present, TCK computed when required
 * (unless `tck` overrides it). TDi is written iff the group has `t` or a next group exists.
 * @throws ProtocolError `PROTO_ERR_ATR_FIELD` when a byte is out of range, `t` is not 0..15, a group
 *   before another lacks `t`, a later group is empty, or there are more than 15 historical bytes;
 *   `PROTO_ERR_ATR_TOO_LONG` when the result would exceed 33 bytes.
 */
export function encodeAtr(fields: AtrFields): Uint8Array {
  const { groups, historicalBytes: hist } = fields;
  byte(fields.ts, 'TS');
  if (groups.length === 0) throw new ProtocolError('PROTO_ERR_ATR_FIELD', 'at least one interface group (group 1) is required', { field: 'groups' });
  if (hist.length > 15) throw new ProtocolError('PROTO_ERR_ATR_FIELD', 'at most 15 historical bytes', { field: 'historical', length: hist.length });
  const out: number[] = [fields.ts, 0];
  let yAt = 1; // index of the byte whose high nibble announces the current group
  for (let j = 0; j < groups.length; j++) {
    const g = groups[j]!;
    const i = j + 1;
    const hasNext = j + 1 < groups.length;
    if (g.t !== undefined && (!Number.isInteger(g.t) || g.t < 0 || g.t > 15)) {
      throw new ProtocolError('PROTO_ERR_ATR_FIELD', `TD${i} protocol must be 0..15`, { field: `TD${i}` });
    }
    if (hasNext && g.t === undefined) throw new ProtocolError('PROTO_ERR_ATR_FIELD', `group ${i} needs t because group ${i + 1} follows`, { field: `TD${i}` });
    if (j > 0 && g.ta === undefined && g.tb === undefined && g.tc === undefined && g.t === undefined) {
      throw new ProtocolError('PROTO_ERR_ATR_FIELD', `group ${i} is empty`, { field: `group${i}` });
    }
    let y = 0;
    if (g.ta !== undefined) {
      y |= 1;
      out.push(byte(g.ta, `TA${i}`));
    }
    if (g.tb !== undefined) {
      y |= 2;
      out.push(byte(g.tb, `TB${i}`));
    }
    if (g.tc !== undefined) {
      y |= 4;
      out.push(byte(g.tc, `TC${i}`));
    }
    if (g.t !== undefined) {
      y |= 8;
      out.push(g.t); // high nibble filled when the next group is known
    }
    out[yAt] = (y << 4) | (out[yAt]! & 0x0f);
    if (g.t !== undefined) yAt = out.length - 1;
  }
  out[1] = (out[1]! & 0xf0) | hist.length;
  for (const b of hist) out.push(b);
  const required = groups.some((g) => g.t !== undefined && g.t !== 0);
  if (fields.tck === undefined) {
    if (required) {
      let x = 0;
      for (let j = 1; j < out.length; j++) x ^= out[j]!;
      out.push(x); // [7816-3 §8.2.5] XOR of T0..TCK is 00
    }
  } else if (fields.tck !== null) out.push(byte(fields.tck, 'TCK'));
  if (fields.trailing !== undefined) for (const b of fields.trailing) out.push(b);
  if (out.length > MAX_ATR_LENGTH) throw new ProtocolError('PROTO_ERR_ATR_TOO_LONG', `${out.length} bytes`, { length: out.length });
  return Uint8Array.from(out);
}

/**
 * Converts bytes as received on the wire from an inverse-convention card (TS read as `03`) into
 * their values (TS becomes `3F`): each byte is complemented and bit-reversed. [7816-3 §8.1]
 * The conversion is its own inverse, so it also produces the wire form from values.
 */
export function convertInverseConvention(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let j = 0; j < bytes.length; j++) {
    let b = ~bytes[j]! & 0xff;
    let r = 0;
    for (let bit = 0; bit < 8; bit++) {
      r = (r << 1) | (b & 1);
      b >>= 1;
    }
    out[j] = r;
  }
  return out;
}

/**
 * True when the ATR matches the social security card template `3B 6x 00 00` + 13 historical bytes
 * (TB1 = TC1 = 00, no TD1, so T=0 only). [LD/T 32 P10 §5.1.2]
 */
export function looksLikeSscAtr(atr: Atr): boolean {
  const g = atr.fields.groups;
  const g1 = g[0];
  return (
    atr.complete &&
    atr.fields.ts === 0x3b &&
    g.length === 1 &&
    g1 !== undefined &&
    g1.ta === undefined &&
    g1.tb === 0x00 &&
    g1.tc === 0x00 &&
    g1.t === undefined &&
    atr.historicalBytes.length === 13
  );
}

function byte(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new ProtocolError('PROTO_ERR_ATR_FIELD', `${field} must be a byte`, { field });
  return v;
}

function h2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}
