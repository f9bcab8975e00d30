/**
 * The card registry's pure core: the card record as the card management system hands it over,
 * its validation (GB 11643 citizen-ID check character, the card-number check character, region
 * codes, dates) and the card status lifecycle as an explicit state machine. No I/O here; the
 * store keeps records, the plugin wires them to HTTP and the hotlist.
 */

export const GENERATIONS = ['1.0', '2.0', '3.0'] as const;
export type Generation = (typeof GENERATIONS)[number];

export const CARD_STATUSES = ['issued', 'active', 'reported-lost', 'loss-cancelled', 'replaced', 'cancelled'] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];

/** Statuses in which a card must be refused by terminals: exactly these are on the hotlist. */
export const HOTLISTED_STATUSES: ReadonlySet<CardStatus> = new Set(['reported-lost', 'replaced', 'cancelled']);
/** Statuses in which a card is usable (answers `usable: true` to departments). */
export const USABLE_STATUSES: ReadonlySet<CardStatus> = new Set(['active', 'loss-cancelled']);

/** Events that move a card through its lifecycle. */
export type CardEvent =
  | { readonly type: 'activate' }
  | { readonly type: 'report-loss' }
  | { readonly type: 'cancel-loss' }
  | { readonly type: 'replace'; readonly replacedBy: string }
  | { readonly type: 'cancel' };
export const CARD_EVENT_TYPES = ['activate', 'report-loss', 'cancel-loss', 'replace', 'cancel'] as const;

/** A card's lifecycle state: its status, and the replacing card when replaced. */
export interface CardState {
  readonly status: CardStatus;
  readonly replacedBy: string | null;
}

/** The result of one step: the new state, or why the event is not allowed in this state. */
export type StepResult = { readonly ok: true; readonly state: CardState; readonly changed: boolean } | { readonly ok: false; readonly reason: string };

/**
 * The lifecycle [ONECARD]:
 * issued → active (回盘/启用); active or loss-cancelled → reported-lost (挂失);
 * reported-lost → loss-cancelled (解挂); issued, active, reported-lost or loss-cancelled →
 * replaced by card N (补换) or cancelled (注销). `replaced` and `cancelled` are final. Repeating the
 * event that led to the current status is a no-op (`changed: false`), so retried reports are
 * idempotent.
 */
export function step(state: CardState, event: CardEvent): StepResult {
  const s = state.status;
  const same = (): StepResult => ({ ok: true, state, changed: false });
  const to = (status: CardStatus, replacedBy: string | null = null): StepResult => ({ ok: true, state: { status, replacedBy }, changed: true });
  const refuse = (): StepResult => ({ ok: false, reason: `${event.type} is not allowed when the card is ${s}` });
  switch (event.type) {
    case 'activate':
      if (s === 'active') return same();
      return s === 'issued' ? to('active') : refuse();
    case 'report-loss':
      if (s === 'reported-lost') return same();
      return s === 'active' || s === 'loss-cancelled' || s === 'issued' ? to('reported-lost') : refuse();
    case 'cancel-loss':
      if (s === 'loss-cancelled') return same();
      return s === 'reported-lost' ? to('loss-cancelled') : refuse();
    case 'replace':
      if (s === 'replaced' && state.replacedBy === event.replacedBy) return same();
      return s === 'replaced' || s === 'cancelled' ? refuse() : to('replaced', event.replacedBy);
    case 'cancel':
      if (s === 'cancelled') return same();
      return s === 'replaced' ? refuse() : to('cancelled');
  }
}

// ── identifiers ──────────────────────────────────────────────────────────────────────────────

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK = '10X98765432';

/** Normalises an ID number: trimmed, a lower-case `x` check character upper-cased [INFER ssc-card §3.3]. */
export function normaliseIdNumber(s: string): string {
  return s.trim().toUpperCase();
}

/** GB 11643 check character of the first 17 digits (ISO 7064 MOD 11-2) [SPEC GB 11643-1999]. */
export function idCheckCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

/** Whether a date `YYYYMMDD` exists in the calendar. */
function isCalendarDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

/**
 * Why a citizen ID number is invalid, or undefined when it is valid: 18 characters, 17 digits and
 * a check character `[0-9X]` that matches [SPEC GB 11643-1999], a real birth date, and (when
 * `regions` is given) an address code whose province is known.
 */
export function idNumberProblem(id: string, regions?: RegionCodes): string | undefined {
  if (!/^[0-9]{17}[0-9X]$/.test(id)) return 'format';
  if (idCheckCharacter(id.slice(0, 17)) !== id[17]) return 'check-digit';
  if (!isCalendarDate(Number(id.slice(6, 10)), Number(id.slice(10, 12)), Number(id.slice(12, 14)))) return 'birth-date';
  if (regions !== undefined && !regions.isKnown(id.slice(0, 6))) return 'address-code';
  return undefined;
}

const CARD_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;

/** Value of a card-number character: digits as themselves, A=10 … Z=35 [SPEC V2 app. A; INFER letters]. */
function cardCharValue(c: string): number {
  const code = c.charCodeAt(0);
  return code <= 57 ? code - 48 : code - 55;
}

/** Check character of the first 8 characters of a card number [SPEC V2 app. A]: 10 → `X`, 11 → `0`. */
export function cardCheckCharacter(first8: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += cardCharValue(first8[i]!) * CARD_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** Why a card number is invalid (format: a capital letter, 7 sequence characters, a check character), or undefined. */
export function cardNumberProblem(card: string): string | undefined {
  if (!/^[A-Z][0-9A-Z]{7}[0-9X]$/.test(card)) return 'format';
  if (cardCheckCharacter(card.slice(0, 8)) !== card[8]) return 'check-digit';
  return undefined;
}

/** The 31 province-level codes of GB/T 2260 (first two digits of a region code). */
const PROVINCES = new Set(['11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65']);

/** Which 6-digit region codes the registry accepts. */
export interface RegionCodes {
  isKnown(code: string): boolean;
}

/**
 * Region codes by GB/T 2260 structure: 6 digits under a known province. With `allowed`, only those
 * codes (a deployment's own list, e.g. the province's prefectures) are accepted.
 */
export function regionCodes(allowed?: readonly string[]): RegionCodes {
  const set = allowed === undefined ? undefined : new Set(allowed);
  return { isKnown: (code) => /^[0-9]{6}$/.test(code) && PROVINCES.has(code.slice(0, 2)) && (set === undefined || set.has(code)) };
}

/** A card as imported or updated (clear personal data; it never leaves the server process this way except to a consented department). */
export interface CardInput {
  readonly cardNumber: string;
  readonly idNumber: string;
  readonly name: string;
  readonly region: string;
  readonly generation: Generation;
  /** `YYYY-MM-DD` */
  readonly issuedOn: string;
  /** `YYYY-MM-DD` */
  readonly expiresOn: string;
  /** Initial status for a new card (default `issued`); ignored for a card the registry has. */
  readonly status: CardStatus;
}

/** One refused field of an input row. */
export interface RowProblem {
  readonly field: string;
  readonly reason: string;
}

const DATE_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
function dateProblem(s: unknown): string | undefined {
  if (typeof s !== 'string') return 'missing';
  const m = DATE_RE.exec(s);
  if (m === null) return 'format';
  return isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3])) ? undefined : 'calendar';
}

/** Names: 1–64 characters, no control or bidi-override characters, no digits-only value. */
function nameProblem(s: unknown): string | undefined {
  if (typeof s !== 'string' || s.trim() === '') return 'missing';
  if (/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(s)) return 'characters';
  if ([...s.trim()].length > 64) return 'length';
  return undefined;
}

/**
 * Validates one raw row (strings from CSV or values from JSON) into a {@link CardInput}, or the
 * list of problems. The first problem per field is reported; personal values are never echoed.
 */
export function validateCard(raw: Readonly<Record<string, unknown>>, regions: RegionCodes): { ok: true; card: CardInput } | { ok: false; problems: RowProblem[] } {
  const problems: RowProblem[] = [];
  const str = (k: string): string => (typeof raw[k] === 'string' ? (raw[k] as string).trim() : '');
  const cardNumber = str('cardNumber').toUpperCase();
  const cp = cardNumberProblem(cardNumber);
  if (cp !== undefined) problems.push({ field: 'cardNumber', reason: cp });
  const idNumber = normaliseIdNumber(str('idNumber'));
  const ip = idNumberProblem(idNumber, regions);
  if (ip !== undefined) problems.push({ field: 'idNumber', reason: ip });
  const np = nameProblem(raw.name);
  if (np !== undefined) problems.push({ field: 'name', reason: np });
  const region = str('region');
  if (!regions.isKnown(region)) problems.push({ field: 'region', reason: 'unknown' });
  const generation = str('generation');
  if (!(GENERATIONS as readonly string[]).includes(generation)) problems.push({ field: 'generation', reason: 'unknown' });
  const dp1 = dateProblem(raw.issuedOn);
  if (dp1 !== undefined) problems.push({ field: 'issuedOn', reason: dp1 });
  const dp2 = dateProblem(raw.expiresOn);
  if (dp2 !== undefined) problems.push({ field: 'expiresOn', reason: dp2 });
  if (dp1 === undefined && dp2 === undefined && (raw.expiresOn as string) <= (raw.issuedOn as string)) problems.push({ field: 'expiresOn', reason: 'before-issue' });
  const statusRaw = raw.status === undefined || raw.status === '' ? 'issued' : raw.status;
  if (!(CARD_STATUSES as readonly unknown[]).includes(statusRaw) || statusRaw === 'replaced') problems.push({ field: 'status', reason: 'unknown' });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, card: { cardNumber, idNumber, name: (raw.name as string).trim().normalize('NFC'), region, generation: generation as Generation, issuedOn: raw.issuedOn as string, expiresOn: raw.expiresOn as string, status: statusRaw as CardStatus } };
}

/** Masks an ID number for display: first 3 and last 2 characters kept (`110***********123X` style). */
export function maskIdNumber(id: string): string {
  return id.length <= 5 ? '*'.repeat(id.length) : `${id.slice(0, 3)}${'*'.repeat(id.length - 5)}${id.slice(-2)}`;
}

/** Masks a name for display: the first character kept. */
export function maskName(name: string): string {
  const chars = [...name];
  return chars.length === 0 ? '' : `${chars[0]}${'*'.repeat(Math.max(1, chars.length - 1))}`;
}
