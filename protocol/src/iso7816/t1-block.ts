/**
 * T=1 block codec [7816-3 §11.3]: one block is NAD ‖ PCB ‖ LEN ‖ INF ‖ EDC, where the PCB says whether it
 * is an information (I), receive-ready (R) or supervisory (S) block and the EDC is an LRC or the CRC-16 of
 * ISO/IEC 13239. Pure functions over `Uint8Array`; the state machine using them lives in `t1.ts`.
 */
import { ProtocolError } from '../errors.ts';

/** Error detection code chosen by TCi bit 0 of the ATR [7816-3 §11.4.4]. */
export type T1Edc = 'lrc' | 'crc';
/** Error indication carried by an R-block (PCB bits b2–b1). */
export type T1RError = 'none' | 'edc' | 'other';
/** S-block types [7816-3 §11.3.2.2]. */
export type T1SType = 'resynch' | 'ifs' | 'abort' | 'wtx';

/** Information block: N(S) in bit `40`, more-data (chaining) bit M in bit `20`. */
export interface T1IBlock {
  readonly kind: 'I';
  readonly nad: number;
  readonly ns: 0 | 1;
  readonly more: boolean;
  readonly inf: Uint8Array;
}

/** Receive-ready block: N(R) in bit `10` (the N(S) expected next), error in bits b2–b1. */
export interface T1RBlock {
  readonly kind: 'R';
  readonly nad: number;
  readonly nr: 0 | 1;
  readonly error: T1RError;
}

/** S(RESYNCH) or S(ABORT): no INF. */
export interface T1SPlainBlock {
  readonly kind: 'S';
  readonly nad: number;
  readonly type: 'resynch' | 'abort';
  readonly response: boolean;
}

/** S(IFS) (value = new IFS, 01..FE) or S(WTX) (value = BWT multiplier): one INF byte. */
export interface T1SValueBlock {
  readonly kind: 'S';
  readonly nad: number;
  readonly type: 'ifs' | 'wtx';
  readonly response: boolean;
  readonly value: number;
}

export type T1SBlock = T1SPlainBlock | T1SValueBlock;
export type T1Block = T1IBlock | T1RBlock | T1SBlock;

/** Options of {@link decodeT1Block}. */
export interface T1DecodeOptions {
  readonly edc: T1Edc;
  /** Largest INF the receiver accepts (its IFSD or IFSC); 254 when absent. */
  readonly maxInf?: number;
  /** Expected NAD of received blocks; not checked when absent. */
  readonly nad?: number;
}

/** Largest INF any T=1 block may carry [7816-3 §11.3.1]. */
export const T1_MAX_INF = 254;
/** IFSC and IFSD before any negotiation or ATR indication [7816-3 §11.4.2]. */
export const T1_DEFAULT_IFS = 32;

const S_TYPES: readonly T1SType[] = ['resynch', 'ifs', 'abort', 'wtx'];
const R_ERRORS: readonly T1RError[] = ['none', 'edc', 'other'];

/** Number of EDC bytes: 1 for LRC, 2 for CRC. */
export function t1EdcLength(edc: T1Edc): 1 | 2 {
  return edc === 'crc' ? 2 : 1;
}

/** LRC: exclusive-or of every byte [7816-3 §11.4.4]. */
export function t1Lrc(bytes: Uint8Array): number {
  let x = 0;
  for (let i = 0; i < bytes.length; i++) x ^= bytes[i]!;
  return x;
}

/**
 * CRC of ISO/IEC 13239 as used by T=1 [7816-3 §11.4.4]: polynomial x^16 + x^12 + x^5 + 1 processed
 * least-significant bit first, initial value `FFFF`, no final inversion. The block carries it high byte
 * first (reader-link.md §4.1). Check value over ASCII "123456789": `6F91`.
 */
export function t1Crc(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]!;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return crc;
}

function edcBytes(edc: T1Edc, data: Uint8Array): number[] {
  if (edc === 'lrc') return [t1Lrc(data)];
  const crc = t1Crc(data);
  return [crc >> 8, crc & 0xff];
}

function checkByte(name: string, v: number, min = 0, max = 255): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError('PROTO_ERR_T1_PARAM', `${name} must be an integer ${min}..${max}`, { field: name, value: v });
  }
}

/** PCB byte of a block [7816-3 §11.3.2]. */
export function t1Pcb(block: T1Block): number {
  switch (block.kind) {
    case 'I':
      return (block.ns << 6) | (block.more ? 0x20 : 0);
    case 'R':
      return 0x80 | (block.nr << 4) | R_ERRORS.indexOf(block.error);
    case 'S':
      return 0xc0 | (block.response ? 0x20 : 0) | S_TYPES.indexOf(block.type);
  }
}

/**
 * Encodes a block with its EDC.
 * @throws ProtocolError `PROTO_ERR_T1_INF_TOO_LONG` for an INF over 254 bytes; `PROTO_ERR_T1_PARAM` for a NAD
 *   or WTX value outside 00..FF; `PROTO_ERR_T1_IFS_VALUE` for an IFS outside 01..FE.
 */
export function encodeT1Block(block: T1Block, edc: T1Edc): Uint8Array {
  checkByte('nad', block.nad);
  let inf: Uint8Array;
  if (block.kind === 'I') {
    inf = block.inf;
    if (inf.length > T1_MAX_INF) {
      throw new ProtocolError('PROTO_ERR_T1_INF_TOO_LONG', `INF of ${inf.length} bytes`, { field: 'inf', length: inf.length });
    }
  } else if (block.kind === 'S' && (block.type === 'ifs' || block.type === 'wtx')) {
    if (block.type === 'ifs' && (!Number.isInteger(block.value) || block.value < 1 || block.value > T1_MAX_INF)) {
      throw new ProtocolError('PROTO_ERR_T1_IFS_VALUE', `IFS ${block.value}`, { field: 'inf', value: block.value });
    }
    checkByte('value', block.value);
    inf = Uint8Array.of(block.value);
  } else {
    inf = new Uint8Array(0);
  }
  const el = t1EdcLength(edc);
  const out = new Uint8Array(3 + inf.length + el);
  out[0] = block.nad;
  out[1] = t1Pcb(block);
  out[2] = inf.length;
  out.set(inf, 3);
  out.set(edcBytes(edc, out.subarray(0, 3 + inf.length)), 3 + inf.length);
  return out;
}

/**
 * Total length of the block that starts with `prefix`, or `undefined` while the 3-byte prologue is
 * incomplete (need more bytes). For receivers that read a block character by character.
 * @throws ProtocolError `PROTO_ERR_T1_LEN_RESERVED` when LEN = FF [7816-3 §11.3.1].
 */
export function t1BlockLength(prefix: Uint8Array, edc: T1Edc): number | undefined {
  if (prefix.length < 3) return undefined;
  const len = prefix[2]!;
  if (len === 0xff) throw new ProtocolError('PROTO_ERR_T1_LEN_RESERVED', undefined, { field: 'len', offset: 2 });
  return 3 + len + t1EdcLength(edc);
}

/**
 * Decodes one complete block. Checks run in this order, so a corrupted block reports the EDC before any
 * coding problem: prologue present, LEN ≠ FF, length = 3 + LEN + EDC, EDC, INF ≤ maxInf, NAD, PCB coding,
 * LEN allowed for the block type, IFS value.
 * @throws ProtocolError `PROTO_ERR_T1_BLOCK_TRUNCATED`, `PROTO_ERR_T1_LEN_RESERVED`, `PROTO_ERR_T1_TRAILING_BYTES`,
 *   `PROTO_ERR_T1_EDC`, `PROTO_ERR_T1_INF_TOO_LONG`, `PROTO_ERR_T1_NAD`, `PROTO_ERR_T1_PCB`, `PROTO_ERR_T1_S_TYPE`,
 *   `PROTO_ERR_T1_BLOCK_LEN`, `PROTO_ERR_T1_IFS_VALUE`.
 */
export function decodeT1Block(bytes: Uint8Array, options: T1DecodeOptions): T1Block {
  if (bytes.length < 3) {
    throw new ProtocolError('PROTO_ERR_T1_BLOCK_TRUNCATED', `${bytes.length} bytes, prologue needs 3`, { field: 'prologue', length: bytes.length });
  }
  const total = t1BlockLength(bytes, options.edc)!;
  if (bytes.length < total) {
    throw new ProtocolError('PROTO_ERR_T1_BLOCK_TRUNCATED', `${bytes.length} bytes, LEN announces ${total}`, {
      field: bytes.length < total - t1EdcLength(options.edc) ? 'inf' : 'edc',
      length: bytes.length,
      expected: total,
    });
  }
  if (bytes.length > total) {
    throw new ProtocolError('PROTO_ERR_T1_TRAILING_BYTES', `${bytes.length - total} extra bytes`, { field: 'edc', offset: total });
  }
  const len = bytes[2]!;
  const body = bytes.subarray(0, 3 + len);
  const want = edcBytes(options.edc, body);
  for (let i = 0; i < want.length; i++) {
    if (bytes[3 + len + i] !== want[i]) {
      throw new ProtocolError('PROTO_ERR_T1_EDC', options.edc, { field: 'edc', offset: 3 + len });
    }
  }
  const maxInf = options.maxInf ?? T1_MAX_INF;
  if (len > maxInf) {
    throw new ProtocolError('PROTO_ERR_T1_INF_TOO_LONG', `LEN ${len} > ${maxInf}`, { field: 'len', offset: 2, length: len, max: maxInf });
  }
  const nad = bytes[0]!;
  if (options.nad !== undefined && nad !== options.nad) {
    throw new ProtocolError('PROTO_ERR_T1_NAD', `got ${nad}, expected ${options.nad}`, { field: 'nad', offset: 0 });
  }
  const pcb = bytes[1]!;
  if ((pcb & 0x80) === 0) {
    // [7816-3 §11.3.2.1] I-block: 0 N(S) M 0 0000 (b5–b1 reserved)
    if (pcb & 0x1f) throw new ProtocolError('PROTO_ERR_T1_PCB', 'reserved I-block bits', { field: 'pcb', offset: 1 });
    return { kind: 'I', nad, ns: ((pcb >> 6) & 1) as 0 | 1, more: (pcb & 0x20) !== 0, inf: bytes.slice(3, 3 + len) };
  }
  if ((pcb & 0x40) === 0) {
    // [7816-3 §11.3.2.2] R-block: 1 0 0 N(R) 0 0 e e
    if (pcb & 0x2c || (pcb & 3) === 3) throw new ProtocolError('PROTO_ERR_T1_PCB', 'reserved R-block coding', { field: 'pcb', offset: 1 });
    if (len !== 0) throw new ProtocolError('PROTO_ERR_T1_BLOCK_LEN', `R-block with LEN ${len}`, { field: 'len', offset: 2 });
    return { kind: 'R', nad, nr: ((pcb >> 4) & 1) as 0 | 1, error: R_ERRORS[pcb & 3]! };
  }
  // [7816-3 §11.3.2.3] S-block: 1 1 r 0 tttt
  if (pcb & 0x10) throw new ProtocolError('PROTO_ERR_T1_PCB', 'reserved S-block bit', { field: 'pcb', offset: 1 });
  const type = S_TYPES[pcb & 0x0f];
  if (type === undefined) throw new ProtocolError('PROTO_ERR_T1_S_TYPE', `type ${pcb & 0x0f}`, { field: 'pcb', offset: 1 });
  const response = (pcb & 0x20) !== 0;
  if (type === 'resynch' || type === 'abort') {
    if (len !== 0) throw new ProtocolError('PROTO_ERR_T1_BLOCK_LEN', `S(${type}) with LEN ${len}`, { field: 'len', offset: 2 });
    return { kind: 'S', nad, type, response };
  }
  if (len !== 1) throw new ProtocolError('PROTO_ERR_T1_BLOCK_LEN', `S(${type}) with LEN ${len}`, { field: 'len', offset: 2 });
  const value = bytes[3]!;
  if (type === 'ifs' && (value === 0 || value === 0xff)) {
    throw new ProtocolError('PROTO_ERR_T1_IFS_VALUE', `IFS ${value}`, { field: 'inf', offset: 3 });
  }
  return { kind: 'S', nad, type, response, value };
}

/** Short text for logs and test names: `I(0,M) 32B`, `R(1,edc)`, `S(wtx req 2)`. */
export function describeT1Block(block: T1Block): string {
  switch (block.kind) {
    case 'I':
      return `I(${block.ns}${block.more ? ',M' : ''}) ${block.inf.length}B`;
    case 'R':
      return `R(${block.nr}${block.error === 'none' ? '' : `,${block.error}`})`;
    case 'S':
      return `S(${block.type} ${block.response ? 'resp' : 'req'}${'value' in block ? ` ${block.value}` : ''})`;
  }
}
