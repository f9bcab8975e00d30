/**
 * The EF05 (issuer data) and EF06 (holder data) items of the SSSE [V2 tables 10–13; P6 table 4]:
 * one table that says, per tag, the length, encoding and padding, and the codecs that turn a value
 * string into its fixed-length item bytes and back (padding stripped). Names are GBK and spill
 * into the `4E` name extension when longer than 30 bytes [SC-IF §1.1.3(7)].
 */
import { ProtocolError } from '../errors.ts';
import { fromHex, toHex } from '../bytes.ts';
import { decodeBcdDate, decodeCn, encodeBcdDate, encodeCn } from './bcd.ts';
import { decodeGbk, encodeGbk } from './gbk.ts';
import { encodeSimpleTlv, type SimpleTlv } from './tlv.ts';

/** Card generations as judged from item `03` [SC-IF §10.2]. */
export const SPEC_VERSIONS = ['1.0', '2.0', '3.0'] as const;
export type SpecVersion = (typeof SPEC_VERSIONS)[number];

/**
 * Value encodings: `an` ASCII, `cn` BCD digits, `b` binary (shown as hex), `gbk` GBK text
 * (an `an` item holding Chinese text).
 */
export type ItemEncoding = 'an' | 'cn' | 'b' | 'gbk';

/** Padding of a short value: `F` nibbles (cn), `00` bytes (an) or none (fixed binary). */
export type ItemPadding = 'F' | '00' | 'none';

/** One row of the data-item table. */
export interface DataItemSpec {
  readonly tag: number;
  /** Property name used in {@link SscBasicData}. */
  readonly key: string;
  /** Item name in the specification. */
  readonly name: string;
  readonly title: string;
  readonly encoding: ItemEncoding;
  /** Defined value length in bytes. */
  readonly length: number;
  readonly padding: ItemPadding;
  readonly file: 'EF05' | 'EF06';
  /** Card generations on which the item is defined. */
  readonly versions: readonly SpecVersion[];
  /** `date` items are BCD `YYYYMMDD`. */
  readonly format?: 'date';
}

const ALL = SPEC_VERSIONS;

/** Every EF05/EF06 item [V2 tables 10–13; ssc-card §2], in personalisation record order. */
export const DATA_ITEMS = [
  { tag: 0x01, key: 'cardId', name: '卡的识别码', title: 'card identification code', encoding: 'b', length: 16, padding: 'none', file: 'EF05', versions: ALL },
  { tag: 0x02, key: 'cardType', name: '卡的类别', title: 'card type', encoding: 'an', length: 1, padding: '00', file: 'EF05', versions: ALL },
  { tag: 0x03, key: 'specVersion', name: '规范版本', title: 'specification version', encoding: 'an', length: 4, padding: '00', file: 'EF05', versions: ALL },
  { tag: 0x04, key: 'initOrg', name: '初始化机构编号', title: 'initialising organisation', encoding: 'cn', length: 12, padding: 'F', file: 'EF05', versions: ALL },
  { tag: 0x05, key: 'issueDate', name: '发卡日期', title: 'issue date', encoding: 'cn', length: 4, padding: 'F', file: 'EF05', versions: ALL, format: 'date' },
  { tag: 0x06, key: 'expiryDate', name: '卡有效期', title: 'expiry date', encoding: 'cn', length: 4, padding: 'F', file: 'EF05', versions: ALL, format: 'date' },
  { tag: 0x07, key: 'cardNumber', name: '卡号', title: 'card number', encoding: 'an', length: 9, padding: '00', file: 'EF05', versions: ALL },
  { tag: 0x08, key: 'ssn', name: '社会保障号码', title: 'social security number', encoding: 'an', length: 18, padding: '00', file: 'EF06', versions: ALL },
  { tag: 0x09, key: 'name', name: '姓名', title: 'name', encoding: 'gbk', length: 30, padding: '00', file: 'EF06', versions: ALL },
  { tag: 0x4e, key: 'nameExtension', name: '姓名扩展', title: 'name extension', encoding: 'gbk', length: 20, padding: '00', file: 'EF06', versions: ['2.0', '3.0'] },
  { tag: 0x0a, key: 'sex', name: '性别', title: 'sex', encoding: 'an', length: 1, padding: '00', file: 'EF06', versions: ALL },
  { tag: 0x0b, key: 'ethnicGroup', name: '民族', title: 'ethnic group', encoding: 'cn', length: 1, padding: 'F', file: 'EF06', versions: ALL },
  { tag: 0x0c, key: 'birthplace', name: '出生地', title: 'birthplace', encoding: 'cn', length: 3, padding: 'F', file: 'EF06', versions: ALL },
  { tag: 0x0d, key: 'birthDate', name: '出生日期', title: 'birth date', encoding: 'cn', length: 4, padding: 'F', file: 'EF06', versions: ALL, format: 'date' },
] as const satisfies readonly DataItemSpec[];

export type DataItemKey = (typeof DATA_ITEMS)[number]['key'];

/** Tags by key, e.g. `ITEM_TAGS.name === 0x09`. */
export const ITEM_TAGS = Object.fromEntries(DATA_ITEMS.map((d) => [d.key, d.tag])) as { readonly [K in DataItemKey]: number };

/** The table row for `tag`, or undefined. */
export function dataItemByTag(tag: number): DataItemSpec | undefined {
  return DATA_ITEMS.find((d) => d.tag === tag);
}

function spec(tag: number): DataItemSpec {
  const d = dataItemByTag(tag);
  if (d === undefined) throw new ProtocolError('PROTO_ERR_SSC_ITEM_UNKNOWN', `tag ${tag.toString(16)}`, { tag });
  return d;
}

function field(d: DataItemSpec): string {
  return d.key;
}

/** Removes trailing `00` and space bytes (an padding) [INFER ssc-card §2]. */
function stripAn(bytes: Uint8Array): Uint8Array {
  let n = bytes.length;
  while (n > 0 && (bytes[n - 1] === 0x00 || bytes[n - 1] === 0x20)) n--;
  return bytes.subarray(0, n);
}

function padTo(bytes: Uint8Array, length: number, fill: number): Uint8Array {
  const out = new Uint8Array(length).fill(fill);
  out.set(bytes);
  return out;
}

/**
 * Encodes a value into the item's defined-length bytes, padded as the table says [V2 §7].
 * `b` items take hex; `cn` items take digits (dates: a valid `YYYYMMDD`); `an` items take printable
 * ASCII; GBK items take text. An empty string encodes the "not set" form (all `F` / all `00`).
 * The name (`09`) accepts at most 30 GBK bytes here; use {@link encodeName} for longer names.
 * @throws ProtocolError `PROTO_ERR_SSC_ITEM_UNKNOWN`, `PROTO_ERR_SSC_ITEM_LENGTH`,
 * `PROTO_ERR_SSC_ITEM_CHARSET`, `PROTO_ERR_SSC_BCD`, `PROTO_ERR_SSC_DATE`,
 * `PROTO_ERR_SSC_GBK_UNMAPPABLE`.
 */
export function encodeItemValue(tag: number, value: string): Uint8Array {
  const d = spec(tag);
  switch (d.encoding) {
    case 'b': {
      if (!/^(?:[0-9A-Fa-f]{2})*$/.test(value)) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'expected hex', { field: field(d) });
      if (value.length !== d.length * 2) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', `expected ${d.length} bytes`, { field: field(d) });
      return fromHex(value);
    }
    case 'cn':
      if (d.format === 'date' && value !== '') return encodeBcdDate(value, field(d));
      return encodeCn(value, d.length, field(d));
    case 'an': {
      if (!/^[\x20-\x7e]*$/.test(value)) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'expected printable ASCII', { field: field(d) });
      if (value.length > d.length) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', `at most ${d.length} characters`, { field: field(d) });
      return padTo(Uint8Array.from(value, (c) => c.charCodeAt(0)), d.length, 0x00);
    }
    case 'gbk': {
      if (/[\x00-\x1f\x7f]/.test(value)) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'control character', { field: field(d) });
      const bytes = encodeGbk(value);
      if (bytes.length > d.length) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', `at most ${d.length} GBK bytes`, { field: field(d) });
      return padTo(bytes, d.length, 0x00);
    }
  }
}

/**
 * Decodes item bytes to a value string with the padding stripped; a "not set" item (all `F`,
 * or all `00`) gives `''`. Values shorter than the defined length are accepted (cards return what
 * they hold); longer ones are refused, except the card number, of which only the first 9
 * characters count [SC-IF §10.4].
 * @throws ProtocolError `PROTO_ERR_SSC_ITEM_UNKNOWN`, `PROTO_ERR_SSC_ITEM_LENGTH`,
 * `PROTO_ERR_SSC_ITEM_CHARSET`, `PROTO_ERR_SSC_BCD`, `PROTO_ERR_SSC_DATE`, `PROTO_ERR_SSC_GBK_MALFORMED`.
 */
export function decodeItemValue(tag: number, bytes: Uint8Array): string {
  const d = spec(tag);
  let v = bytes;
  if (v.length > d.length) {
    if (d.tag !== 0x07) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', `at most ${d.length} bytes`, { field: field(d), length: v.length });
    v = v.subarray(0, d.length);
  }
  switch (d.encoding) {
    case 'b':
      if (v.length !== d.length) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', `expected ${d.length} bytes`, { field: field(d), length: v.length });
      return toHex(v);
    case 'cn':
      if (d.format === 'date') return decodeBcdDate(v, field(d));
      return decodeCn(v, field(d));
    case 'an': {
      const s = stripAn(v);
      for (let i = 0; i < s.length; i++) {
        const c = s[i]!;
        if (c < 0x20 || c > 0x7e) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'not printable ASCII', { field: field(d), offset: i });
      }
      return String.fromCharCode(...s);
    }
    case 'gbk': {
      const text = decodeGbk(stripAn(v));
      if (/[\x00-\x1f\x7f]/.test(text)) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'control character', { field: field(d) });
      return text;
    }
  }
}

/** `tag ‖ len ‖ value` of an item as the card stores and returns it. Throws as {@link encodeItemValue}. */
export function encodeItemRecord(tag: number, value: string): Uint8Array {
  return encodeSimpleTlv(tag, encodeItemValue(tag, value));
}

/** Maximum name length in GBK bytes: 30 in `09` plus 20 in `4E`. */
export const MAX_NAME_BYTES = 50;

/** The name split over its two items. */
export interface EncodedName {
  /** `09` value, 30 bytes, `00`-padded. */
  readonly name: Uint8Array;
  /** `4E` value, 20 bytes, present only when the name is longer than 30 bytes. */
  readonly extension?: Uint8Array;
}

/**
 * Encodes a holder name as GBK over `09` and, when longer than 30 bytes, `4E` [SC-IF §1.1.3(7)].
 * [INFER] The split is at byte 30, so `09 ‖ 4E` concatenated byte-wise is the name.
 * @throws ProtocolError `PROTO_ERR_SSC_ITEM_LENGTH` over 50 bytes, `PROTO_ERR_SSC_ITEM_CHARSET`
 * on control characters, `PROTO_ERR_SSC_GBK_UNMAPPABLE` for characters outside GBK.
 */
export function encodeName(name: string): EncodedName {
  if (/[\x00-\x1f\x7f]/.test(name)) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'control character', { field: 'name' });
  const bytes = encodeGbk(name);
  if (bytes.length > MAX_NAME_BYTES) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', `at most ${MAX_NAME_BYTES} GBK bytes`, { field: 'name', length: bytes.length });
  if (bytes.length <= 30) return { name: padTo(bytes, 30, 0x00) };
  return { name: bytes.slice(0, 30), extension: padTo(bytes.subarray(30), 20, 0x00) };
}

/**
 * Decodes the name from `09` and the optional `4E` (missing on some 2.0 cards [CODE SSCARD]):
 * `09` with its `00` padding removed, then `4E`, then trailing padding removed.
 * @throws ProtocolError `PROTO_ERR_SSC_ITEM_LENGTH`, `PROTO_ERR_SSC_GBK_MALFORMED`,
 * `PROTO_ERR_SSC_ITEM_CHARSET`.
 */
export function decodeName(name: Uint8Array, extension?: Uint8Array): string {
  if (name.length > 30) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', 'at most 30 bytes', { field: 'name', length: name.length });
  if (extension === undefined || stripAn(extension).length === 0) return decodeItemValue(0x09, name);
  if (extension.length > 20) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', 'at most 20 bytes', { field: 'nameExtension', length: extension.length });
  let n = name.length;
  while (n > 0 && name[n - 1] === 0x00) n--;
  const joined = new Uint8Array(n + extension.length);
  joined.set(name.subarray(0, n));
  joined.set(extension, n);
  const text = decodeGbk(stripAn(joined));
  if (/[\x00-\x1f\x7f]/.test(text)) throw new ProtocolError('PROTO_ERR_SSC_ITEM_CHARSET', 'control character', { field: 'name' });
  return text;
}

/** The card generation from item `03`: judged by its first 3 characters; empty means 1.0 [SC-IF §10.2]. */
export function specVersionOf(item03: string): SpecVersion | undefined {
  if (item03 === '') return '1.0';
  const head = item03.slice(0, 3);
  return (SPEC_VERSIONS as readonly string[]).includes(head) ? (head as SpecVersion) : undefined;
}

/** Decoded EF05/EF06 items; an absent property means the item was not read, `''` means not set. */
export interface SscBasicData {
  readonly cardId?: string;
  readonly cardType?: string;
  readonly specVersion?: string;
  readonly initOrg?: string;
  readonly issueDate?: string;
  readonly expiryDate?: string;
  readonly cardNumber?: string;
  readonly ssn?: string;
  /** `09` ‖ `4E`. */
  readonly name?: string;
  readonly sex?: string;
  readonly ethnicGroup?: string;
  readonly birthplace?: string;
  readonly birthDate?: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Decodes a list of item TLVs (e.g. from {@link decodeSimpleTlvs} over a whole-file read, or
 * gathered from per-tag reads). Unknown tags are skipped; the first occurrence of a tag wins.
 * Throws as {@link decodeItemValue}.
 */
export function decodeBasicData(items: readonly SimpleTlv[]): SscBasicData {
  const out: Mutable<SscBasicData> = {};
  const seen = new Set<number>();
  let nameBytes: Uint8Array | undefined;
  let extBytes: Uint8Array | undefined;
  for (const { tag, value } of items) {
    if (seen.has(tag)) continue;
    seen.add(tag);
    if (tag === 0x09) nameBytes = value;
    else if (tag === 0x4e) extBytes = value;
    else {
      const d = dataItemByTag(tag);
      if (d === undefined) continue;
      (out as Record<string, string>)[d.key] = decodeItemValue(tag, value);
    }
  }
  if (nameBytes !== undefined) out.name = decodeName(nameBytes, extBytes);
  return out;
}

/**
 * Encodes the items present in `data` as records (`tag ‖ len ‖ value`) of one file, in table
 * order; the name gives `09` and, when long, `4E`. Throws as {@link encodeItemValue} and {@link encodeName}.
 */
export function encodeBasicRecords(data: SscBasicData, file: 'EF05' | 'EF06'): Uint8Array[] {
  const out: Uint8Array[] = [];
  let name: EncodedName | undefined;
  for (const d of DATA_ITEMS) {
    if (d.file !== file) continue;
    if (d.key === 'name' || d.key === 'nameExtension') {
      if (data.name === undefined) continue;
      name ??= encodeName(data.name);
      if (d.key === 'name') out.push(encodeSimpleTlv(0x09, name.name));
      else if (name.extension !== undefined) out.push(encodeSimpleTlv(0x4e, name.extension));
      continue;
    }
    const v = (data as Record<string, string | undefined>)[d.key];
    if (v !== undefined) out.push(encodeItemRecord(d.tag, v));
  }
  return out;
}
