/**
 * Issuance and maintenance commands of the social security card (SSSE) that the read path does
 * not need [issuance §2.1, §4]: UPDATE RECORD by record number or by record identifier (with or
 * without SFI), UPDATE BINARY, the PSAM SM4 environment, and the record writes of an issuance or
 * an information change built from decoded data items. Builders are pure and throw
 * `PROTO_ERR_ISSUANCE_PARAM` naming the field; status words stay data for the caller.
 */
import { ProtocolError } from '../errors.ts';
import { fromHex } from '../bytes.ts';
import type { CommandApdu } from '../iso7816/apdu.ts';
import { cmd, paramChecks } from '../ssc/command-builder.ts';
import { decodeSimpleTlvs, encodeSimpleTlv } from '../ssc/tlv.ts';
import { DATA_ITEMS, type SscBasicData, dataItemByTag, encodeBasicRecords, encodeName } from '../ssc/data-items.ts';

const { param, byteParam } = paramChecks('PROTO_ERR_ISSUANCE_PARAM');

/** PSAM SM4 environment DF name `sx3.sh.社会保障` [issuance §2.2; CODE KIOSK-JS]. */
export const PSAM_DF_NAME_SM4 = fromHex('7378332E73682EC9E7BBE1B1A3D5CF');

/** SFIs of the SSSE files written at issuance [P6 table 4; V2 table 3]. */
export const SSSE_SFI = { EF05: 0x05, EF06: 0x06, EF07: 0x07, EF08: 0x08 } as const;

/** Occurrence selectors of record-identifier addressing, P2 b3–b1 [P5 table 44]. */
export const RECORD_OCCURRENCE = { first: 0b000, last: 0b001, next: 0b010, previous: 0b011 } as const;
export type RecordOccurrence = keyof typeof RECORD_OCCURRENCE;

/** How an UPDATE RECORD addresses its record [P5 §6.13 table 44]. */
export type RecordAddress =
  /** P1 = record number, P2 b3–b1 = `100`. */
  | { readonly by: 'number'; readonly record: number; readonly sfi?: number }
  /** P1 = record identifier (the tag), P2 b3–b1 = occurrence. */
  | { readonly by: 'tag'; readonly tag: number; readonly sfi?: number; readonly occurrence?: RecordOccurrence };

/**
 * UPDATE RECORD `00 DC P1 P2 Lc record` [P5 §6.13]; `record` is the whole SIMPLE-TLV record
 * `tag ‖ len ‖ value` and is checked to be exactly one such record. Without `sfi` the current EF
 * is written. Examples: `00 DC 05 28 06 05 04 …` (EF05 by identifier), `00 DC 01 04 …` (by number).
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on a record number outside 1–254, an SFI outside
 * 1–30, a tag outside 1–FE, a record that is not one whole TLV, or, by identifier, whose tag differs.
 */
export function updateRecord(address: RecordAddress, record: Uint8Array): CommandApdu {
  param(record.length >= 2 && record.length <= 255 && record[1] === record.length - 2, 'record must be one SIMPLE-TLV tag ‖ len ‖ value', 'record');
  const sfi = address.sfi ?? 0;
  byteParam(sfi, 'sfi', 0, 30);
  if (address.by === 'number') {
    byteParam(address.record, 'record', 1, 0xfe);
    return cmd(0x00, 0xdc, address.record, (sfi << 3) | 0b100, record);
  }
  byteParam(address.tag, 'tag', 1, 0xfe);
  param(record[0] === address.tag, 'record tag must equal the record identifier P1', 'record');
  return cmd(0x00, 0xdc, address.tag, (sfi << 3) | RECORD_OCCURRENCE[address.occurrence ?? 'first'], record);
}

/** The address an UPDATE RECORD command carries, decoded from P1/P2 [P5 table 44]. */
export type DecodedRecordAddress =
  | { readonly by: 'number'; readonly record: number; readonly sfi: number }
  | { readonly by: 'tag'; readonly tag: number; readonly sfi: number; readonly occurrence: RecordOccurrence };

/**
 * Decodes P1/P2 of UPDATE RECORD or READ RECORD (`sfi` 0 = current EF) [P5 table 44]. Returns
 * undefined for the reserved b3–b1 values `101`–`111` and SFI 31.
 */
export function decodeRecordAddress(p1: number, p2: number): DecodedRecordAddress | undefined {
  const sfi = p2 >> 3;
  const mode = p2 & 0b111;
  if (sfi === 31) return undefined;
  if (mode === 0b100) return p1 === 0 ? undefined : { by: 'number', record: p1, sfi };
  const occ = (Object.keys(RECORD_OCCURRENCE) as RecordOccurrence[]).find((k) => RECORD_OCCURRENCE[k] === mode);
  return occ === undefined ? undefined : { by: 'tag', tag: p1, sfi, occurrence: occ };
}

/**
 * UPDATE BINARY `00 D6 P1 P2 Lc data` [P5 §6.12]: with `sfi`, P1 = `80`|SFI and P2 = offset
 * (0–255); without, the offset (0–7FFF) of the current EF.
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on empty or over-255-byte data or an out-of-range offset/SFI.
 */
export function updateBinary(offset: number, data: Uint8Array, sfi?: number): CommandApdu {
  param(data.length >= 1 && data.length <= 255, 'data must be 1–255 bytes', 'data');
  if (sfi !== undefined) {
    byteParam(sfi, 'sfi', 1, 30);
    byteParam(offset, 'offset', 0, 0xff);
    return cmd(0x00, 0xd6, 0x80 | sfi, offset, data);
  }
  byteParam(offset, 'offset', 0, 0x7fff);
  return cmd(0x00, 0xd6, offset >> 8, offset & 0xff, data);
}

/**
 * UPDATE BINARY commands writing `data` from offset 0 of the current EF in chunks of `chunk`
 * bytes (e.g. the photo EF08 in 255-byte chunks [CODE KIOSK-ZJ]).
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on empty data, a chunk outside 1–255, or data beyond offset 7FFF.
 */
export function updateBinaryChunks(data: Uint8Array, chunk = 0xff): CommandApdu[] {
  byteParam(chunk, 'chunk', 1, 0xff);
  param(data.length >= 1 && data.length <= 0x8000, 'data must be 1–32768 bytes', 'data');
  const out: CommandApdu[] = [];
  for (let off = 0; off < data.length; off += chunk) out.push(updateBinary(off, data.subarray(off, off + chunk)));
  return out;
}

/** One record write of an issuance or information change. */
export interface RecordWrite {
  readonly file: 'EF05' | 'EF06';
  readonly tag: number;
  /** The whole record `tag ‖ len ‖ value`. */
  readonly record: Uint8Array;
  readonly apdu: CommandApdu;
}

/**
 * The record writes for `data`, by identifier with SFI (`00 DC tag SFI<<3 …`) in the table order
 * of issuance §4 (EF05 then EF06). Items absent from `data` are not written. When the name is
 * written, `4E` is always written too — all `00` for a short name — so that a shorter new name
 * does not keep an old extension [ONECARD; issuance §4 "OneCard writes 00"].
 * Throws as `encodeItemValue` / `encodeName` (`PROTO_ERR_SSC_ITEM_*`, `PROTO_ERR_SSC_BCD`, …).
 */
export function recordWrites(data: SscBasicData, files: readonly ('EF05' | 'EF06')[] = ['EF05', 'EF06']): RecordWrite[] {
  const out: RecordWrite[] = [];
  for (const file of files) {
    const records = encodeBasicRecords(data, file);
    if (file === 'EF06' && data.name !== undefined && encodeName(data.name).extension === undefined) {
      const at = records.findIndex((r) => r[0] === 0x09) + 1;
      records.splice(at, 0, encodeSimpleTlv(0x4e, new Uint8Array(20)));
    }
    for (const record of records) {
      out.push({ file, tag: record[0]!, record, apdu: updateRecord({ by: 'tag', tag: record[0]!, sfi: SSSE_SFI[file] }, record) });
    }
  }
  return out;
}

/**
 * The fill record a pre-personalised blank card holds for an item it has not been given: `cn`
 * items all `FF`, every other item all `00`, at the defined length [issuance §4; ssc-card §2].
 * @throws ProtocolError `PROTO_ERR_SSC_ITEM_UNKNOWN` for a tag outside the EF05/EF06 table.
 */
export function fillRecord(tag: number): Uint8Array {
  const d = dataItemByTag(tag);
  if (d === undefined) throw new ProtocolError('PROTO_ERR_SSC_ITEM_UNKNOWN', `tag ${tag.toString(16)}`, { tag });
  return encodeSimpleTlv(tag, new Uint8Array(d.length).fill(d.encoding === 'cn' ? 0xff : 0x00));
}

/** The tags of one file in personalisation record order [issuance §4]. */
export function fileTags(file: 'EF05' | 'EF06'): number[] {
  return DATA_ITEMS.filter((d) => d.file === file).map((d) => d.tag);
}

/** A difference found when reading written records back. */
export interface ReadBackMismatch {
  readonly tag: number;
  readonly reason: 'missing' | 'differs';
}

/**
 * Compares the records written with what the card returns for them (the response data of the
 * READ RECORD by identifier, one TLV each, or a whole-file read) [issuance §5.3; CODE ZJ-IF
 * "注意"]: every written record must be present, byte for byte. Returns the mismatches (empty = all
 * written). A read that is not well-formed TLV is a mismatch of every written tag, never an error.
 */
export function compareReadBack(written: readonly Pick<RecordWrite, 'tag' | 'record'>[], readData: Uint8Array): ReadBackMismatch[] {
  let read: { tag: number; value: Uint8Array }[];
  try {
    read = decodeSimpleTlvs(readData);
  } catch {
    return written.map((w) => ({ tag: w.tag, reason: 'missing' as const }));
  }
  const out: ReadBackMismatch[] = [];
  for (const w of written) {
    const r = read.find((x) => x.tag === w.tag);
    if (r === undefined) out.push({ tag: w.tag, reason: 'missing' });
    else if (!sameBytes(encodeSimpleTlv(r.tag, r.value), w.record)) out.push({ tag: w.tag, reason: 'differs' });
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
