/**
 * The registry service: turns validated card input into sealed, hashed store records (bulk import,
 * streaming and idempotent; single updates), applies lifecycle events through the state machine,
 * and keeps the hotlist derived from the registry: a registry card is listed exactly when its
 * status is a hotlisted one. Loss reports and cancellations that arrive through the hotlist routes
 * are routed through here for registry cards; terminal records (applied to the hotlist at ingest)
 * are screened before and followed after their commit. Cards the registry does not know keep the
 * hotlist behaviour they always had.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ServerError } from '../errors.ts';
import type { Clock } from '../context.ts';
import type { AuditOf, HotlistChange, NewAuditRecord } from '../store/types.ts';
import type { CardRecord, CardTransition, RegistryStore } from '../store/registry-types.ts';
import {
  HOTLISTED_STATUSES, maskIdNumber, maskName, step, validateCard, type CardEvent, type CardInput, type CardStatus, type RegionCodes, type RowProblem,
} from './model.ts';
import type { PiiCipher } from './pii.ts';

/** Rows per store transaction during an import. */
export const IMPORT_BATCH = 1000;
/** Refused rows listed in full in an import report (the counts are always complete). */
export const IMPORT_REPORT_MAX_REFUSED = 1000;

export interface ImportReport {
  readonly id: string;
  readonly format: 'csv' | 'jsonl';
  readonly state: 'running' | 'done' | 'failed';
  readonly rows: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly refusedCount: number;
  /** Refused rows (line number and the fields that failed; never the values). */
  readonly refused: readonly { readonly line: number; readonly problems: readonly RowProblem[] }[];
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

/** A card as shown to admins: personal data masked unless revealed. */
export interface CardView {
  readonly cardNumber: string;
  readonly idNumber: string;
  readonly name: string;
  readonly region: string;
  readonly generation: string;
  readonly issuedOn: string;
  readonly expiresOn: string;
  readonly status: CardStatus;
  readonly replacedBy: string | null;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

const CSV_FIELDS = ['cardNumber', 'idNumber', 'name', 'region', 'generation', 'issuedOn', 'expiresOn', 'status'] as const;
const CSV_REQUIRED = CSV_FIELDS.slice(0, 7);

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside fields). */
export function csvFields(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return undefined;
        if (line[i] === '"') {
          if (line[i + 1] === '"') { v += '"'; i += 2; continue; }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push(v);
      if (i < line.length && line[i] !== ',') return undefined;
      i++;
    } else {
      const j = line.indexOf(',', i);
      const end = j < 0 ? line.length : j;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

export interface RegistryServiceOptions {
  readonly store: RegistryStore;
  readonly cipher: PiiCipher;
  readonly regions: RegionCodes;
  readonly clock: Clock;
}

export class RegistryService {
  readonly store: RegistryStore;
  readonly cipher: PiiCipher;
  readonly regions: RegionCodes;
  readonly #clock: Clock;

  constructor(opts: RegistryServiceOptions) {
    this.store = opts.store;
    this.cipher = opts.cipher;
    this.regions = opts.regions;
    this.#clock = opts.clock;
  }

  /** The store record of a validated card (sealed and hashed). */
  toRecord(c: CardInput): Omit<CardRecord, 'feedSeq' | 'updatedAt' | 'updatedBy' | 'createdAt' | 'replacedBy'> {
    return {
      cardNumber: c.cardNumber, idHash: this.cipher.idHash(c.idNumber), holderHash: this.cipher.holderHash(c.idNumber, c.name),
      idSealed: this.cipher.seal(c.cardNumber, 'idNumber', c.idNumber), nameSealed: this.cipher.seal(c.cardNumber, 'name', c.name),
      region: c.region, generation: c.generation, issuedOn: c.issuedOn, expiresOn: c.expiresOn, status: c.status,
      contentHash: this.cipher.contentHash([c.cardNumber, c.idNumber, c.name, c.region, c.generation, c.issuedOn, c.expiresOn]),
    };
  }

  /**
   * Upserts validated cards; new cards imported in a hotlisted status are listed in the same step.
   * Returns the outcome per card and the new hotlist version, if any.
   */
  async upsert(cards: readonly CardInput[], actor: string): Promise<{ outcomes: ('created' | 'updated' | 'unchanged')[]; hotlistVersion: number | null }> {
    const at = this.#clock.now();
    const outcomes = await this.store.upsertCards(cards.map((c) => this.toRecord(c)), at, actor);
    const listed = cards.filter((c, i) => outcomes[i] === 'created' && HOTLISTED_STATUSES.has(c.status));
    let hotlistVersion: number | null = null;
    if (listed.length > 0) {
      hotlistVersion = (await this.store.transition(listed.map((c) => ({ cardNumber: c.cardNumber, from: c.status, to: c.status, replacedBy: null, action: 'import-listed', actor, at, details: {} })), HOTLISTED_STATUSES)).hotlistVersion;
    }
    return { outcomes, hotlistVersion };
  }

  /**
   * Streams an import: CSV with a header naming at least the required columns, or JSON lines.
   * Rows are validated, sealed and written in batches of {@link IMPORT_BATCH}; `progress` sees the
   * report after each batch. Idempotent: re-importing the same rows changes nothing.
   * @throws ServerError `SRV_ERR_REGISTRY_IMPORT_FORMAT` (CSV header missing or wrong)
   */
  async import(id: string, format: 'csv' | 'jsonl', input: Readable, actor: string, progress: (r: ImportReport) => void, onHotlist: (version: number) => void): Promise<ImportReport> {
    let report: ImportReport = { id, format, state: 'running', rows: 0, created: 0, updated: 0, unchanged: 0, refusedCount: 0, refused: [], startedAt: this.#clock.now(), finishedAt: null };
    const refused: { line: number; problems: RowProblem[] }[] = [];
    let header: string[] | undefined;
    let batch: CardInput[] = [];
    let lineNo = 0;
    const counts = { created: 0, updated: 0, unchanged: 0, refused: 0, rows: 0 };
    const refuse = (line: number, problems: RowProblem[]): void => {
      counts.refused++;
      if (refused.length < IMPORT_REPORT_MAX_REFUSED) refused.push({ line, problems });
    };
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const { outcomes, hotlistVersion } = await this.upsert(batch, actor);
      for (const o of outcomes) counts[o]++;
      if (hotlistVersion !== null) onHotlist(hotlistVersion);
      batch = [];
      report = { ...report, rows: counts.rows, created: counts.created, updated: counts.updated, unchanged: counts.unchanged, refusedCount: counts.refused, refused: [...refused] };
      progress(report);
    };
    const rl = createInterface({ input, crlfDelay: Infinity });
    for await (const rawLine of rl) {
      lineNo++;
      const line = lineNo === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
      if (line.trim() === '') continue;
      let raw: Record<string, unknown> | undefined;
      if (format === 'csv') {
        const fields = csvFields(line);
        if (header === undefined) {
          header = fields?.map((f) => f.trim());
          if (header === undefined || !CSV_REQUIRED.every((f) => header!.includes(f))) {
            throw new ServerError('SRV_ERR_REGISTRY_IMPORT_FORMAT', `the CSV header must name ${CSV_REQUIRED.join(', ')} (optionally status)`);
          }
          continue;
        }
        counts.rows++;
        if (fields === undefined || fields.length !== header.length) { refuse(lineNo, [{ field: '*', reason: 'columns' }]); continue; }
        raw = {};
        for (let i = 0; i < header.length; i++) if ((CSV_FIELDS as readonly string[]).includes(header[i]!)) raw[header[i]!] = fields[i];
      } else {
        counts.rows++;
        try {
          const v = JSON.parse(line) as unknown;
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
          raw = v as Record<string, unknown>;
        } catch {
          refuse(lineNo, [{ field: '*', reason: 'json' }]);
          continue;
        }
      }
      const r = validateCard(raw, this.regions);
      if (!r.ok) { refuse(lineNo, r.problems); continue; }
      batch.push(r.card);
      if (batch.length >= IMPORT_BATCH) await flush();
    }
    if (format === 'csv' && header === undefined) throw new ServerError('SRV_ERR_REGISTRY_IMPORT_FORMAT', 'empty CSV: no header');
    await flush();
    report = { ...report, state: 'done', rows: counts.rows, created: counts.created, updated: counts.updated, unchanged: counts.unchanged, refusedCount: counts.refused, refused: [...refused], finishedAt: this.#clock.now() };
    progress(report);
    return report;
  }

  /**
   * Applies one lifecycle event to a registry card (status, history, feed and hotlist in one commit).
   * @throws ServerError `SRV_ERR_NOT_FOUND`, `SRV_ERR_REGISTRY_TRANSITION`, `SRV_ERR_CONFLICT`
   */
  async apply(cardNumber: string, event: CardEvent, actor: string, details: Record<string, unknown>, audit?: (r: { hotlistVersion: number | null; from: CardStatus; to: CardStatus }) => NewAuditRecord[]): Promise<{ card: CardRecord; changed: boolean; hotlistVersion: number | null }> {
    const card = await this.store.getCard(cardNumber);
    if (card === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
    if (event.type === 'replace' && (await this.store.getCard(event.replacedBy)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'the replacing card is not in the registry', { replacedBy: event.replacedBy });
    const s = step({ status: card.status, replacedBy: card.replacedBy }, event);
    if (!s.ok) throw new ServerError('SRV_ERR_REGISTRY_TRANSITION', s.reason, { status: card.status, event: event.type });
    if (!s.changed) return { card, changed: false, hotlistVersion: null };
    const at = this.#clock.now();
    const ch: CardTransition = { cardNumber, from: card.status, to: s.state.status, replacedBy: s.state.replacedBy, action: event.type, actor, at, details };
    const res = await this.store.transition([ch], HOTLISTED_STATUSES, audit === undefined ? undefined : (r) => audit({ ...r, from: card.status, to: s.state.status }));
    return { card: { ...card, status: s.state.status, replacedBy: s.state.replacedBy, updatedAt: at, updatedBy: actor }, changed: true, hotlistVersion: res.hotlistVersion };
  }

  /**
   * The hotlist routes' report/cancel for the registry's cards: each registry card goes through its
   * lifecycle (report-loss / cancel-loss) in one commit with its audit entry; cards the registry
   * does not know are returned in `others` for the plain hotlist.
   */
  async hotlistRequest(cardNumbers: readonly string[], op: 'report' | 'cancel', actor: string, reason: string, audit: (card: string, version: number | null, from: CardStatus, to: CardStatus) => NewAuditRecord[]): Promise<{ changed: string[]; unchanged: string[]; refused: { cardNumber: string; status: CardStatus }[]; others: string[]; versions: number[] }> {
    const known = new Map((await this.store.getCards(cardNumbers)).map((c) => [c.cardNumber, c]));
    const out = { changed: [] as string[], unchanged: [] as string[], refused: [] as { cardNumber: string; status: CardStatus }[], others: [] as string[], versions: [] as number[] };
    for (const n of cardNumbers) {
      const c = known.get(n);
      if (c === undefined) { out.others.push(n); continue; }
      try {
        const r = await this.apply(n, { type: op === 'report' ? 'report-loss' : 'cancel-loss' }, actor, { reason }, (x) => audit(n, x.hotlistVersion, x.from, x.to));
        if (r.changed) out.changed.push(n); else out.unchanged.push(n);
        if (r.hotlistVersion !== null) out.versions.push(r.hotlistVersion);
      } catch (e) {
        if (!(e instanceof ServerError) || e.code !== 'SRV_ERR_REGISTRY_TRANSITION') throw e;
        // A report on a card already refused everywhere (replaced, cancelled) is a no-op; a
        // cancellation that would make such a card usable again is refused.
        if (op === 'report' && HOTLISTED_STATUSES.has(c.status)) out.unchanged.push(n);
        else out.refused.push({ cardNumber: n, status: c.status });
      }
    }
    return out;
  }

  /**
   * Before an ingest commit: drops the terminal hotlist changes the registry refuses (a
   * cancellation that would make a replaced or cancelled card usable, a report on a card the
   * registry already refuses is kept: it changes nothing). Returns the kept changes and the
   * refused event ids.
   */
  async screenIngest(changes: ReadonlyMap<string, HotlistChange>): Promise<{ kept: Map<string, HotlistChange>; refused: string[] }> {
    const known = new Map((await this.store.getCards([...new Set([...changes.values()].map((c) => c.cardNumber))])).map((c) => [c.cardNumber, c]));
    const kept = new Map<string, HotlistChange>();
    const refused: string[] = [];
    for (const [eventId, ch] of changes) {
      const c = known.get(ch.cardNumber);
      if (c !== undefined && 'cancel' in ch && (c.status === 'replaced' || c.status === 'cancelled')) refused.push(eventId);
      else kept.set(eventId, ch);
    }
    return { kept, refused };
  }

  /**
   * After an ingest commit: the registry follows the hotlist operations a terminal's records made
   * (status, history and feed; the hotlist already holds them). A change the lifecycle refuses
   * (the card changed meanwhile) is undone on the hotlist so the registry stays the truth.
   * Returns the hotlist version of such a correction, if any.
   */
  async followIngest(ops: readonly { cardNumber: string; op: 'add' | 'remove' }[], actor: string, eventOf: ReadonlyMap<string, string>, staffOf: ReadonlyMap<string, string> = new Map()): Promise<number | null> {
    if (ops.length === 0) return null;
    const at = this.#clock.now();
    const known = new Map((await this.store.getCards(ops.map((o) => o.cardNumber))).map((c) => [c.cardNumber, c]));
    let version: number | null = null;
    for (const o of ops) {
      const c = known.get(o.cardNumber);
      if (c === undefined) continue;
      const s = step({ status: c.status, replacedBy: c.replacedBy }, { type: o.op === 'add' ? 'report-loss' : 'cancel-loss' });
      // The member of staff of a desk action, as the ingest accepted it (`routes/desk-staff.ts`).
      const details = { ...(eventOf.has(o.cardNumber) ? { eventId: eventOf.get(o.cardNumber) } : {}), ...(staffOf.has(o.cardNumber) ? { staffId: staffOf.get(o.cardNumber) } : {}) };
      if (s.ok && s.changed) {
        await this.store.followHotlist([{ cardNumber: c.cardNumber, from: c.status, to: s.state.status, replacedBy: s.state.replacedBy, action: o.op === 'add' ? 'report-loss' : 'cancel-loss', actor, at, details }]);
        known.set(c.cardNumber, { ...c, status: s.state.status, replacedBy: s.state.replacedBy });
      } else if (HOTLISTED_STATUSES.has(c.status) !== (o.op === 'add')) {
        const r = await this.store.transition([{ cardNumber: c.cardNumber, from: c.status, to: c.status, replacedBy: c.replacedBy, action: 'hotlist-restored', actor: 'registry', at, details: { ...details, refused: o.op } }], HOTLISTED_STATUSES);
        if (r.hotlistVersion !== null) version = r.hotlistVersion;
      }
    }
    return version;
  }

  /**
   * Brings registry and hotlist back in line (run at start-up): a usable card that is listed
   * follows as reported lost, a reported-lost card that is not listed follows as loss-cancelled
   * (a terminal's record committed, the registry had not followed yet); a replaced or cancelled
   * card missing from the hotlist is listed again. Registry changes themselves never disagree
   * (they write the hotlist in their own commit). Returns what it did and the new hotlist version.
   */
  async reconcile(): Promise<{ followed: string[]; restored: string[]; hotlistVersion: number | null }> {
    const at = this.#clock.now();
    const out = { followed: [] as string[], restored: [] as string[], hotlistVersion: null as number | null };
    for (const { card: c, listed } of await this.store.hotlistDisagreements([...HOTLISTED_STATUSES])) {
      const s = step({ status: c.status, replacedBy: c.replacedBy }, { type: listed ? 'report-loss' : 'cancel-loss' });
      if (s.ok && s.changed) {
        await this.store.followHotlist([{ cardNumber: c.cardNumber, from: c.status, to: s.state.status, replacedBy: s.state.replacedBy, action: listed ? 'report-loss' : 'cancel-loss', actor: 'registry:reconcile', at, details: { hotlist: listed ? 'listed' : 'not-listed' } }]);
        out.followed.push(c.cardNumber);
      } else {
        const r = await this.store.transition([{ cardNumber: c.cardNumber, from: c.status, to: c.status, replacedBy: c.replacedBy, action: 'hotlist-restored', actor: 'registry:reconcile', at, details: {} }], HOTLISTED_STATUSES);
        if (r.hotlistVersion !== null) out.hotlistVersion = r.hotlistVersion;
        out.restored.push(c.cardNumber);
      }
    }
    return out;
  }

  /** A card for admins: masked, or (`reveal`) the plain values. */
  view(c: CardRecord, reveal: boolean): CardView {
    const id = this.cipher.open(c.cardNumber, 'idNumber', c.idSealed);
    const name = this.cipher.open(c.cardNumber, 'name', c.nameSealed);
    return {
      cardNumber: c.cardNumber, idNumber: reveal ? id : maskIdNumber(id), name: reveal ? name : maskName(name), region: c.region, generation: c.generation,
      issuedOn: c.issuedOn, expiresOn: c.expiresOn, status: c.status, replacedBy: c.replacedBy, updatedAt: c.updatedAt, updatedBy: c.updatedBy,
    };
  }
}

export type { AuditOf };
