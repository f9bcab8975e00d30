/**
 * Shared admission rule of every outbox: transactions and events are refused (never silently
 * lost) when they would exceed the limits; telemetry is dropped earlier, at `telemetryShare` of
 * the limits, so it never consumes the room transactions need. Also validates append input.
 */
import { TerminalError } from '../errors.ts';
import type { AppendInput, OutboxClass, OutboxLimits } from './outbox-types.ts';

/** Event types as the fleet schema allows them. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

export type Admission = 'accept' | 'refuse' | 'drop';

/** Decides whether one more record of `frameBytes` fits, given current usage. */
export function admit(limits: OutboxLimits, cls: OutboxClass, records: number, bytes: number, frameBytes: number): Admission {
  const share = cls === 'telemetry' ? limits.telemetryShare : 1;
  const fits = records + 1 <= Math.floor(limits.maxRecords * share) && bytes + frameBytes <= Math.floor(limits.maxBytes * share);
  if (fits) return 'accept';
  return cls === 'telemetry' ? 'drop' : 'refuse';
}

/**
 * Checks an append's type, body and class.
 * @throws TerminalError `TERM_ERR_OUTBOX_RECORD_INVALID`
 */
export function checkAppendInput(input: AppendInput): OutboxClass {
  if (typeof input.type !== 'string' || !EVENT_TYPE_PATTERN.test(input.type)) {
    throw new TerminalError('TERM_ERR_OUTBOX_RECORD_INVALID', 'type must match ^[a-z][a-z0-9_.-]{0,63}$', { field: 'type' });
  }
  if (typeof input.body !== 'object' || input.body === null || Array.isArray(input.body)) {
    throw new TerminalError('TERM_ERR_OUTBOX_RECORD_INVALID', 'body must be an object', { field: 'body' });
  }
  const cls = input.class ?? 'event';
  if (cls !== 'transaction' && cls !== 'event' && cls !== 'telemetry') {
    throw new TerminalError('TERM_ERR_OUTBOX_RECORD_INVALID', 'unknown class', { field: 'class' });
  }
  return cls;
}

/** Merges partial limits over the defaults and checks them. @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` */
export function resolveLimits(defaults: OutboxLimits, partial: Partial<OutboxLimits> | undefined): OutboxLimits {
  const l = { ...defaults, ...(partial ?? {}) };
  const ok = Number.isSafeInteger(l.maxRecords) && l.maxRecords >= 1 && Number.isSafeInteger(l.maxBytes) && l.maxBytes >= 64 &&
    l.telemetryShare > 0 && l.telemetryShare <= 1 && Number.isSafeInteger(l.maxRecordBytes) && l.maxRecordBytes >= 64;
  if (!ok) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'outbox limits', { field: 'limits' });
  return l;
}
