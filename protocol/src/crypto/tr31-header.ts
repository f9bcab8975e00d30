/**
 * TR-31 / ANSI X9.143 key-block header and optional blocks: parsing with field-level validation
 * and encoding. Pure string handling; the cryptography of version `D` is in `tr31.ts`.
 */
import { ProtocolError } from '../errors.ts';

export const KEY_BLOCK_VERSIONS = ['A', 'B', 'C', 'D', 'E'] as const;
export type KeyBlockVersion = (typeof KEY_BLOCK_VERSIONS)[number];

/** [X9.143 §6.3.1 table 2] key usages OneCard accepts (numeric codes are proprietary and also accepted). */
export const KEY_USAGES = [
  'B0', 'B1', 'B2', 'B3', 'C0', 'D0', 'D1', 'D2', 'D3', 'E0', 'E1', 'E2', 'E3', 'E4', 'E5', 'E6', 'E7', 'I0',
  'K0', 'K1', 'K2', 'K3', 'K4', 'M0', 'M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'M7', 'M8', 'P0', 'P1', 'S0', 'S1',
  'S2', 'V0', 'V1', 'V2', 'V3', 'V4', 'V5',
] as const;
/** [X9.143 §6.3.2 table 3; ISO 20038] algorithm codes. */
export const KEY_ALGORITHMS = ['A', 'T', 'D', 'E', 'H', 'R', 'S', 'I', 'J'] as const;
/** [X9.143 §6.3.3 table 4] mode-of-use codes. */
export const MODES_OF_USE = ['B', 'C', 'D', 'E', 'G', 'V', 'S', 'X', 'Y', 'N'] as const;
/** [X9.143 §6.3.5] exportability. */
export const EXPORTABILITY = ['E', 'N', 'S'] as const;
/** [X9.143 §6.2 table 1] key context (reserved `0` in TR-31:2018). */
export const KEY_CONTEXTS = ['0', '1', '2'] as const;

export type Exportability = (typeof EXPORTABILITY)[number];
export type KeyContext = (typeof KEY_CONTEXTS)[number];

/** The 16-character fixed header, decoded. */
export interface KeyBlockHeader {
  readonly version: KeyBlockVersion;
  /** Total key block length in characters. */
  readonly length: number;
  readonly keyUsage: string;
  readonly algorithm: string;
  readonly modeOfUse: string;
  /** `00` = unused, `cN` = component N, otherwise a 2-character version. */
  readonly keyVersionNumber: string;
  readonly exportability: Exportability;
  readonly optionalBlockCount: number;
  readonly keyContext: KeyContext;
}

/** One optional block: 2-character ID and its printable-ASCII data. */
export interface OptionalBlock {
  readonly id: string;
  readonly data: string;
}

/** Result of {@link parseKeyBlockHeader}. */
export interface ParsedKeyBlockHeader {
  readonly header: KeyBlockHeader;
  readonly optionalBlocks: readonly OptionalBlock[];
  /** Characters taken by header and optional blocks (where the payload hex starts). */
  readonly headerLength: number;
}

const HEADER_LENGTH = 16;
const PRINTABLE = /^[\x20-\x7e]*$/;
const HEX_UPPER = /^[0-9A-F]*$/;

/** Encryption block size that optional blocks must be padded to, per version. [X9.143 §6.3.6] */
export function optionalBlockMultiple(version: KeyBlockVersion): 8 | 16 {
  return version === 'D' || version === 'E' ? 16 : 8;
}

function headerError(field: string, value: string, offset: number): ProtocolError {
  return new ProtocolError('PROTO_ERR_TR31_HEADER', `${field} '${value}' not valid`, { field, offset });
}

function optError(detail: string, id: string, offset: number): ProtocolError {
  return new ProtocolError('PROTO_ERR_TR31_OPT_BLOCK', detail, { field: id === '' ? 'optionalBlock' : `optionalBlock.${id}`, offset });
}

/** Checks the header fields shared by parsing and wrapping. Throws `PROTO_ERR_TR31_HEADER`. */
export function validateHeaderFields(h: Omit<KeyBlockHeader, 'length' | 'optionalBlockCount' | 'version'>): void {
  // [X9.143 §6.3.1] alphabetic usages from table 2, or two digits (proprietary)
  if (!((KEY_USAGES as readonly string[]).includes(h.keyUsage) || /^[0-9]{2}$/.test(h.keyUsage))) throw headerError('keyUsage', h.keyUsage, 5);
  if (!(KEY_ALGORITHMS as readonly string[]).includes(h.algorithm)) throw headerError('algorithm', h.algorithm, 7);
  if (!(MODES_OF_USE as readonly string[]).includes(h.modeOfUse)) throw headerError('modeOfUse', h.modeOfUse, 8);
  // [X9.143 §6.3.4] `00`, `cN` (component), or two alphanumerics
  if (!/^[0-9A-Za-z]{2}$/.test(h.keyVersionNumber)) throw headerError('keyVersionNumber', h.keyVersionNumber, 9);
  if (!(EXPORTABILITY as readonly string[]).includes(h.exportability)) throw headerError('exportability', h.exportability, 11);
  if (!(KEY_CONTEXTS as readonly string[]).includes(h.keyContext)) throw headerError('keyContext', h.keyContext, 14);
}

const TS_FORMS: readonly RegExp[] = [
  /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/,
  /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\d{2}Z$/,
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/,
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{2}Z$/,
  // TR-31:2018-era form without the `Z`, accepted on import only (key-blocks.md §5.2 [INFER])
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{2}$/,
];

/** Validates the data of the optional blocks whose format OneCard knows. [X9.143 §6.3.6 table 7] */
function validateOptionalBlockData(id: string, data: string, offset: number): void {
  switch (id) {
    case 'KC':
    case 'KP':
    case 'PK': {
      // hex of (KCV algorithm ‖ KCV): `00` legacy (≤ 3 bytes) or `01` CMAC (≤ 5 bytes)
      if (!HEX_UPPER.test(data) || data.length % 2 !== 0 || data.length < 4) throw optError(`${id} must be hex of algorithm ‖ KCV`, id, offset);
      const alg = data.slice(0, 2);
      const kcvBytes = (data.length - 2) / 2;
      if (alg === '00' ? kcvBytes > 3 : alg === '01' ? kcvBytes > 5 : true) throw optError(`${id} KCV algorithm ${alg} with ${kcvBytes} bytes`, id, offset);
      return;
    }
    case 'TS':
    case 'TC': {
      const m = TS_FORMS.map((r) => r.exec(data)).find((x) => x !== null);
      if (!m) throw optError(`${id} is not an accepted ISO 8601 time stamp`, id, offset);
      const [mo, d, hh, mm, ss] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
      if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) throw optError(`${id} date or time out of range`, id, offset);
      return;
    }
    case 'IK':
    case 'KS':
      if (!HEX_UPPER.test(data) || data.length === 0) throw optError(`${id} must be hex`, id, offset);
      return;
    default:
      return; // LB, PB and the others: printable ASCII, checked by the caller
  }
}

/**
 * Parses and validates a key block's fixed header and optional blocks. The whole block must be
 * printable ASCII and its length must equal the header's length field. The payload is not checked.
 * @throws ProtocolError `PROTO_ERR_TR31_CHARSET`, `PROTO_ERR_TR31_LENGTH`, `PROTO_ERR_TR31_VERSION`,
 *   `PROTO_ERR_TR31_HEADER`, `PROTO_ERR_TR31_OPT_BLOCK`
 */
export function parseKeyBlockHeader(block: string): ParsedKeyBlockHeader {
  if (!PRINTABLE.test(block)) {
    const offset = [...block].findIndex((c) => !PRINTABLE.test(c));
    throw new ProtocolError('PROTO_ERR_TR31_CHARSET', 'non-printable character', { field: 'block', offset });
  }
  if (block.length < HEADER_LENGTH) throw new ProtocolError('PROTO_ERR_TR31_LENGTH', `${block.length} characters, header needs 16`, { field: 'header', length: block.length });
  const version = block[0]!;
  if (!(KEY_BLOCK_VERSIONS as readonly string[]).includes(version)) throw new ProtocolError('PROTO_ERR_TR31_VERSION', `version '${version}'`, { field: 'version', offset: 0 });
  const lengthField = block.slice(1, 5);
  // [X9.143 §6.2 table 1] four decimal digits counting every character
  if (!/^[0-9]{4}$/.test(lengthField)) throw new ProtocolError('PROTO_ERR_TR31_LENGTH', `length field '${lengthField}'`, { field: 'length', offset: 1 });
  const length = Number(lengthField);
  if (length !== block.length) throw new ProtocolError('PROTO_ERR_TR31_LENGTH', `length field ${length}, block has ${block.length}`, { field: 'length', offset: 1 });

  const fields = {
    keyUsage: block.slice(5, 7),
    algorithm: block.slice(7, 8),
    modeOfUse: block.slice(8, 9),
    keyVersionNumber: block.slice(9, 11),
    exportability: block.slice(11, 12) as Exportability,
    keyContext: block.slice(14, 15) as KeyContext,
  };
  validateHeaderFields(fields);
  const countField = block.slice(12, 14);
  if (!/^[0-9]{2}$/.test(countField)) throw headerError('optionalBlockCount', countField, 12);
  if (block[15] !== '0') throw headerError('reserved', block[15]!, 15);
  const header: KeyBlockHeader = { version: version as KeyBlockVersion, length, ...fields, optionalBlockCount: Number(countField) };

  const optionalBlocks: OptionalBlock[] = [];
  const seen = new Set<string>();
  let o = HEADER_LENGTH;
  for (let i = 0; i < header.optionalBlockCount; i++) {
    if (o + 4 > block.length) throw optError(`optional block ${i + 1} truncated`, '', o);
    const id = block.slice(o, o + 2);
    // [X9.143 §6.3.6] IDs are two alphanumerics (numeric = proprietary)
    if (!/^[0-9A-Z]{2}$/.test(id)) throw optError(`optional block ID '${id}'`, '', o);
    if (seen.has(id)) throw optError(`duplicate optional block ${id}`, id, o);
    seen.add(id);
    let lenHex = block.slice(o + 2, o + 4);
    if (!HEX_UPPER.test(lenHex)) throw optError(`length '${lenHex}' not hex`, id, o + 2);
    let dataStart = o + 4;
    if (lenHex === '00') {
      // [X9.143 §6.3.6] extended form: `00` ‖ 2-digit length-of-length ‖ length (hex)
      const lolHex = block.slice(o + 4, o + 6);
      if (!/^[0-9A-F]{2}$/.test(lolHex) || lolHex === '00') throw optError(`length-of-length '${lolHex}'`, id, o + 4);
      const lol = Number.parseInt(lolHex, 16);
      lenHex = block.slice(o + 6, o + 6 + lol);
      if (lenHex.length !== lol || !HEX_UPPER.test(lenHex)) throw optError(`extended length '${lenHex}'`, id, o + 6);
      dataStart = o + 6 + lol;
    }
    const blockLen = Number.parseInt(lenHex, 16);
    const end = o + blockLen;
    if (blockLen < dataStart - o || end > block.length) throw optError(`length ${blockLen} does not fit`, id, o + 2);
    const data = block.slice(dataStart, end);
    validateOptionalBlockData(id, data, dataStart);
    optionalBlocks.push({ id, data });
    o = end;
  }
  // [X9.143 §6.3.6] PB, when present, is the last block
  const pbIndex = optionalBlocks.findIndex((b) => b.id === 'PB');
  if (pbIndex >= 0 && pbIndex !== optionalBlocks.length - 1) throw optError('PB must be the last optional block', 'PB', HEADER_LENGTH);
  // [X9.143 §6.3.6] optional blocks fill a whole number of encryption blocks
  const optLen = o - HEADER_LENGTH;
  const multiple = optionalBlockMultiple(header.version);
  if (optLen % multiple !== 0) throw optError(`optional blocks total ${optLen} characters, not a multiple of ${multiple}`, '', HEADER_LENGTH);
  return { header, optionalBlocks, headerLength: o };
}

/**
 * Encodes one optional block: short form `ID ‖ LL ‖ data` when it fits in 255 characters, else the
 * extended form `ID ‖ 00 ‖ 04 ‖ LLLL ‖ data`. [X9.143 §6.3.6]
 * @throws ProtocolError `PROTO_ERR_TR31_OPT_BLOCK` for a bad ID, non-printable or malformed data
 */
export function encodeOptionalBlock(b: OptionalBlock): string {
  if (!/^[0-9A-Z]{2}$/.test(b.id)) throw optError(`optional block ID '${b.id}'`, '', 0);
  if (!PRINTABLE.test(b.data)) throw optError('data must be printable ASCII', b.id, 0);
  validateOptionalBlockData(b.id, b.data, 0);
  const hex = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');
  const short = 4 + b.data.length;
  if (short <= 0xff) return `${b.id}${hex(short, 2)}${b.data}`;
  const ext = 10 + b.data.length;
  if (ext > 0xffff) throw optError('data too long', b.id, 0);
  return `${b.id}0004${hex(ext, 4)}${b.data}`;
}

/** Encodes the 16-character fixed header (the length is given, not computed). */
export function encodeHeader(h: KeyBlockHeader): string {
  return (
    h.version +
    String(h.length).padStart(4, '0') +
    h.keyUsage +
    h.algorithm +
    h.modeOfUse +
    h.keyVersionNumber +
    h.exportability +
    String(h.optionalBlockCount).padStart(2, '0') +
    h.keyContext +
    '0'
  );
}
