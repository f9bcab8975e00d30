/**
 * What the server does with outbox records beyond the fleet schema: it checks each one against
 * what every store backend and every output can hold (a timestamp a date can show, a safe-integer
 * sequence number, an event id without control characters, a body of bounded depth and size),
 * turns a record that fails into a `quarantine.record` event (kept under the same event id, so a
 * retransmission stays idempotent and the rest of the batch is still acknowledged), and masks
 * personal data in every event output unless an admin explicitly asks for full values.
 */
import { createHash } from 'node:crypto';
import { maskCardId, maskCardNumber, maskName, maskSsn } from '@onecard/protocol/ssc';
import type { NewEvent } from '../store/types.ts';
import { unsafeTextReason } from '../text-safety.ts';

/** Record type of a quarantined (unstorable) outbox record. */
export const QUARANTINE_TYPE = 'quarantine.record';

/**
 * Bounds of a storable record: `ts` up to 9999-12-31T23:59:59.999Z (the last instant an ISO 8601
 * date with a 4-digit year shows; 8.64e15 is the largest a JavaScript date holds at all), a body
 * at most 32 levels deep and 64 KiB as JSON.
 */
export const EVENT_LIMITS = {
  maxTs: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  maxDepth: 32,
  maxBodyBytes: 64 * 1024,
} as const;

export type UnstorableReason = 'seq' | 'ts' | 'event-id' | 'depth' | 'size';

interface RecordLike { readonly eventId: string; readonly seq: number; readonly ts: number; readonly type: string; readonly body: Readonly<Record<string, unknown>> }

/** Depth of a JSON value (a scalar is 0), walked without recursion; stops counting past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    if (max > limit) return max;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, d + 1]);
  }
  return max;
}

/** Why a record that passed the fleet schema cannot be stored, or undefined when it can. */
export function unstorableReason(r: RecordLike): UnstorableReason | undefined {
  if (!Number.isSafeInteger(r.seq) || r.seq < 1) return 'seq';
  if (!Number.isSafeInteger(r.ts) || r.ts < 0 || r.ts > EVENT_LIMITS.maxTs) return 'ts';
  if (unsafeTextReason(r.eventId) !== undefined) return 'event-id';
  if (jsonDepth(r.body, EVENT_LIMITS.maxDepth) > EVENT_LIMITS.maxDepth) return 'depth';
  if (Buffer.byteLength(JSON.stringify(r.body), 'utf8') > EVENT_LIMITS.maxBodyBytes) return 'size';
  return undefined;
}

/**
 * The quarantine event standing for an unstorable record: same event id (a digest of it when the
 * id itself is the problem), received time as `ts`, and a body with the reason, the original
 * type, sequence number and timestamp, and the original record as JSON text when it can be
 * written and is small enough (`raw`; masked in outputs like personal data).
 */
export function quarantineRecord(r: RecordLike, reason: UnstorableReason, receivedAt: number): NewEvent {
  const eventId = reason === 'event-id' ? `q_${createHash('sha256').update(r.eventId).digest('hex').slice(0, 40)}` : r.eventId;
  let raw: string | null = null;
  if (reason !== 'depth' && reason !== 'size') {
    const text = JSON.stringify(r);
    if (text.length <= EVENT_LIMITS.maxBodyBytes) raw = text;
  }
  return {
    eventId,
    seq: Number.isSafeInteger(r.seq) && r.seq >= 1 ? r.seq : 0,
    ts: receivedAt,
    type: QUARANTINE_TYPE,
    body: { reason, type: r.type, seq: Number.isFinite(r.seq) ? r.seq : null, ts: Number.isFinite(r.ts) ? r.ts : null, raw },
  };
}

// ── personal data ─────────────────────────────────────────────────────────────────────────────

const hide = (v: string): string => '*'.repeat(Math.min(Array.from(v).length, 8));

/** Body properties holding personal data, and how each is masked (`protocol/ssc` masking). */
const PERSONAL: Readonly<Record<string, (v: string) => string>> = {
  ssn: maskSsn,
  idNumber: maskSsn,
  name: maskName,
  holderName: maskName,
  cardNumber: maskCardNumber,
  cardId: maskCardId,
  birthDate: hide,
  birthplace: hide,
  resetInfo: (v) => (v.length > 18 ? `${v.slice(0, 18)}${'*'.repeat(v.length - 18)}` : v),
  phone: (v) => (v.length > 4 ? `${'*'.repeat(v.length - 4)}${v.slice(-4)}` : hide(v)),
  address: hide,
  raw: () => '***',
};

/** Nesting followed when masking; anything deeper is replaced (stored bodies are at most 32 deep). */
const MASK_DEPTH = 40;

/**
 * A copy of an event body with personal data masked at every level: the properties named in
 * {@link PERSONAL} (a non-string value there becomes `***`), including inside arrays.
 */
export function maskEventBody(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return maskValue(body, 0) as Record<string, unknown>;
}

function maskValue(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MASK_DEPTH) return '***';
  if (Array.isArray(v)) return v.map((x) => maskValue(x, depth + 1));
  // No prototype: a `__proto__` property of a body is copied as data, never as a prototype.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, x] of Object.entries(v)) {
    const m = Object.hasOwn(PERSONAL, k) ? PERSONAL[k] : undefined;
    if (m === undefined) out[k] = maskValue(x, depth + 1);
    else out[k] = typeof x === 'string' ? m(x) : x === null ? null : '***';
  }
  return out;
}
