/**
 * ATR historical bytes: the ISO/IEC 7816-4 encodings (category indicator, COMPACT-TLV data objects,
 * status indicator, card service data, card capabilities) and the proprietary 13-byte layout of the
 * social security card. Decoders are strict and throw coded errors; the ATR analyser turns those into
 * warnings because proprietary historical bytes do not make an ATR invalid.
 */
import { ProtocolError } from '../errors.ts';

/** One COMPACT-TLV data object: tag and length share one byte (`tag << 4 | length`). */
export interface CompactTlvObject {
  /** Tag number 0..15 (the high nibble). */
  readonly tag: number;
  /** Value, at most 15 bytes. */
  readonly value: Uint8Array;
}

/** Status indicator: life cycle status byte and/or status word. */
export interface StatusIndicator {
  /** Life cycle status (LCS), when present. */
  readonly lcs?: number;
  /** Status word SW1-SW2 as a 16-bit number, when present. */
  readonly sw?: number;
}

/** Card service data (tag 3). [7816-4 §8.1.1.2.3] */
export interface CardServiceData {
  readonly selectionByFullDfName: boolean;
  readonly selectionByPartialDfName: boolean;
  readonly dataObjectsInEfDir: boolean;
  readonly dataObjectsInEfAtr: boolean;
  /** Access to EF.DIR and EF.ATR: b4-b2 coded 100 READ BINARY, 000 READ RECORD, 010 GET DATA. */
  readonly efAccess: 'read-binary' | 'read-record' | 'get-data' | 'rfu';
  /** b1 = 1: the card has no master file. */
  readonly withoutMf: boolean;
}

/** Card capabilities (tag 7, 1 to 3 bytes). [7816-4 §8.1.1.2.7] */
export interface CardCapabilities {
  readonly selection: {
    readonly byFullDfName: boolean;
    readonly byPartialDfName: boolean;
    readonly byPath: boolean;
    readonly byFileId: boolean;
    readonly implicit: boolean;
    readonly shortEfId: boolean;
    readonly recordNumber: boolean;
    readonly recordId: boolean;
  };
  /** The data coding byte (second byte), when present. */
  readonly dataCoding?: number;
  /** Third byte, when present: chaining, extended length and logical channels. */
  readonly commandChaining?: boolean;
  readonly extendedLength?: boolean;
  /** Logical channel number assignment by the card (b5) / by the interface device (b4). */
  readonly channelAssignmentByCard?: boolean;
  readonly channelAssignmentByIfd?: boolean;
  /** Maximum number of logical channels; 8 means "eight or more". */
  readonly maxLogicalChannels?: number;
}

/** Decoded historical bytes. `category` is the first byte (the category indicator). */
export type HistoricalBytes =
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'compact-tlv';
      /** `00`: the status indicator is the last 3 bytes; `80`: it may be a tag-8 object. */
      readonly category: 0x00 | 0x80;
      readonly objects: readonly CompactTlvObject[];
      /** For `00` always present (LCS and SW); for `80` derived from the first tag-8 object. */
      readonly status?: StatusIndicator;
      readonly serviceData?: CardServiceData;
      readonly capabilities?: CardCapabilities;
    }
  | { readonly kind: 'dir-reference'; readonly category: 0x10; readonly reference: Uint8Array }
  | { readonly kind: 'proprietary'; readonly category: number; readonly data: Uint8Array };

/** Names of the COMPACT-TLV tags defined by ISO/IEC 7816-4 (tag number → name). */
export const COMPACT_TLV_TAG_NAMES: Readonly<Record<number, string>> = {
  0x1: 'country code',
  0x2: 'issuer identification number',
  0x3: 'card service data',
  0x4: 'initial access data',
  0x5: 'card issuer data',
  0x6: 'pre-issuing data',
  0x7: 'card capabilities',
  0x8: 'status indicator',
  0xf: 'application identifier',
};

/**
 * Splits COMPACT-TLV data objects. [7816-4 §5.2.2]
 * @throws ProtocolError `PROTO_ERR_ATR_COMPACT_TLV` when an object's length runs past the end.
 */
export function decodeCompactTlv(bytes: Uint8Array): CompactTlvObject[] {
  return splitCompactTlv(bytes, 0, bytes.length);
}

/** COMPACT-TLV objects of `bytes[start..end)`; error offsets are relative to `bytes`. */
function splitCompactTlv(bytes: Uint8Array, start: number, end: number): CompactTlvObject[] {
  const out: CompactTlvObject[] = [];
  let pos = start;
  while (pos < end) {
    const head = bytes[pos]!;
    const len = head & 0x0f;
    if (pos + 1 + len > end) {
      throw new ProtocolError('PROTO_ERR_ATR_COMPACT_TLV', `object ${hex2(head)} needs ${len} bytes, ${end - pos - 1} left`, {
        field: 'compact-tlv',
        offset: pos,
      });
    }
    out.push({ tag: head >> 4, value: bytes.slice(pos + 1, pos + 1 + len) });
    pos += 1 + len;
  }
  return out;
}

/**
 * Encodes COMPACT-TLV data objects.
 * @throws ProtocolError `PROTO_ERR_ATR_FIELD` when a tag is not 0..15 or a value is longer than 15 bytes.
 */
export function encodeCompactTlv(objects: readonly CompactTlvObject[]): Uint8Array {
  let n = 0;
  for (const o of objects) {
    if (!Number.isInteger(o.tag) || o.tag < 0 || o.tag > 15) throw new ProtocolError('PROTO_ERR_ATR_FIELD', 'compact-TLV tag must be 0..15', { field: 'tag' });
    if (o.value.length > 15) throw new ProtocolError('PROTO_ERR_ATR_FIELD', 'compact-TLV value longer than 15 bytes', { field: 'value', length: o.value.length });
    n += 1 + o.value.length;
  }
  const out = new Uint8Array(n);
  let pos = 0;
  for (const o of objects) {
    out[pos++] = (o.tag << 4) | o.value.length;
    out.set(o.value, pos);
    pos += o.value.length;
  }
  return out;
}

/**
 * Decodes historical bytes by their category indicator. [7816-4 §8.1.1.1]
 * `00` COMPACT-TLV then a mandatory 3-byte status indicator, `80` COMPACT-TLV with an optional tag-8
 * status object, `10` DIR data reference, `81`..`8F` reserved, anything else proprietary.
 * @throws ProtocolError `PROTO_ERR_ATR_COMPACT_TLV`, `PROTO_ERR_ATR_HIST_STATUS`, `PROTO_ERR_ATR_HIST_CATEGORY`.
 */
export function decodeHistoricalBytes(bytes: Uint8Array): HistoricalBytes {
  if (bytes.length === 0) return { kind: 'empty' };
  const category = bytes[0]!;
  if (category === 0x00) {
    // [7816-4 §8.1.1.1] category 00: the last three bytes are the status indicator (LCS, SW1-SW2)
    if (bytes.length < 4) {
      throw new ProtocolError('PROTO_ERR_ATR_HIST_STATUS', 'category 00 needs a 3-byte status indicator', { field: 'status', length: bytes.length });
    }
    const objects = splitCompactTlv(bytes, 1, bytes.length - 3);
    const s = bytes.length - 3;
    const status: StatusIndicator = { lcs: bytes[s]!, sw: (bytes[s + 1]! << 8) | bytes[s + 2]! };
    return compact(0x00, objects, status);
  }
  if (category === 0x80) {
    const objects = splitCompactTlv(bytes, 1, bytes.length);
    const st = objects.find((o) => o.tag === 0x8);
    if (st === undefined) return compact(0x80, objects, undefined);
    return compact(0x80, objects, statusFromObject(st.value));
  }
  if (category === 0x10) return { kind: 'dir-reference', category: 0x10, reference: bytes.slice(1) };
  if (category >= 0x81 && category <= 0x8f) {
    throw new ProtocolError('PROTO_ERR_ATR_HIST_CATEGORY', `category indicator ${hex2(category)}`, { field: 'category', offset: 0 });
  }
  return { kind: 'proprietary', category, data: bytes.slice(1) };
}

/**
 * Encodes historical bytes; the inverse of {@link decodeHistoricalBytes}. For category `80` the status
 * comes from the objects (a tag-8 object), `status` is ignored; for `00` `status` must carry LCS and SW.
 * @throws ProtocolError `PROTO_ERR_ATR_FIELD` on out-of-range values, `PROTO_ERR_ATR_HIST_STATUS` when category 00 lacks a full status.
 */
export function encodeHistoricalBytes(h: HistoricalBytes): Uint8Array {
  switch (h.kind) {
    case 'empty':
      return new Uint8Array(0);
    case 'compact-tlv': {
      const body = encodeCompactTlv(h.objects);
      if (h.category === 0x80) return prefix(0x80, body);
      const lcs = h.status?.lcs;
      const sw = h.status?.sw;
      if (lcs === undefined || sw === undefined) throw new ProtocolError('PROTO_ERR_ATR_HIST_STATUS', 'category 00 needs lcs and sw', { field: 'status' });
      checkByte(lcs, 'lcs');
      if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) throw new ProtocolError('PROTO_ERR_ATR_FIELD', 'sw must be 0..FFFF', { field: 'sw' });
      const out = new Uint8Array(body.length + 4);
      out.set(body, 1);
      out[body.length + 1] = lcs;
      out[body.length + 2] = sw >> 8;
      out[body.length + 3] = sw & 0xff;
      return out;
    }
    case 'dir-reference':
      return prefix(0x10, h.reference);
    case 'proprietary':
      checkByte(h.category, 'category');
      if (h.category === 0x00 || h.category === 0x10 || (h.category >= 0x80 && h.category <= 0x8f)) {
        throw new ProtocolError('PROTO_ERR_ATR_FIELD', `category ${hex2(h.category)} is not proprietary`, { field: 'category' });
      }
      return prefix(h.category, h.data);
  }
}

/** Decodes a status-indicator value (tag 8, or the last 3 bytes of category 00). [7816-4 §8.1.1.3] */
function statusFromObject(v: Uint8Array): StatusIndicator {
  if (v.length === 1) return { lcs: v[0]! };
  if (v.length === 2) return { sw: (v[0]! << 8) | v[1]! };
  if (v.length === 3) return { lcs: v[0]!, sw: (v[1]! << 8) | v[2]! };
  throw new ProtocolError('PROTO_ERR_ATR_HIST_STATUS', `status indicator object of ${v.length} bytes`, { field: 'status', length: v.length });
}

type CompactTlvHistorical = Extract<HistoricalBytes, { kind: 'compact-tlv' }>;

function compact(category: 0x00 | 0x80, objects: CompactTlvObject[], status: StatusIndicator | undefined): CompactTlvHistorical {
  const out: { -readonly [K in keyof CompactTlvHistorical]: CompactTlvHistorical[K] } = { kind: 'compact-tlv', category, objects };
  if (status !== undefined) out.status = status;
  const sd = objects.find((o) => o.tag === 0x3 && o.value.length >= 1);
  const cc = objects.find((o) => o.tag === 0x7 && o.value.length >= 1);
  if (sd !== undefined) out.serviceData = decodeCardServiceData(sd.value[0]!);
  if (cc !== undefined) out.capabilities = decodeCardCapabilities(cc.value);
  return out;
}

/** Decodes the card service data byte (tag 3). [7816-4 §8.1.1.2.3] */
export function decodeCardServiceData(b: number): CardServiceData {
  const access = (b >> 1) & 7;
  return {
    selectionByFullDfName: (b & 0x80) !== 0,
    selectionByPartialDfName: (b & 0x40) !== 0,
    dataObjectsInEfDir: (b & 0x20) !== 0,
    dataObjectsInEfAtr: (b & 0x10) !== 0,
    efAccess: access === 4 ? 'read-binary' : access === 0 ? 'read-record' : access === 2 ? 'get-data' : 'rfu',
    withoutMf: (b & 0x01) !== 0,
  };
}

/** Decodes the card capabilities value (tag 7, 1 to 3 bytes; extra bytes are ignored). [7816-4 §8.1.1.2.7] */
export function decodeCardCapabilities(v: Uint8Array): CardCapabilities {
  const b1 = v[0] ?? 0;
  const selection = {
    byFullDfName: (b1 & 0x80) !== 0,
    byPartialDfName: (b1 & 0x40) !== 0,
    byPath: (b1 & 0x20) !== 0,
    byFileId: (b1 & 0x10) !== 0,
    implicit: (b1 & 0x08) !== 0,
    shortEfId: (b1 & 0x04) !== 0,
    recordNumber: (b1 & 0x02) !== 0,
    recordId: (b1 & 0x01) !== 0,
  };
  const b2 = v[1];
  const b3 = v[2];
  if (b2 === undefined) return { selection };
  if (b3 === undefined) return { selection, dataCoding: b2 };
  return {
    selection,
    dataCoding: b2,
    commandChaining: (b3 & 0x80) !== 0,
    extendedLength: (b3 & 0x40) !== 0,
    channelAssignmentByCard: (b3 & 0x10) !== 0,
    channelAssignmentByIfd: (b3 & 0x08) !== 0,
    maxLogicalChannels: (b3 & 0x07) + 1,
  };
}

/** Life cycle status name. [7816-4 §5.3.3.2 table 13] */
export function lifeCycleStatusName(lcs: number): string {
  if (lcs === 0x00) return 'no information given';
  if (lcs === 0x01) return 'creation state';
  if (lcs === 0x03) return 'initialisation state';
  if ((lcs & 0xfd) === 0x05) return 'operational state (activated)';
  if ((lcs & 0xfd) === 0x04) return 'operational state (deactivated)';
  if ((lcs & 0xfc) === 0x0c) return 'termination state';
  if (lcs >= 0x10) return 'proprietary';
  return 'RFU';
}

/**
 * The social security card's proprietary historical bytes (13 bytes T1..TD).
 * [LD/T 32 P2 §8.4 table 16]
 */
export interface SscHistoricalBytes {
  /** T1-T2: chip supplier registration number. */
  readonly chipSupplier: Uint8Array;
  /** T3-T5: defined by the chip/COS vendor. */
  readonly cosData: Uint8Array;
  /** T6-T7: card manufacturer registration number. */
  readonly cardManufacturer: Uint8Array;
  /** T8-T9 as 4 hex digits: the first 4 digits of the issuing region code (BCD). */
  readonly region: string;
  /** False when T8-T9 are not BCD digits (the region is then not a real region code). */
  readonly regionIsBcd: boolean;
  /** TA-TD: the unique per-card serial. */
  readonly serial: Uint8Array;
  /** T6..TD (8 bytes): the PSAM level-3 (card) dispersion factor. [LD/T 32 P9 §7.3.3] */
  readonly dispersionFactor: Uint8Array;
}

/** Length of the social security card historical-byte layout. */
export const SSC_HISTORICAL_LENGTH = 13;

/**
 * Decodes the social security card historical bytes (13 bytes). [LD/T 32 P2 §8.4 table 16]
 * @throws ProtocolError `PROTO_ERR_ATR_SSC_LAYOUT` when the length is not 13.
 */
export function decodeSscHistoricalBytes(bytes: Uint8Array): SscHistoricalBytes {
  if (bytes.length !== SSC_HISTORICAL_LENGTH) {
    throw new ProtocolError('PROTO_ERR_ATR_SSC_LAYOUT', `${bytes.length} historical bytes, expected 13`, { field: 'historical', length: bytes.length });
  }
  let region = '';
  let bcd = true;
  for (const b of [bytes[7]!, bytes[8]!]) {
    if (b >> 4 > 9 || (b & 15) > 9) bcd = false;
    region += hex2(b);
  }
  return {
    chipSupplier: bytes.slice(0, 2),
    cosData: bytes.slice(2, 5),
    cardManufacturer: bytes.slice(5, 7),
    region,
    regionIsBcd: bcd,
    serial: bytes.slice(9, 13),
    dispersionFactor: bytes.slice(5, 13),
  };
}

/**
 * Builds the 13 social security card historical bytes from their parts (for simulators).
 * @throws ProtocolError `PROTO_ERR_ATR_FIELD` when a part has the wrong length or the region is not 4 hex digits.
 */
export function encodeSscHistoricalBytes(parts: {
  readonly chipSupplier: Uint8Array;
  readonly cosData: Uint8Array;
  readonly cardManufacturer: Uint8Array;
  readonly region: string;
  readonly serial: Uint8Array;
}): Uint8Array {
  const want: ReadonlyArray<readonly [string, Uint8Array, number]> = [
    ['chipSupplier', parts.chipSupplier, 2],
    ['cosData', parts.cosData, 3],
    ['cardManufacturer', parts.cardManufacturer, 2],
    ['serial', parts.serial, 4],
  ];
  for (const [name, v, n] of want) {
    if (v.length !== n) throw new ProtocolError('PROTO_ERR_ATR_FIELD', `${name} must be ${n} bytes`, { field: name, length: v.length });
  }
  if (!/^[0-9A-Fa-f]{4}$/.test(parts.region)) throw new ProtocolError('PROTO_ERR_ATR_FIELD', 'region must be 4 hex digits', { field: 'region' });
  const out = new Uint8Array(13);
  out.set(parts.chipSupplier, 0);
  out.set(parts.cosData, 2);
  out.set(parts.cardManufacturer, 5);
  out[7] = parseInt(parts.region.slice(0, 2), 16);
  out[8] = parseInt(parts.region.slice(2, 4), 16);
  out.set(parts.serial, 9);
  return out;
}

function prefix(b: number, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(rest.length + 1);
  out[0] = b;
  out.set(rest, 1);
  return out;
}

function checkByte(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new ProtocolError('PROTO_ERR_ATR_FIELD', `${field} must be a byte`, { field });
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}
