/**
 * The outbox journal's record framing, pure over `Uint8Array`:
 * `magic 'O''B' (2) ‖ payload length u32 BE (4) ‖ CRC-32 of (length ‖ payload) u32 BE (4) ‖ payload`,
 * the payload being the record's UTF-8 JSON. A torn or damaged frame fails the CRC; the magic
 * lets recovery find the next frame after a damaged region without trying every offset.
 */
import { crc32 } from 'node:zlib';
import type { OutboxRecord } from './outbox-types.ts';

export const FRAME_MAGIC0 = 0x4f;
export const FRAME_MAGIC1 = 0x42;
export const FRAME_HEADER_BYTES = 10;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Encodes one record as a frame. */
export function encodeFrame(record: OutboxRecord): Uint8Array {
  const payload = enc.encode(JSON.stringify({ eventId: record.eventId, seq: record.seq, ts: record.ts, type: record.type, body: record.body }));
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out[0] = FRAME_MAGIC0;
  out[1] = FRAME_MAGIC1;
  view.setUint32(2, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  view.setUint32(6, frameCrc(out.subarray(2, 6), payload));
  return out;
}

function frameCrc(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes)) >>> 0;
}

/** Result of trying to read one frame at an offset. */
export type FrameRead =
  | { readonly kind: 'record'; readonly record: OutboxRecord; readonly size: number }
  /** The bytes end before the frame does (a torn tail if nothing valid follows). */
  | { readonly kind: 'truncated' }
  /** Not a valid frame here (bad magic, absurd length, CRC or content mismatch). */
  | { readonly kind: 'bad' };

function isRecord(v: unknown): v is OutboxRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r['eventId'] === 'string' && Number.isSafeInteger(r['seq']) && (r['seq'] as number) >= 1 &&
    Number.isSafeInteger(r['ts']) && typeof r['type'] === 'string' && typeof r['body'] === 'object' && r['body'] !== null && !Array.isArray(r['body']);
}

/** Reads the frame starting at `offset` of `buf`; frames longer than `maxPayload` are `bad`. */
export function readFrame(buf: Uint8Array, offset: number, maxPayload: number): FrameRead {
  if (offset + FRAME_HEADER_BYTES > buf.length) {
    // A partial header is a torn tail only if what is there is consistent with a frame start.
    if (offset < buf.length && buf[offset] !== FRAME_MAGIC0) return { kind: 'bad' };
    if (offset + 1 < buf.length && buf[offset + 1] !== FRAME_MAGIC1) return { kind: 'bad' };
    return { kind: 'truncated' };
  }
  if (buf[offset] !== FRAME_MAGIC0 || buf[offset + 1] !== FRAME_MAGIC1) return { kind: 'bad' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint32(offset + 2);
  if (length > maxPayload) return { kind: 'bad' };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'truncated' };
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
  if (frameCrc(buf.subarray(offset + 2, offset + 6), payload) !== view.getUint32(offset + 6)) return { kind: 'bad' };
  let value: unknown;
  try {
    value = JSON.parse(dec.decode(payload));
  } catch {
    return { kind: 'bad' };
  }
  if (!isRecord(value)) return { kind: 'bad' };
  return { kind: 'record', record: value, size: end - offset };
}

/** A damaged byte range found while scanning. */
export interface DamagedRange { readonly offset: number; readonly length: number }

export interface ScanResult {
  readonly records: readonly { readonly record: OutboxRecord; readonly offset: number; readonly size: number }[];
  /** Byte ranges that held no valid frame, excluding the torn tail. */
  readonly damaged: readonly DamagedRange[];
  /** Where the last valid frame ends, when everything after it is damaged or torn (else `buf.length`). */
  readonly goodEnd: number;
}

/**
 * Scans a segment: every valid frame is kept, even after a damaged region (a record whose append
 * resolved was fsync'd and is never discarded); bytes after the last valid frame are the torn tail
 * (`goodEnd` < length) — the only bytes recovery may cut.
 */
export function scanFrames(buf: Uint8Array, maxPayload: number): ScanResult {
  const records: { record: OutboxRecord; offset: number; size: number }[] = [];
  const damaged: DamagedRange[] = [];
  let offset = 0;
  let badStart = -1;
  while (offset < buf.length) {
    const r = readFrame(buf, offset, maxPayload);
    if (r.kind === 'record') {
      if (badStart >= 0) { damaged.push({ offset: badStart, length: offset - badStart }); badStart = -1; }
      records.push({ record: r.record, offset, size: r.size });
      offset += r.size;
      continue;
    }
    if (badStart < 0) badStart = offset;
    // Resynchronise at the next magic.
    let next = offset + 1;
    while (next < buf.length && !(buf[next] === FRAME_MAGIC0 && (next + 1 >= buf.length || buf[next + 1] === FRAME_MAGIC1))) next++;
    offset = next;
  }
  const goodEnd = badStart >= 0 ? badStart : buf.length;
  return { records, damaged, goodEnd };
}
