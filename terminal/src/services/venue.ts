/**
 * The venue gate service: decides entries locally (sub-second, offline included) with the pure
 * rules of `@onecard/protocol/venue`, journals every decision with its reason in the outbox
 * (`venue.entry` as a transaction before the gate opens, `venue.refused` and `venue.exit` as
 * events), and keeps the gate's own counts of the day (its ledger) and the last venue snapshot
 * from the fleet server (the other gates' counts, events and registered holders) in small files
 * of the data dir, so a restart — or a day offline — keeps them. The snapshot is fetched every
 * `venues.syncIntervalSeconds` and at once after the fleet link comes back; decisions that depend
 * on it (capacity, registered-only days) are refused once it is older than `venues.maxStaleSeconds`.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { maskCardNumber } from '@onecard/protocol/ssc';
import {
  VENUE_REASONS, decideEntry, ledgerFor, parseVenueSnapshot, recordExit, venueCategory, venueDataFresh, venueHolderKey, venueLocalTime, venueOccupancy, venueOpenAt,
  type VenueDecision, type VenueHolder, type VenueLedger, type VenueReason, type VenueRulesDocument, type VenueSnapshotValue,
} from '@onecard/protocol/venue';
import { TerminalError } from '../errors.ts';
import type { Outbox } from '../agent/outbox-types.ts';
import type { BasicInfo } from './basic-info.ts';

/** What the gate tells the turnstile and the local API about one decision. */
export interface VenueDecisionView {
  readonly admit: boolean;
  readonly reason: VenueReason;
  readonly message: string;
  readonly via: 'card' | 'ecard';
  readonly venueId: string;
  readonly date: string;
  readonly time: string;
  readonly category?: string;
  readonly priceFen?: number;
  readonly eventId?: string;
  readonly occupancy: number;
  /** Whether the venue data (snapshot) was current. */
  readonly fresh: boolean;
  /** Masked card number (card) or masked ID (e-card). */
  readonly holder?: string;
  /** Terminal error code behind a `card-invalid` / `ecard-invalid` refusal. */
  readonly code?: string;
}

/** The server link: fetch the snapshot of a venue, register a card for an event. */
export interface VenueServerLink {
  snapshot(venueId: string): Promise<unknown>;
  register(eventId: string, cardNumber: string): Promise<Record<string, unknown>>;
}

export interface VenueGateOptions {
  /** The rules in effect (fleet configuration `venues`), read at every decision. */
  readonly rules: () => VenueRulesDocument | undefined;
  /** Where the ledger and the snapshot are kept (`DIR/venue/`); in memory only without it. */
  readonly dir?: string | undefined;
  readonly outbox?: Outbox | undefined;
  /** Told after each journaled record (the agent sends it without waiting for its tick). */
  readonly journaled?: () => void;
  readonly clock: () => number;
  /** Whether the hotlist is older than `hotlist.maxStaleSeconds` (card entries refused as for fares). */
  readonly hotlistStale: () => boolean;
  readonly server?: VenueServerLink | undefined;
  readonly logger?: Logger | undefined;
}

/** Codes of a card read that refuse the card itself (mapped to a venue reason). */
const CARD_STATUS: Readonly<Record<string, VenueHolder['status']>> = {
  TERM_ERR_CARD_HOTLISTED: 'hotlisted', TERM_ERR_CARD_EXPIRED: 'expired', TERM_ERR_CARD_NOT_YET_VALID: 'not-yet-valid',
};
/** Codes of a card read that mean "not a usable card" (journaled as `card-invalid`). */
const CARD_INVALID = new Set(['TERM_ERR_CARD_NOT_GENUINE', 'TERM_ERR_WRONG_CARD_TYPE', 'TERM_ERR_CARD_DATA', 'TERM_ERR_CARD_STATUS', 'TERM_ERR_EXTERNAL_AUTH_FAILED']);

const codeOf = (e: unknown): string => ((e as { code?: unknown }).code as string | undefined) ?? 'TERM_ERR_API_INTERNAL';

async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

async function readJson(file: string): Promise<unknown> {
  try { return JSON.parse(await readFile(file, 'utf8')); } catch { return undefined; }
}

const isLedger = (v: unknown): v is VenueLedger => {
  const l = v as Partial<VenueLedger> | undefined;
  return typeof l?.date === 'string' && Number.isSafeInteger(l.entries) && Number.isSafeInteger(l.exits) && typeof l.holders === 'object' && l.holders !== null
    && Object.values(l.holders).every((n) => Number.isSafeInteger(n));
};

/** The gate. Decisions run one at a time (the ledger is updated in order). */
export class VenueGate {
  readonly #o: VenueGateOptions;
  #ledger: VenueLedger | undefined;
  #venueOfLedger: string | undefined;
  #snapshot: { value: VenueSnapshotValue; receivedAt: number } | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #lastSync: { at: number; ok: boolean; code?: string } | undefined;
  #syncing: Promise<boolean> | undefined;
  #closed = false;

  private constructor(o: VenueGateOptions) { this.#o = o; }

  /**
   * Opens the gate with its saved ledger and snapshot (a missing or unreadable file starts empty).
   */
  static async open(o: VenueGateOptions): Promise<VenueGate> {
    const g = new VenueGate(o);
    if (o.dir !== undefined) {
      const l = await readJson(join(o.dir, 'ledger.json')) as { venueId?: unknown; ledger?: unknown } | undefined;
      if (typeof l?.venueId === 'string' && isLedger(l.ledger)) { g.#ledger = l.ledger; g.#venueOfLedger = l.venueId; }
      const s = await readJson(join(o.dir, 'snapshot.json')) as { value?: unknown; receivedAt?: unknown } | undefined;
      if (s !== undefined && Number.isSafeInteger(s.receivedAt)) {
        try { g.#snapshot = { value: parseVenueSnapshot(s.value), receivedAt: s.receivedAt as number }; } catch { /* ignored: fetched again */ }
      }
    }
    return g;
  }

  #rules(): VenueRulesDocument {
    const r = this.#o.rules();
    if (r === undefined) throw new TerminalError('TERM_ERR_VENUE_NOT_CONFIGURED');
    return r;
  }

  /** The ledger of the current venue (another venue's ledger counts nothing). */
  #ledgerOf(r: VenueRulesDocument): VenueLedger | undefined {
    return this.#venueOfLedger === r.venueId ? this.#ledger : undefined;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #saveLedger(venueId: string, ledger: VenueLedger): Promise<void> {
    this.#ledger = ledger;
    this.#venueOfLedger = venueId;
    if (this.#o.dir === undefined) return;
    try {
      await writeAtomic(join(this.#o.dir, 'ledger.json'), JSON.stringify({ venueId, ledger }));
    } catch (e) {
      throw new TerminalError('TERM_ERR_VENUE_STATE_IO', 'ledger', {}, { cause: e });
    }
  }

  async #journal(type: 'venue.entry' | 'venue.refused' | 'venue.exit', body: Record<string, unknown>, cls: 'transaction' | 'event'): Promise<void> {
    const ob = this.#o.outbox;
    if (ob === undefined) return;
    try {
      await ob.append({ type, body, class: cls });
      this.#o.journaled?.();
    } catch (e) {
      if (cls === 'transaction') throw e;
      this.#o.logger?.error({ code: codeOf(e), type }, 'venue record not journaled');
    }
  }

  /**
   * Decides the entry of a holder, journals it and (admitted) counts it. An admission is journaled
   * as a transaction before it is reported: when the outbox refuses it, the entry is refused by
   * the error (`TERM_ERR_OUTBOX_FULL`) and nothing is counted.
   * @throws TerminalError `TERM_ERR_VENUE_NOT_CONFIGURED`, `TERM_ERR_OUTBOX_*`, `TERM_ERR_VENUE_STATE_IO`
   */
  decide(holder: VenueHolder, via: 'card' | 'ecard', shown?: string, code?: string): Promise<VenueDecisionView> {
    return this.#serial(async () => {
      const rules = this.#rules();
      const now = this.#o.clock();
      const d: VenueDecision = decideEntry({ rules, now, ledger: this.#ledgerOf(rules), snapshot: this.#snapshot, hotlistStale: holder.kind === 'card' && this.#o.hotlistStale() }, holder);
      return this.#record(rules, d, via, holder, shown, code);
    });
  }

  /** Journals a refusal decided before the rules (unreadable card, e-card code not accepted). */
  refuse(reason: 'card-invalid' | 'ecard-invalid', via: 'card' | 'ecard', code: string): Promise<VenueDecisionView> {
    return this.#serial(async () => {
      const rules = this.#rules();
      const now = this.#o.clock();
      const local = venueLocalTime(now, rules.timeZone);
      const ledger = ledgerFor(this.#ledgerOf(rules), local.date);
      const snap = this.#snapshot;
      const d: VenueDecision = { admit: false, reason, local, ledger, occupancy: venueOccupancy({ rules, snapshot: snap }, ledger), fresh: venueDataFresh({ rules, snapshot: snap, now }) };
      return this.#record(rules, d, via, undefined, undefined, code);
    });
  }

  async #record(rules: VenueRulesDocument, d: VenueDecision, via: 'card' | 'ecard', holder: VenueHolder | undefined, shown: string | undefined, code: string | undefined): Promise<VenueDecisionView> {
    const body: Record<string, unknown> = {
      venueId: rules.venueId, date: d.local.date, reason: d.reason, via, occupancy: d.occupancy, offline: !d.fresh,
      ...(holder === undefined || /^0{32}$/.test(holder.key) ? {} : { holderKey: holder.key }),
      ...(d.category === undefined ? {} : { category: d.category, priceFen: d.priceFen }),
      ...(d.eventId === undefined ? {} : { eventId: d.eventId }),
      ...(code === undefined ? {} : { code }),
    };
    if (d.admit) {
      await this.#journal('venue.entry', body, 'transaction');
      await this.#saveLedger(rules.venueId, d.ledger);
    } else {
      await this.#journal('venue.refused', body, 'event');
    }
    this.#o.logger?.info({ venueId: rules.venueId, admit: d.admit, reason: d.reason, via, occupancy: d.occupancy, ...(code === undefined ? {} : { code }) }, 'venue decision');
    return {
      admit: d.admit, reason: d.reason, message: VENUE_REASONS[d.reason], via, venueId: rules.venueId, date: d.local.date, time: d.local.time,
      ...(d.category === undefined ? {} : { category: d.category, priceFen: d.priceFen }),
      ...(d.eventId === undefined ? {} : { eventId: d.eventId }),
      occupancy: d.occupancy, fresh: d.fresh,
      ...(shown === undefined ? {} : { holder: shown }),
      ...(code === undefined ? {} : { code }),
    };
  }

  /** Decides the entry of a physical card from its basic-information read. */
  async enterCard(info: BasicInfo): Promise<VenueDecisionView> {
    const rules = this.#rules();
    return this.decide({
      kind: 'card', key: venueHolderKey(rules.venueId, 'card', info.cardNumber), generation: info.generation, cardType: info.cardType, idNumber: info.ssn, status: 'ok',
    }, 'card', maskCardNumber(info.cardNumber));
  }

  /**
   * Decides the entry of a card whose read failed: hotlisted / expired / not yet valid are rule
   * refusals (journaled with the masked holder key when the card number is known); a card that is
   * not genuine or unreadable is `card-invalid`. Rethrows anything else (no card, reader errors).
   */
  async enterCardError(e: unknown, cardNumber?: string): Promise<VenueDecisionView> {
    const code = codeOf(e);
    const status = CARD_STATUS[code];
    if (status !== undefined) {
      const rules = this.#rules();
      const key = cardNumber === undefined ? '0'.repeat(32) : venueHolderKey(rules.venueId, 'card', cardNumber);
      return this.decide({ kind: 'card', key, status }, 'card', cardNumber === undefined ? undefined : maskCardNumber(cardNumber), code);
    }
    if (CARD_INVALID.has(code)) return this.refuse('card-invalid', 'card', code);
    throw e;
  }

  /** Decides the entry of a verified e-card (its holder reference identifies the holder). */
  async enterEcard(identity: { readonly holderRef: string; readonly maskedId: string }): Promise<VenueDecisionView> {
    const rules = this.#rules();
    return this.decide({ kind: 'ecard', key: venueHolderKey(rules.venueId, 'ecard', identity.holderRef), status: 'ok' }, 'ecard', identity.maskedId);
  }

  /** Counts one exit (exit sensor or exit tap), journaled as `venue.exit`. */
  exit(): Promise<{ occupancy: number; date: string }> {
    return this.#serial(async () => {
      const rules = this.#rules();
      const x = recordExit({ rules, now: this.#o.clock(), ledger: this.#ledgerOf(rules), snapshot: this.#snapshot });
      await this.#journal('venue.exit', { venueId: rules.venueId, date: x.local.date, reason: 'exit', via: 'sensor', occupancy: x.occupancy }, 'event');
      await this.#saveLedger(rules.venueId, x.ledger);
      return { occupancy: x.occupancy, date: x.local.date };
    });
  }

  /**
   * Fetches the venue snapshot from the fleet server and keeps it (memory and file). Resolves
   * `false` when the server could not be reached or answered something invalid (the previous
   * snapshot is kept).
   */
  sync(): Promise<boolean> {
    if (this.#syncing !== undefined) return this.#syncing;
    const run = (async () => {
      const rules = this.#o.rules();
      const server = this.#o.server;
      if (rules === undefined || server === undefined) return false;
      const at = this.#o.clock();
      try {
        const value = parseVenueSnapshot(await server.snapshot(rules.venueId));
        if (value.venueId !== rules.venueId) throw new TerminalError('TERM_ERR_VENUE_OFFLINE', 'snapshot of another venue');
        const receivedAt = this.#o.clock();
        this.#snapshot = { value, receivedAt };
        this.#lastSync = { at, ok: true };
        if (this.#o.dir !== undefined) await writeAtomic(join(this.#o.dir, 'snapshot.json'), JSON.stringify({ value, receivedAt })).catch((e: unknown) => this.#o.logger?.warn({ err: (e as Error).message }, 'venue snapshot not saved'));
        return true;
      } catch (e) {
        this.#lastSync = { at, ok: false, code: codeOf(e) };
        this.#o.logger?.info({ code: codeOf(e) }, 'venue snapshot not fetched');
        return false;
      }
    })();
    this.#syncing = run;
    return run.finally(() => { this.#syncing = undefined; });
  }

  /** Starts the periodic sync (`venues.syncIntervalSeconds`, re-read every round). */
  start(): void {
    const tick = (): void => {
      if (this.#closed) return;
      const r = this.#o.rules();
      // Without rules yet, look again soon: the first venue configuration is synced within 2 s.
      const next = r === undefined ? 2000 : r.syncIntervalSeconds * 1000;
      const go = r === undefined ? Promise.resolve(false) : this.sync();
      void go.finally(() => { if (!this.#closed) { this.#timer = setTimeout(tick, next); this.#timer.unref(); } });
    };
    tick();
  }

  /** What the gate knows now (local API status). */
  status(): Record<string, unknown> {
    const rules = this.#o.rules();
    if (rules === undefined) return { configured: false };
    const now = this.#o.clock();
    const local = venueLocalTime(now, rules.timeZone);
    const ledger = ledgerFor(this.#ledgerOf(rules), local.date);
    const snap = this.#snapshot;
    const today = snap?.value.venueId === rules.venueId ? snap.value.events.filter((e) => e.date === local.date) : [];
    return {
      configured: true, venueId: rules.venueId, ...(rules.name === undefined ? {} : { name: rules.name }),
      date: local.date, time: local.time,
      open: !rules.closedDates.includes(local.date) && venueOpenAt(rules, local),
      registeredOnly: rules.registeredOnlyDates.includes(local.date) || today.length > 0,
      occupancy: venueOccupancy({ rules, snapshot: snap }, ledger), capacity: rules.capacity,
      gate: { entries: ledger.entries, exits: ledger.exits },
      fresh: venueDataFresh({ rules, snapshot: snap, now }),
      snapshot: snap === undefined ? null : {
        date: snap.value.date, asOf: snap.value.asOf, receivedAt: snap.receivedAt, others: { entries: snap.value.others.entries, exits: snap.value.others.exits },
        events: snap.value.events.map((e) => ({ eventId: e.eventId, name: e.name, date: e.date, capacity: e.capacity, registered: e.holders.length })),
      },
      lastSync: this.#lastSync ?? null,
    };
  }

  /**
   * What the venue knows of the holder of a card today, for the kiosk (after card + PIN): entries
   * of the day across the venue's gates against the daily limit, the fare category and price the
   * rules give the holder, the events the holder is registered for (snapshot), and what a gate
   * would decide now — computed with the same pure rules, nothing journaled or counted.
   * @throws TerminalError `TERM_ERR_VENUE_NOT_CONFIGURED`
   */
  holderView(info: BasicInfo): Record<string, unknown> {
    const rules = this.#rules();
    const now = this.#o.clock();
    const local = venueLocalTime(now, rules.timeZone);
    const ledger = ledgerFor(this.#ledgerOf(rules), local.date);
    const snap = this.#snapshot?.value.venueId === rules.venueId ? this.#snapshot : undefined;
    const holder: VenueHolder = { kind: 'card', key: venueHolderKey(rules.venueId, 'card', info.cardNumber), generation: info.generation, cardType: info.cardType, idNumber: info.ssn, status: 'ok' };
    const others = snap?.value.date === local.date ? snap.value.others.holders[holder.key] ?? 0 : 0;
    const fare = venueCategory(rules, holder, local.date);
    const preview = decideEntry({ rules, now, ledger, snapshot: snap, hotlistStale: this.#o.hotlistStale() }, holder);
    return {
      venueId: rules.venueId, ...(rules.name === undefined ? {} : { name: rules.name }), date: local.date, time: local.time,
      open: !rules.closedDates.includes(local.date) && venueOpenAt(rules, local),
      entriesToday: others + (ledger.holders[holder.key] ?? 0), maxDailyEntries: rules.maxDailyEntries,
      category: fare.category, priceFen: fare.priceFen, standardPriceFen: rules.priceFen,
      registrations: (snap?.value.events ?? []).filter((e) => e.holders.includes(holder.key)).map((e) => ({ eventId: e.eventId, name: e.name, date: e.date })),
      entryNow: { admit: preview.admit, reason: preview.reason },
      fresh: venueDataFresh({ rules, snapshot: snap, now }),
    };
  }

  /** Registers the holder of a card for an event with the fleet server (kiosk; the PIN was verified on the card). */
  async register(eventId: string, cardNumber: string): Promise<Record<string, unknown>> {
    const server = this.#o.server;
    if (server === undefined) throw new TerminalError('TERM_ERR_VENUE_OFFLINE', 'no fleet server link');
    return server.register(eventId, cardNumber);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#chain;
    await this.#syncing;
  }
}

/** The fleet server link over HTTP with the terminal's credentials (Basic). */
export function httpVenueServerLink(o: { readonly serverUrl: string; readonly terminalId: string; readonly password: string; readonly timeoutMs?: number; readonly fetch?: typeof fetch }): VenueServerLink {
  const authorization = `Basic ${Buffer.from(`${o.terminalId}:${o.password}`, 'utf8').toString('base64')}`;
  const call = async (path: string, init: { method: string; body?: string }): Promise<{ status: number; body: unknown }> => {
    let res: Response;
    try {
      res = await (o.fetch ?? fetch)(`${o.serverUrl}${path}`, {
        method: init.method, headers: { authorization, accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
      });
    } catch (e) {
      throw new TerminalError('TERM_ERR_VENUE_OFFLINE', 'fleet server unreachable', {}, { cause: e });
    }
    const text = (await res.text()).slice(0, 8 * 1024 * 1024);
    let body: unknown;
    try { body = JSON.parse(text); } catch { body = undefined; }
    return { status: res.status, body };
  };
  return {
    snapshot: async (venueId) => {
      const r = await call(`/api/v1/terminal/venue?venueId=${encodeURIComponent(venueId)}`, { method: 'GET' });
      if (r.status !== 200) throw new TerminalError('TERM_ERR_VENUE_OFFLINE', `fleet server answered HTTP ${r.status}`);
      return r.body;
    },
    register: async (eventId, cardNumber) => {
      const r = await call('/api/v1/terminal/venue/registrations', { method: 'POST', body: JSON.stringify({ eventId, cardNumber, pinVerified: true }) });
      const b = r.body as Record<string, unknown> | undefined;
      if ((r.status === 200 || r.status === 201) && b !== undefined) {
        return { eventId: b['eventId'], name: b['name'], date: b['date'], status: b['status'], registered: b['registered'], capacity: b['capacity'] };
      }
      const code = (b?.['error'] as { code?: unknown } | undefined)?.code;
      if (typeof code === 'string' && /^SRV_ERR_[A-Z_]{1,60}$/.test(code) && r.status < 500) throw new TerminalError('TERM_ERR_VENUE_REGISTRATION_REFUSED', undefined, { serverCode: code });
      throw new TerminalError('TERM_ERR_VENUE_OFFLINE', `fleet server answered HTTP ${r.status}`);
    },
  };
}
