/**
 * The gate's entry decision, sans-I/O: the rules (fleet configuration), what the gate learnt of
 * the holder (card or e-card), the clock reading, the gate's own ledger of the day and the last
 * venue snapshot from the server go in; an admit or refuse with one reason code, the fare
 * category and the ledger after the decision come out. Nothing here reads a clock, a card or
 * the network, so every rule is tested with fixed times. Checks run in a fixed order and the
 * first that refuses decides: holder (hotlist, validity, what is accepted), calendar (closed
 * day, hours), then the venue's data (staleness, registered-only day, daily entries, capacity).
 */
import type { VenueCategoryRule, VenueRulesDocument } from './rules.ts';
import type { VenueHolderKind, VenueSnapshotValue } from './sync.ts';
import { ageOn, birthDateFromId, venueLocalTime, type VenueLocalTime } from './local-time.ts';

/** Why a gate admitted or refused (journaled with every decision; stable strings). */
export const VENUE_REASONS = {
  admitted: 'admitted under the venue rules',
  'admitted-registered': 'admitted as registered for the day\'s event',
  exit: 'exit counted',
  hotlisted: 'the card is on the hotlist',
  'hotlist-stale': 'the hotlist was last confirmed current longer ago than the configured limit',
  expired: 'the card has expired',
  'not-yet-valid': 'the card is not valid yet',
  'card-invalid': 'the card could not be read or is not genuine',
  'ecard-invalid': 'the e-card code was not accepted',
  'generation-not-accepted': 'this card generation is not accepted here',
  'card-type-not-accepted': 'this card type is not accepted here',
  'ecard-not-accepted': 'e-card QR codes are not accepted here',
  'closed-day': 'the venue is closed today',
  'closed-hours': 'the venue is closed at this hour',
  'venue-data-stale': 'occupancy or registrations are older than the configured limit',
  'not-registered': 'today only holders registered for the event are admitted',
  'event-full': 'the event\'s capacity is reached',
  'daily-limit': 'the holder reached the entries allowed per day',
  'capacity-full': 'the venue is full',
  'not-configured': 'this terminal has no venue rules',
} as const;
export type VenueReason = keyof typeof VENUE_REASONS;
export const VENUE_REFUSALS: readonly VenueReason[] = (Object.keys(VENUE_REASONS) as VenueReason[]).filter((r) => !r.startsWith('admitted') && r !== 'exit');

/** What the gate learnt of the holder. */
export interface VenueHolder {
  readonly kind: VenueHolderKind;
  /** {@link venueHolderKey} of the holder for this venue. */
  readonly key: string;
  /** Physical card: generation, card type (EF05 item 02), ID number (age, region). */
  readonly generation?: '1.0' | '2.0' | '3.0';
  readonly cardType?: string;
  readonly idNumber?: string;
  /** Checks done while reading the card (hotlist, validity dates); `ok` for an e-card that verified. */
  readonly status: 'ok' | 'hotlisted' | 'expired' | 'not-yet-valid';
}

/** The gate's own counts for one local date (its journal; reset when the date changes). */
export interface VenueLedger {
  readonly date: string;
  readonly entries: number;
  readonly exits: number;
  /** Entries per holder key at this gate. */
  readonly holders: Readonly<Record<string, number>>;
}

/** The facts besides the holder. */
export interface VenueContext {
  readonly rules: VenueRulesDocument;
  /** Clock reading, ms since the Unix epoch. */
  readonly now: number;
  readonly ledger: VenueLedger | undefined;
  /** Last snapshot from the server and when the gate received it (its own clock). */
  readonly snapshot?: { readonly value: VenueSnapshotValue; readonly receivedAt: number } | undefined;
  /** Whether the hotlist is older than the transit staleness limit (refused like a fare). */
  readonly hotlistStale?: boolean;
}

/** A decision. */
export interface VenueDecision {
  readonly admit: boolean;
  readonly reason: VenueReason;
  readonly local: VenueLocalTime;
  /** Fare category (`standard` when no category matched) and price, for admissions. */
  readonly category?: string;
  readonly priceFen?: number;
  readonly eventId?: string;
  /** Occupancy the gate counts after the decision. */
  readonly occupancy: number;
  /** Whether the venue data was within `maxStaleSeconds`. */
  readonly fresh: boolean;
  /** The ledger to keep (one more entry when admitted). */
  readonly ledger: VenueLedger;
}

/** An empty ledger for `date`. */
export const emptyLedger = (date: string): VenueLedger => ({ date, entries: 0, exits: 0, holders: {} });

/** The ledger for `date`: the given one if it is of that date, else a fresh one (the day changed). */
export const ledgerFor = (ledger: VenueLedger | undefined, date: string): VenueLedger => (ledger?.date === date ? ledger : emptyLedger(date));

/** The snapshot's counts when it is of `date` (a snapshot of another day counts nothing). */
function others(ctx: VenueContext, date: string): VenueSnapshotValue['others'] | undefined {
  const s = ctx.snapshot?.value;
  return s !== undefined && s.venueId === ctx.rules.venueId && s.date === date ? s.others : undefined;
}

/** People inside across the venue: the other gates' entries minus exits (snapshot) plus this gate's (never below 0). */
export function venueOccupancy(ctx: Pick<VenueContext, 'rules' | 'snapshot'>, ledger: VenueLedger): number {
  const o = others({ ...ctx, now: 0, ledger }, ledger.date);
  return Math.max(0, (o?.entries ?? 0) - (o?.exits ?? 0) + ledger.entries - ledger.exits);
}

/** Whether the snapshot is current: received within `maxStaleSeconds` of `now`. */
export function venueDataFresh(ctx: Pick<VenueContext, 'rules' | 'snapshot' | 'now'>): boolean {
  const at = ctx.snapshot?.receivedAt;
  return at !== undefined && ctx.now - at <= ctx.rules.maxStaleSeconds * 1000 && ctx.now >= at - 60_000;
}

/** The fare category of a holder on `date`: the first category whose every criterion matches. */
export function venueCategory(rules: VenueRulesDocument, holder: VenueHolder, date: string): { category: string; priceFen: number } {
  const birth = holder.idNumber === undefined ? undefined : birthDateFromId(holder.idNumber);
  const age = birth === undefined ? undefined : ageOn(birth, date);
  const matches = (c: VenueCategoryRule): boolean =>
    (c.minAge === undefined || (age !== undefined && age >= c.minAge))
    && (c.maxAge === undefined || (age !== undefined && age <= c.maxAge))
    && (c.cardTypes === undefined || (holder.cardType !== undefined && (c.cardTypes as readonly string[]).includes(holder.cardType)))
    && (c.regionPrefixes === undefined || (holder.idNumber !== undefined && c.regionPrefixes.some((p) => holder.idNumber!.startsWith(p))));
  const c = rules.categories.find(matches);
  return c === undefined ? { category: 'standard', priceFen: rules.priceFen } : { category: c.id, priceFen: c.priceFen };
}

/** Whether the venue is open at `local` by its hours (closed dates aside). */
export function venueOpenAt(rules: VenueRulesDocument, local: VenueLocalTime): boolean {
  if (rules.hours.length === 0) return true;
  return rules.hours.some((h) => h.days.includes(local.weekday) && local.time >= h.open && local.time < h.close);
}

/** Decides one entry. */
export function decideEntry(ctx: VenueContext, holder: VenueHolder): VenueDecision {
  const { rules } = ctx;
  const local = venueLocalTime(ctx.now, rules.timeZone);
  const ledger = ledgerFor(ctx.ledger, local.date);
  const fresh = venueDataFresh(ctx);
  const occupancy = venueOccupancy(ctx, ledger);
  const refuse = (reason: VenueReason): VenueDecision => ({ admit: false, reason, local, occupancy, fresh, ledger });

  if (holder.status !== 'ok') return refuse(holder.status);
  if (holder.kind === 'card' && ctx.hotlistStale === true) return refuse('hotlist-stale');
  if (holder.kind === 'ecard' && !rules.accept.ecard) return refuse('ecard-not-accepted');
  if (holder.kind === 'card') {
    if (holder.generation === undefined || !(rules.accept.generations as readonly string[]).includes(holder.generation)) return refuse('generation-not-accepted');
    if (rules.accept.cardTypes.length > 0 && (holder.cardType === undefined || !(rules.accept.cardTypes as readonly string[]).includes(holder.cardType))) return refuse('card-type-not-accepted');
  }
  if (rules.closedDates.includes(local.date)) return refuse('closed-day');
  if (!venueOpenAt(rules, local)) return refuse('closed-hours');

  const todaysEvents = (ctx.snapshot?.value.venueId === rules.venueId ? ctx.snapshot.value.events : []).filter((e) => e.date === local.date);
  const registeredOnly = rules.registeredOnlyDates.includes(local.date) || todaysEvents.length > 0;
  const needsData = registeredOnly || rules.capacity > 0;
  if (needsData && !fresh) {
    // Offline past the limit: a day without events is still decided on what the gate counted
    // itself only if nothing depends on the others; capacity and registrations do.
    return refuse('venue-data-stale');
  }
  let eventId: string | undefined;
  if (registeredOnly) {
    const ev = todaysEvents.find((e) => e.holders.includes(holder.key));
    if (ev === undefined) return refuse('not-registered');
    eventId = ev.eventId;
  }
  const o = others(ctx, local.date);
  const entriesToday = (o?.holders[holder.key] ?? 0) + (ledger.holders[holder.key] ?? 0);
  if (rules.maxDailyEntries > 0 && entriesToday >= rules.maxDailyEntries) return refuse('daily-limit');
  if (rules.capacity > 0 && occupancy >= rules.capacity) return refuse('capacity-full');
  if (eventId !== undefined) {
    const ev = todaysEvents.find((e) => e.eventId === eventId);
    if (ev !== undefined && ev.capacity > 0 && occupancy >= ev.capacity) return refuse('event-full');
  }
  const fare = venueCategory(rules, holder, local.date);
  const next: VenueLedger = { date: ledger.date, entries: ledger.entries + 1, exits: ledger.exits, holders: { ...ledger.holders, [holder.key]: (ledger.holders[holder.key] ?? 0) + 1 } };
  return {
    admit: true, reason: eventId === undefined ? 'admitted' : 'admitted-registered', local, fresh,
    category: fare.category, priceFen: fare.priceFen,
    ...(eventId === undefined ? {} : { eventId }),
    occupancy: venueOccupancy(ctx, next), ledger: next,
  };
}

/** Counts one exit (turnstile exit sensor or exit tap): always allowed. */
export function recordExit(ctx: Pick<VenueContext, 'rules' | 'now' | 'ledger' | 'snapshot'>): { ledger: VenueLedger; local: VenueLocalTime; occupancy: number } {
  const local = venueLocalTime(ctx.now, ctx.rules.timeZone);
  const l = ledgerFor(ctx.ledger, local.date);
  const ledger = { ...l, exits: l.exits + 1 };
  return { ledger, local, occupancy: venueOccupancy(ctx, ledger) };
}
