/**
 * Staff attribution of counter-desk actions (docs/security.md "Staff credentials"). A desk signs a
 * member of staff in with a credential this server issued (`staff.ts`) and sends the staff id
 * with each action it queues: loss reports and their cancellation (解挂), PIN unblock and reload.
 * A terminal's credentials let it claim any staff id, so the id is believed only when a staff
 * credential issued for that member of staff is valid at the terminal's group and was not revoked
 * before the action; otherwise the action is recorded without a member of staff and the refusal is
 * audited (`desk.staff-refused`). A cancellation (解挂) needs an accepted member of staff. Pure
 * functions over the store's staff credentials; the ingest plugin (`ingest.ts`) applies them.
 */
import type { NewAuditRecord, NewEvent, StaffCredentialRecord } from '../store/types.ts';
import { isCardNumber } from './hotlist.ts';

/** Record types of desk actions that may name a member of staff. */
export const DESK_ACTION_TYPES: ReadonlySet<string> = new Set(['card.loss-report', 'card.loss-cancel', 'pin.unblock', 'pin.reload']);
/** PIN services done at the desk through the PSAM [ssc-card §7.9], audited as `desk.pin-unblock` / `desk.pin-reload`. */
export const DESK_PIN_TYPES: ReadonlySet<string> = new Set(['pin.unblock', 'pin.reload']);
/** Shape of a staff id (the issuing route's `STAFF_ID`). */
export const STAFF_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why a claimed staff id is not believed. */
export type StaffRefusal = 'malformed' | 'unknown' | 'group' | 'revoked';

/** The member of staff accepted for a record, or why the claim was refused. */
export type StaffVerdict = { readonly ok: true; readonly staffId: string } | { readonly ok: false; readonly reason: StaffRefusal; readonly claimed?: string };

/**
 * Whether a terminal of `groupId` may name `claimed` for an action at `at` (the record's time):
 * some credential of that member of staff lists the group and was not revoked by then.
 * `undefined` when nothing is claimed (a kiosk action names nobody).
 */
export function staffVerdict(claimed: unknown, credentials: readonly StaffCredentialRecord[], groupId: string | undefined, at: number): StaffVerdict | undefined {
  if (claimed === undefined) return undefined;
  if (typeof claimed !== 'string' || !STAFF_ID_RE.test(claimed)) return { ok: false, reason: 'malformed' };
  const mine = credentials.filter((c) => c.staffId === claimed);
  if (mine.length === 0) return { ok: false, reason: 'unknown', claimed };
  const inGroup = groupId === undefined ? [] : mine.filter((c) => c.groups.includes(groupId));
  if (inGroup.length === 0) return { ok: false, reason: 'group', claimed };
  if (!inGroup.some((c) => c.revokedAt === null || c.revokedAt > at)) return { ok: false, reason: 'revoked', claimed };
  return { ok: true, staffId: claimed };
}

/** The verdict of every desk record of a batch that claims a member of staff, by event id. */
export function staffVerdicts(records: readonly NewEvent[], credentials: readonly StaffCredentialRecord[], groupId: string | undefined): Map<string, StaffVerdict> {
  const out = new Map<string, StaffVerdict>();
  for (const r of records) {
    if (!DESK_ACTION_TYPES.has(r.type)) continue;
    const v = staffVerdict(r.body['staffId'], credentials, groupId, r.ts);
    if (v !== undefined) out.set(r.eventId, v);
  }
  return out;
}

/** Whether any desk record of the batch claims a member of staff (only then are credentials read). */
export function claimsStaff(records: readonly NewEvent[]): boolean {
  return records.some((r) => DESK_ACTION_TYPES.has(r.type) && r.body['staffId'] !== undefined);
}

/**
 * Audit entries of a batch's desk records other than hotlist changes (those are audited with the
 * hotlist): each PIN service with its accepted member of staff, and each refused staff claim.
 * Only what travels in the record goes in: the card number, the result and its code, never a PIN.
 */
export function deskAuditEntries(records: readonly NewEvent[], verdicts: ReadonlyMap<string, StaffVerdict>, actor: string, at: number): NewAuditRecord[] {
  const out: NewAuditRecord[] = [];
  for (const r of records) {
    const v = verdicts.get(r.eventId);
    if (v !== undefined && !v.ok) {
      out.push({ ts: at, actor, action: 'desk.staff-refused', target: r.eventId, ip: '', details: { type: r.type, reason: v.reason, ...(v.claimed === undefined ? {} : { claimedStaffId: v.claimed }) } });
    }
    if (!DESK_PIN_TYPES.has(r.type)) continue;
    const b = r.body;
    const result = b['result'] === 'ok' || b['result'] === 'failed' ? b['result'] : 'unknown';
    const code = typeof b['code'] === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(b['code']) ? b['code'] : undefined;
    out.push({
      ts: at, actor, action: r.type === 'pin.unblock' ? 'desk.pin-unblock' : 'desk.pin-reload', target: isCardNumber(b['cardNumber']) ? b['cardNumber'] : r.eventId, ip: '',
      details: { eventId: r.eventId, result, ...(code === undefined ? {} : { code }), ...(v?.ok === true ? { staffId: v.staffId } : {}) },
    });
  }
  return out;
}
