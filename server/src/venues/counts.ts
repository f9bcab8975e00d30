/**
 * Per-venue counts from the gates' journals: every `venue.entry`, `venue.exit` and
 * `venue.refused` record the gates sent through their outboxes (stored by ingest, deduplicated on
 * `(terminal, eventId)`), folded per venue, local date and gate. The fold reads the events table
 * forward from the last record it saw, so the counts are exactly what the stored journals say;
 * nothing is counted that is not in a gate's journal. The snapshot a gate fetches excludes that
 * gate's own records (it adds its own journal), so nothing is counted twice.
 */
import type { Store } from '../store/types.ts';

/** Counts of one gate for one venue and date. */
export interface GateCounts {
  entries: number;
  exits: number;
  refused: Record<string, number>;
  categories: Record<string, number>;
  holders: Map<string, number>;
}

const VENUE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const HOLDER = /^[0-9a-f]{32}$/;

/** The fold over the events table. */
export class VenueCounts {
  readonly #store: Store;
  #after = 0;
  /** venueId → date → terminalId → counts */
  readonly #by = new Map<string, Map<string, Map<string, GateCounts>>>();
  #running: Promise<void> | undefined;

  constructor(store: Store) { this.#store = store; }

  /** Reads the records stored since the last call (one fold at a time). */
  async refresh(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    this.#running = this.#fold();
    try { await this.#running; } finally { this.#running = undefined; }
  }

  async #fold(): Promise<void> {
    for (;;) {
      const page = await this.#store.listEvents({ typePrefix: 'venue.', afterId: this.#after, limit: 5000 });
      for (const e of page) {
        this.#after = e.id;
        const b = e.body;
        const venueId = b['venueId'];
        const date = b['date'];
        if (typeof venueId !== 'string' || !VENUE_ID.test(venueId) || typeof date !== 'string' || !DATE.test(date)) continue;
        const g = this.#gate(venueId, date, e.terminalId);
        if (e.type === 'venue.entry') {
          g.entries++;
          const cat = typeof b['category'] === 'string' ? b['category'].slice(0, 32) : 'standard';
          g.categories[cat] = (g.categories[cat] ?? 0) + 1;
          const h = b['holderKey'];
          if (typeof h === 'string' && HOLDER.test(h)) g.holders.set(h, (g.holders.get(h) ?? 0) + 1);
        } else if (e.type === 'venue.exit') {
          g.exits++;
        } else if (e.type === 'venue.refused') {
          const r = typeof b['reason'] === 'string' ? b['reason'].slice(0, 40) : 'unknown';
          g.refused[r] = (g.refused[r] ?? 0) + 1;
        }
      }
      if (page.length < 5000) return;
    }
  }

  #gate(venueId: string, date: string, terminalId: string): GateCounts {
    let days = this.#by.get(venueId);
    if (days === undefined) this.#by.set(venueId, days = new Map());
    let gates = days.get(date);
    if (gates === undefined) days.set(date, gates = new Map());
    let g = gates.get(terminalId);
    if (g === undefined) gates.set(terminalId, g = { entries: 0, exits: 0, refused: {}, categories: {}, holders: new Map() });
    return g;
  }

  /** Gates' counts of a venue on a date (after {@link refresh}). */
  gates(venueId: string, date: string): ReadonlyMap<string, GateCounts> {
    return this.#by.get(venueId)?.get(date) ?? new Map();
  }

  /** Dates with records for a venue, ascending. */
  dates(venueId: string): string[] {
    return [...(this.#by.get(venueId)?.keys() ?? [])].sort();
  }

  /** Venues with records, ascending. */
  venues(): string[] {
    return [...this.#by.keys()].sort();
  }

  /** Every gate's counts but `exclude`'s, summed: what a gate adds to its own journal. */
  others(venueId: string, date: string, exclude: string): { entries: number; exits: number; holders: Record<string, number> } {
    let entries = 0;
    let exits = 0;
    const holders: Record<string, number> = {};
    for (const [t, g] of this.gates(venueId, date)) {
      if (t === exclude) continue;
      entries += g.entries;
      exits += g.exits;
      for (const [h, n] of g.holders) holders[h] = (holders[h] ?? 0) + n;
    }
    return { entries, exits, holders };
  }

  /** The venue's totals on a date, per gate and summed. */
  summary(venueId: string, date: string): VenueDaySummary {
    const byTerminal: { terminalId: string; entries: number; exits: number; refused: Record<string, number>; categories: Record<string, number> }[] = [];
    const total = { entries: 0, exits: 0, refused: {} as Record<string, number>, categories: {} as Record<string, number> };
    for (const [terminalId, g] of [...this.gates(venueId, date)].sort(([a], [b]) => (a < b ? -1 : 1))) {
      byTerminal.push({ terminalId, entries: g.entries, exits: g.exits, refused: { ...g.refused }, categories: { ...g.categories } });
      total.entries += g.entries;
      total.exits += g.exits;
      for (const [k, n] of Object.entries(g.refused)) total.refused[k] = (total.refused[k] ?? 0) + n;
      for (const [k, n] of Object.entries(g.categories)) total.categories[k] = (total.categories[k] ?? 0) + n;
    }
    return { venueId, date, ...total, occupancy: Math.max(0, total.entries - total.exits), byTerminal };
  }
}

export interface VenueDaySummary {
  readonly venueId: string;
  readonly date: string;
  readonly entries: number;
  readonly exits: number;
  readonly occupancy: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly categories: Readonly<Record<string, number>>;
  readonly byTerminal: readonly { terminalId: string; entries: number; exits: number; refused: Record<string, number>; categories: Record<string, number> }[];
}
