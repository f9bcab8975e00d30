/**
 * Salvage of an `up/events` batch that fails the fleet schema. Without it the broker counted and
 * dropped such a batch but never acknowledged it, so the terminal's outbox sent the same batch
 * again for ever and its uplink stalled behind one bad record. Here each record is judged on its
 * own: a record that passes the fleet record schema is ingested as usual; one that fails but
 * carries an identifiable sequence number (a safe integer ≥ 1) becomes a `quarantine.record`
 * event (reason `schema`, the failing path, the original JSON text truncated) and the ack moves
 * past it; records without one are kept together in one quarantine event of the batch. A payload
 * with no identifiable record at all (not JSON, no `records` array) yields nothing: the caller
 * counts it and raises the alarm, and nothing is acknowledged.
 */
import { createHash } from 'node:crypto';
import { validateFleetMessage, type OutboxRecordMessage } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import type { NewEvent } from '../store/types.ts';
import { unsafeTextReason, UNSAFE_TEXT_RE } from '../text-safety.ts';
import { QUARANTINE_TYPE } from './event-records.ts';

/** Most records of one batch looked at (the schema's `maxItems`); the rest are ignored. */
export const SALVAGE_MAX_RECORDS = 1000;
/** Characters of a malformed record's JSON text kept in its quarantine event. */
export const SALVAGE_RAW_CHARS = 4096;
/** Quarantine reason of a record that failed the fleet schema. */
export const SCHEMA_REASON = 'schema';

/** A record of a salvaged batch that failed the record schema. */
export interface MalformedRecord {
  readonly malformed: true;
  /** Its sequence number, or null for the batch's records without one (kept together). */
  readonly seq: number | null;
  /** Event id of its quarantine event. */
  readonly eventId: string;
  /** Original type when it is a valid type name, else null. */
  readonly type: string | null;
  /** Original timestamp when it is a safe integer, else null. */
  readonly ts: number | null;
  /** JSON path (inside the record) of the first schema failure, made printable and bounded. */
  readonly path: string;
  /** Original JSON text, at most {@link SALVAGE_RAW_CHARS} characters. */
  readonly raw: string;
  /** Length of the whole JSON text. */
  readonly rawChars: number;
  /** How many records it stands for (1, or the number of records without a sequence number). */
  readonly count: number;
}

export type SalvagedItem = OutboxRecordMessage | MalformedRecord;

export function isMalformed(r: SalvagedItem): r is MalformedRecord {
  return (r as Partial<MalformedRecord>).malformed === true;
}

const TYPE_RE = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Text kept or logged from a hostile record: control and bidi characters replaced, bounded. */
function printable(s: string, max: number): string {
  const out: string[] = [];
  for (const ch of s.slice(0, max)) out.push(UNSAFE_TEXT_RE.test(ch) || unsafeTextReason(ch) !== undefined ? '?' : ch);
  return out.join('');
}

const UNSAFE_TEXT_RE_G = new RegExp(UNSAFE_TEXT_RE.source, 'gu');

/**
 * JSON text of a value, never throwing (a cycle cannot come from JSON, but be safe), with control
 * and bidirectional characters written as `\uXXXX` escapes (still the same JSON) so the kept text
 * cannot reorder or cut what an admin sees.
 */
function jsonText(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? 'null';
  } catch {
    return '"<not serialisable>"';
  }
  return text.replace(UNSAFE_TEXT_RE_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function truncated(text: string): string {
  let t = text.slice(0, SALVAGE_RAW_CHARS);
  if (/[\uD800-\uDBFF]$/.test(t)) t = t.slice(0, -1);
  return t;
}

const digestId = (text: string): string => `q_${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;

/** Why one record fails the record schema (its JSON path), or undefined when it passes. */
function schemaFailure(r: unknown): string | undefined {
  try {
    validateFleetMessage('events', { v: 1, records: [r] });
    return undefined;
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    const p = typeof err.details.path === 'string' ? err.details.path : '/';
    return printable(p.replace(/^\/records\/0/, '') || '/', 128);
  }
}

/**
 * Salvages a parsed `up/events` payload that failed the batch schema.
 * @returns the records in batch order (good ones as they are, malformed ones as
 *   {@link MalformedRecord}), or undefined when no record has an identifiable sequence number
 */
export function salvageEventsBatch(value: unknown): readonly SalvagedItem[] | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const list = (value as { records?: unknown }).records;
  if (!Array.isArray(list)) return undefined;
  const items: SalvagedItem[] = [];
  const unidentified: unknown[] = [];
  let unidentifiedPath = '/';
  let identified = 0;
  for (const r of list.slice(0, SALVAGE_MAX_RECORDS)) {
    const path = schemaFailure(r);
    if (path === undefined) {
      items.push(r as OutboxRecordMessage);
      identified++;
      continue;
    }
    const o = r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : {};
    const seq = o.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      if (unidentified.length === 0) unidentifiedPath = path;
      unidentified.push(r);
      continue;
    }
    identified++;
    const text = jsonText(r);
    const id = o.eventId;
    // The record's own event id when it is one the store keeps (retransmissions stay idempotent);
    // else a digest of the record, which a retransmission of the same record repeats.
    const eventId = typeof id === 'string' && id.length >= 8 && id.length <= 64 && unsafeTextReason(id) === undefined ? id : digestId(`${seq}\n${text}`);
    items.push({
      malformed: true, seq, eventId,
      type: typeof o.type === 'string' && TYPE_RE.test(o.type) ? o.type : null,
      ts: typeof o.ts === 'number' && Number.isSafeInteger(o.ts) ? o.ts : null,
      path, raw: truncated(text), rawChars: text.length, count: 1,
    });
  }
  if (identified === 0) return undefined;
  if (unidentified.length > 0) {
    const text = jsonText(unidentified);
    items.push({ malformed: true, seq: null, eventId: digestId(text), type: null, ts: null, path: unidentifiedPath, raw: truncated(text), rawChars: text.length, count: unidentified.length });
  }
  return items;
}

/**
 * The quarantine event standing for a malformed record: received time as `ts`, seq 0 for the
 * records without one, and a body with the reason, the failing path, what could be read of the
 * original (type, seq, ts) and its JSON text truncated (`raw`, masked in outputs like personal
 * data; never logged).
 */
export function malformedQuarantine(r: MalformedRecord, receivedAt: number): NewEvent {
  return {
    eventId: r.eventId,
    seq: r.seq ?? 0,
    ts: receivedAt,
    type: QUARANTINE_TYPE,
    body: {
      reason: SCHEMA_REASON, path: r.path, type: r.type, seq: r.seq, ts: r.ts, records: r.count,
      raw: r.raw, rawChars: r.rawChars, rawTruncated: r.raw.length < r.rawChars,
    },
  };
}
