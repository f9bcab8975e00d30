/**
 * The venue rules a gate applies, as they arrive in the fleet configuration (`venues` section of
 * the terminal configuration document, one document per venue group): opening hours and closed
 * days in the venue's time zone, daily entries per holder, capacity, fares by category (age from
 * the ID number, card type, issuing region), registered-only days, and what identifies a holder
 * (card generations, card types, e-card QR). Schema only; the decisions are in `decide.ts`.
 */
import { Type, type Static } from '@sinclair/typebox';

const HHMM = Type.String({ pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$', description: 'local time `HH:MM` (`24:00` = end of day)' });
const LocalDate = Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$', description: 'local date `YYYY-MM-DD`' });
/** Card type item `02` of EF05: `1` pre-school child, `2` student, `3` adult, `4` elderly [SPEC V2 table 11]. */
const CardTypeCode = Type.Union([Type.Literal('1'), Type.Literal('2'), Type.Literal('3'), Type.Literal('4')]);
const Fen = Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'price in fen' });

/** One opening period, repeated on the given ISO weekdays (1 Monday … 7 Sunday). */
export const VenueHours = Type.Object({
  days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7 }),
  open: HHMM,
  close: HHMM,
}, { additionalProperties: false });

/**
 * A fare category. A holder is in it when every criterion given matches (age in years on the
 * local date, computed from the birth date in the ID number; card type; ID number region prefix);
 * the first matching category in document order wins.
 */
export const VenueCategory = Type.Object({
  id: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'category id journaled with the decision, e.g. `senior`' }),
  minAge: Type.Optional(Type.Integer({ minimum: 0, maximum: 150 })),
  maxAge: Type.Optional(Type.Integer({ minimum: 0, maximum: 150 })),
  cardTypes: Type.Optional(Type.Array(CardTypeCode, { minItems: 1, maxItems: 4 })),
  regionPrefixes: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{2,6}$' }), { minItems: 1, maxItems: 32, description: 'leading digits of the ID number (issuing region), e.g. local residents' })),
  priceFen: Fen,
}, { additionalProperties: false });

/** What a gate accepts as proof of the holder. */
export const VenueAccept = Type.Object({
  generations: Type.Array(Type.Union([Type.Literal('1.0'), Type.Literal('2.0'), Type.Literal('3.0')]), { maxItems: 3, description: 'physical card generations admitted (empty: no physical card)' }),
  cardTypes: Type.Array(CardTypeCode, { maxItems: 4, description: 'card types admitted (empty: every type)' }),
  ecard: Type.Boolean({ description: 'electronic social security card QR codes admitted' }),
}, { additionalProperties: false });

/** The rules of the venue whose gates the configuration document is assigned to. */
export const VenueRules = Type.Object({
  venueId: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'venue id shared by every gate of the venue (counts and events)' }),
  name: Type.Optional(Type.String({ maxLength: 128 })),
  timeZone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of hours and dates, e.g. `Asia/Shanghai`' }),
  hours: Type.Array(VenueHours, { maxItems: 14, description: 'opening periods; entry admitted from `open` until before `close` (none: open all day, every day that is not closed)' }),
  closedDates: Type.Array(LocalDate, { maxItems: 366 }),
  maxDailyEntries: Type.Integer({ minimum: 0, maximum: 1000, description: 'entries per holder per local day across the venue (0: unlimited)' }),
  capacity: Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'people inside at once across every gate (0: unlimited)' }),
  priceFen: Fen,
  categories: Type.Array(VenueCategory, { maxItems: 16 }),
  registeredOnlyDates: Type.Array(LocalDate, { maxItems: 366, description: 'only holders registered for an event of that day are admitted (event days from the server are added)' }),
  accept: VenueAccept,
  syncIntervalSeconds: Type.Integer({ minimum: 1, maximum: 3600, description: 'gates fetch occupancy and registrations this often' }),
  maxStaleSeconds: Type.Integer({ minimum: 10, maximum: 30 * 86400, description: 'capacity and registered-only decisions refused once the venue data is older than this' }),
}, { additionalProperties: false, $id: 'VenueRules' });

export type VenueRulesDocument = Static<typeof VenueRules>;
export type VenueCategoryRule = Static<typeof VenueCategory>;

/**
 * The rules a schema cannot say (the caller reports them as schema errors): a known IANA time
 * zone, opening periods that open before they close, category age bounds in order, unique
 * category ids. Returns the JSON pointer (relative to the rules) and the reason of the first
 * violation, or `undefined`.
 */
export function venueRulesProblem(r: VenueRulesDocument): { path: string; why: string } | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: r.timeZone });
  } catch {
    return { path: '/timeZone', why: 'unknown time zone' };
  }
  for (const [i, h] of r.hours.entries()) if (h.open >= h.close) return { path: `/hours/${i}/close`, why: 'closes before it opens' };
  const ids = new Set<string>();
  for (const [i, c] of r.categories.entries()) {
    if (ids.has(c.id)) return { path: `/categories/${i}/id`, why: 'duplicate category id' };
    ids.add(c.id);
    if (c.minAge !== undefined && c.maxAge !== undefined && c.minAge > c.maxAge) return { path: `/categories/${i}/maxAge`, why: 'maxAge below minAge' };
  }
  return undefined;
}

/** A plausible museum: Tuesday–Sunday 09:00–17:00, seniors from 60 and children free, students half price. */
export const EXAMPLE_VENUE_RULES: VenueRulesDocument = {
  venueId: 'city-museum',
  name: 'City Museum',
  timeZone: 'Asia/Shanghai',
  hours: [{ days: [2, 3, 4, 5, 6, 7], open: '09:00', close: '17:00' }],
  closedDates: [],
  maxDailyEntries: 2,
  capacity: 500,
  priceFen: 3000,
  categories: [
    { id: 'senior', minAge: 60, priceFen: 0 },
    { id: 'child', maxAge: 5, priceFen: 0 },
    { id: 'student', cardTypes: ['2'], priceFen: 1500 },
  ],
  registeredOnlyDates: [],
  accept: { generations: ['2.0', '3.0'], cardTypes: [], ecard: true },
  syncIntervalSeconds: 5,
  maxStaleSeconds: 300,
};
