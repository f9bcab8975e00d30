/**
 * Venues on the fleet server (docs/venues.md): events admins create (capacity, registration
 * window; audited, stored in the same transaction), holder registration from a kiosk after card
 * and PIN at the terminal (`POST /api/v1/terminal/venue/registrations`, terminal credentials;
 * the card number is turned into the venue's holder key here and never stored), the venue
 * snapshot a gate fetches (`GET /api/v1/terminal/venue`: the other gates' counts of the day and the
 * events with their registered holders), and the per-venue counts from the gates' journals
 * (`GET /api/v1/venues/{venueId}/counts`).
 */
import type { FastifyInstance } from 'fastify';
import { validateTerminalConfig } from '@onecard/protocol/fleet';
import { maskCardNumber } from '@onecard/protocol/ssc';
import { nextLocalDate, venueHolderKey, venueLocalTime, type VenueRulesDocument, type VenueSnapshotValue } from '@onecard/protocol/venue';
import { ServerError } from '../errors.ts';
import { newId } from '../crypto-util.ts';
import { auditEntry } from '../routes/admin.ts';
import { VenueCounts } from './counts.ts';
import { venueStoreOf } from './store.ts';

const VenueId = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } as const;
const LocalDate = { type: 'string', pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' } as const;
const EventId = { type: 'string', pattern: '^ve_[A-Za-z0-9_-]{4,60}$' } as const;
const CardNumber = { type: 'string', pattern: '^[0-9A-Z]{9}$' } as const;
/** Days of events a gate is told about beyond today (so it can keep deciding offline). */
const SNAPSHOT_DAYS = 7;

declare module 'fastify' {
  interface FastifyInstance {
    venueCounts: VenueCounts;
  }
}

export default async function venueRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;
  const venues = venueStoreOf(store);
  const counts = new VenueCounts(store);
  app.decorate('venueCounts', counts);
  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');

  // The venue rules of a terminal's effective configuration (cached per configuration version).
  const rulesCache = new Map<number, VenueRulesDocument | null>();
  const rulesOf = async (terminalId: string): Promise<VenueRulesDocument | undefined> => {
    const [eff] = await store.listEffectiveConfigs({ terminalIds: [terminalId] });
    if (eff === undefined) return undefined;
    let r = rulesCache.get(eff.version);
    if (r === undefined) {
      const v = await store.getConfigVersion(eff.version);
      try { r = v === undefined ? null : validateTerminalConfig(JSON.parse(v.body)).venues ?? null; } catch { r = null; }
      if (rulesCache.size > 256) rulesCache.clear();
      rulesCache.set(eff.version, r);
    }
    return r ?? undefined;
  };

  app.post<{ Body: { venueId: string; name: string; date: string; capacity: number; opensAt: number; closesAt: number } }>('/api/v1/venue-events', {
    preHandler: app.requireRole('operator'),
    schema: {
      tags: ['venues'], summary: 'Create an event at a venue: on its date the venue\'s gates admit only registered holders',
      body: {
        type: 'object', additionalProperties: false, required: ['venueId', 'name', 'date', 'capacity', 'opensAt', 'closesAt'],
        properties: {
          venueId: VenueId, name: { type: 'string', minLength: 1, maxLength: 128 }, date: LocalDate,
          capacity: { type: 'integer', minimum: 0, maximum: 10_000_000 },
          opensAt: { type: 'integer', minimum: 0, maximum: 253402300799999 }, closesAt: { type: 'integer', minimum: 0, maximum: 253402300799999 },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body;
    if (b.closesAt <= b.opensAt) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'closesAt must be after opensAt', { field: 'closesAt' });
    const rec = { id: newId('ve_'), ...b, createdAt: clock.now(), createdBy: req.admin?.id ?? 'anonymous' };
    await venues.createEvent(rec, [auditEntry(req, clock, 'venue-event.create', rec.id, { venueId: b.venueId, date: b.date, capacity: b.capacity, opensAt: b.opensAt, closesAt: b.closesAt })]);
    reply.code(201);
    return { ...rec, registered: 0 };
  });

  app.get<{ Querystring: { venueId?: string; from?: string; to?: string } }>('/api/v1/venue-events', {
    preHandler: viewers,
    schema: { tags: ['venues'], summary: 'Events (with their registration counts), by date', querystring: { type: 'object', additionalProperties: false, properties: { venueId: VenueId, from: LocalDate, to: LocalDate } } },
  }, async (req) => ({
    events: await venues.listEvents({ ...(req.query.venueId === undefined ? {} : { venueId: req.query.venueId }), ...(req.query.from === undefined ? {} : { fromDate: req.query.from }), ...(req.query.to === undefined ? {} : { toDate: req.query.to }) }),
  }));

  app.get<{ Params: { id: string } }>('/api/v1/venue-events/:id', {
    preHandler: viewers,
    schema: { tags: ['venues'], summary: 'One event with its registration count', params: { type: 'object', properties: { id: EventId } } },
  }, async (req) => {
    const e = await venues.getEvent(req.params.id);
    if (e === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `event ${req.params.id}`);
    return e;
  });

  app.get<{ Params: { venueId: string }; Querystring: { date?: string } }>('/api/v1/venues/:venueId/counts', {
    preHandler: viewers,
    schema: {
      tags: ['venues'], summary: 'Entries, exits, occupancy, refusals by reason and entries by fare category of a venue on a date, per gate, from the gates\' journals (default: the latest date with records)',
      params: { type: 'object', properties: { venueId: VenueId } }, querystring: { type: 'object', additionalProperties: false, properties: { date: LocalDate } },
    },
  }, async (req) => {
    await counts.refresh();
    const date = req.query.date ?? counts.dates(req.params.venueId).at(-1) ?? venueLocalTime(clock.now(), 'Asia/Shanghai').date;
    return counts.summary(req.params.venueId, date);
  });

  app.get('/api/v1/venues', {
    preHandler: viewers,
    schema: { tags: ['venues'], summary: 'Venues with gate records, each with its latest day\'s totals (the dashboard line)' },
  }, async () => {
    await counts.refresh();
    return {
      venues: counts.venues().map((v) => {
        const s = counts.summary(v, counts.dates(v).at(-1)!);
        return { venueId: v, date: s.date, entries: s.entries, exits: s.exits, occupancy: s.occupancy, refused: Object.values(s.refused).reduce((a, n) => a + n, 0), gates: s.byTerminal.length };
      }),
    };
  });

  // ── terminals ───────────────────────────────────────────────────────────────────────────────

  app.get<{ Querystring: { venueId: string } }>('/api/v1/terminal/venue', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'Venue snapshot for a gate: the other gates\' counts of the venue\'s day and the events from today on with their registered holder keys',
      querystring: { type: 'object', additionalProperties: false, required: ['venueId'], properties: { venueId: VenueId } },
      security: [{ terminalBasic: [] }, { bearer: [] }],
    },
  }, async (req): Promise<VenueSnapshotValue> => {
    const t = req.terminal!;
    const rules = await rulesOf(t.id);
    // Only the venue of the caller's own configuration: no reading another venue's registrations.
    if (rules === undefined || rules.venueId !== req.query.venueId) throw new ServerError('SRV_ERR_VENUE_NOT_ASSIGNED', req.query.venueId);
    const now = clock.now();
    const date = venueLocalTime(now, rules.timeZone).date;
    await counts.refresh();
    const evs = await venues.listEvents({ venueId: rules.venueId, fromDate: date, toDate: nextLocalDate(date, SNAPSHOT_DAYS) });
    const events = [];
    for (const e of evs.slice(0, 64)) events.push({ eventId: e.id, name: e.name, date: e.date, capacity: e.capacity, holders: await venues.registrations(e.id) });
    return { v: 1, venueId: rules.venueId, date, asOf: now, others: counts.others(rules.venueId, date, t.id), events };
  });

  app.get<{ Querystring: { venueId?: string } }>('/api/v1/terminal/venue/events', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'Events whose registration window is open now (for a kiosk\'s registration screen)',
      querystring: { type: 'object', additionalProperties: false, properties: { venueId: VenueId } }, security: [{ terminalBasic: [] }, { bearer: [] }],
    },
  }, async (req) => {
    const now = clock.now();
    const evs = await venues.listEvents(req.query.venueId === undefined ? {} : { venueId: req.query.venueId });
    return { events: evs.filter((e) => e.opensAt <= now && now < e.closesAt).map(({ createdBy: _c, ...e }) => e) };
  });

  app.post<{ Body: { eventId: string; cardNumber: string; pinVerified: boolean } }>('/api/v1/terminal/venue/registrations', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'Register the holder of a card for an event, after the terminal verified the card\'s PIN',
      body: {
        type: 'object', additionalProperties: false, required: ['eventId', 'cardNumber', 'pinVerified'],
        properties: { eventId: EventId, cardNumber: CardNumber, pinVerified: { type: 'boolean', const: true } },
      },
      security: [{ terminalBasic: [] }, { bearer: [] }],
    },
  }, async (req, reply) => {
    const t = req.terminal!;
    const now = clock.now();
    const e = await venues.getEvent(req.body.eventId);
    if (e === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `event ${req.body.eventId}`);
    if ((await store.getHotlistEntry(req.body.cardNumber)) !== undefined) throw new ServerError('SRV_ERR_VENUE_CARD_HOTLISTED', maskCardNumber(req.body.cardNumber));
    const holderKey = venueHolderKey(e.venueId, 'card', req.body.cardNumber);
    const res = await venues.register(e.id, holderKey, now, t.id, (ev) => [{
      ts: now, actor: `terminal:${t.id}`, action: 'venue.register', target: ev.id, ip: req.ip, details: { venueId: ev.venueId, date: ev.date, cardNumber: maskCardNumber(req.body.cardNumber), pinVerified: true },
    }]);
    reply.code(res.status === 'registered' ? 201 : 200);
    return { eventId: e.id, venueId: e.venueId, name: e.name, date: e.date, status: res.status, registered: res.registered, capacity: e.capacity };
  });
}
