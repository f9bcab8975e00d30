/**
 * The museum part of the demo day (docs/venues.md): the fleet admin gives the museum gate its
 * venue rules, Li Si visits (admitted at the standard fare, a second entry refused by the daily
 * limit, his exit counted), the museum announces an evening event for today, Abdurahman registers
 * at the hall kiosk with his card and PIN, and the museum gate admits him as registered while
 * Li Si is turned away; the server's counts come from the gate's journal.
 */
import { EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { venueLocalTime, type VenueRulesDocument } from '@onecard/protocol/venue';
import type { ApiAnswer } from './processes.ts';

export const MUSEUM_RULES: VenueRulesDocument = {
  venueId: 'city-museum', name: 'City Museum', timeZone: 'Asia/Shanghai',
  // Open all day in the demo (it runs at any hour); the rules file of a real museum has its hours.
  hours: [], closedDates: [], maxDailyEntries: 1, capacity: 200, priceFen: 3000,
  categories: [{ id: 'senior', minAge: 60, priceFen: 0 }, { id: 'student', cardTypes: ['2'], priceFen: 1500 }],
  registeredOnlyDates: [], accept: { generations: ['2.0', '3.0'], cardTypes: [], ecard: true },
  syncIntervalSeconds: 2, maxStaleSeconds: 300,
};

export interface MuseumDeps {
  readonly say: (line: string) => void;
  readonly api: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>;
  /** The museum gate and the hall kiosk: their local API and their card sessions. */
  readonly gate: { readonly terminalId: string; readonly groupId: string; api(method: string, path: string, body?: unknown): Promise<ApiAnswer>; at(line: string): void; withCard<T>(card: string, fn: () => Promise<T>): Promise<T> };
  readonly kiosk: { api(method: string, path: string, body?: unknown): Promise<ApiAnswer>; at(line: string): void; withCard<T>(card: string, fn: () => Promise<T>): Promise<T> };
  readonly visitor: string;
  readonly registrant: { readonly card: string; readonly pin: string };
  readonly until: (fn: () => Promise<boolean>, ms: number, every?: number) => Promise<boolean>;
}

const yuan = (fen: number): string => `¥${(fen / 100).toFixed(2)}`;
const line = (d: Record<string, unknown>): string => d['admit'] === true
  ? `${String(d['holder'])} ADMITTED (${String(d['reason'])}, ${String(d['category'])} ${yuan(Number(d['priceFen']))}), ${String(d['occupancy'])} inside`
  : `${String(d['holder'] ?? 'card')} REFUSED: ${String(d['reason'])} — ${String(d['message'])}`;

/** Runs the museum part; returns notes of what did not work (the day goes on). */
export async function museumDay(d: MuseumDeps): Promise<string[]> {
  const notes: string[] = [];
  const { say, api, gate, kiosk } = d;
  say('14:00  Li Si visits the City Museum: the gate decides on its own from the rules the fleet gave it.');
  const doc: TerminalConfigDocument = { ...EXAMPLE_TERMINAL_CONFIG, name: 'museum gates', readers: [], venues: MUSEUM_RULES };
  let cfg = await api('POST', '/api/v1/configs', { id: 'museum', name: 'museum gates', document: doc });
  if (cfg.status === 409) cfg = await api('PUT', '/api/v1/configs/museum', { document: doc });
  const version = (cfg.json as { version?: number } | undefined)?.version;
  await api('PUT', `/api/v1/groups/${gate.groupId}/config`, { configId: 'museum' });
  const ready = await d.until(async () => ((await api('GET', `/api/v1/terminals/${gate.terminalId}/config`)).json as { appliedVersion?: number } | undefined)?.appliedVersion === version
    && (await gate.api('GET', '/v1/venue/status')).json['fresh'] === true, 30_000, 200);
  if (!ready) notes.push('museum gate: rules not applied in time');
  const enter = async (card: string): Promise<Record<string, unknown>> => {
    const r = await gate.withCard(card, () => gate.api('POST', '/v1/venue/entry', {}));
    if (r.status !== 200) throw new Error(`venue entry: HTTP ${r.status} ${JSON.stringify(r.json['error'] ?? {})}`);
    return r.json;
  };
  try {
    gate.at(line(await enter(d.visitor)));
    gate.at(`he comes back in after lunch: ${line(await enter(d.visitor))}`);
    const x = await gate.api('POST', '/v1/venue/exit', {});
    gate.at(`exit counted, ${String(x.json['occupancy'])} inside`);

    say('16:00  The museum announces tonight\'s lantern festival: today only registered holders enter. Abdurahman registers at the hall kiosk with his card and PIN.');
    const today = venueLocalTime(Date.now(), MUSEUM_RULES.timeZone).date;
    const existing = ((await api('GET', `/api/v1/venue-events?venueId=${MUSEUM_RULES.venueId}&from=${today}&to=${today}`)).json as { events?: { id: string }[] } | undefined)?.events ?? [];
    let eventId = existing[0]?.id;
    if (eventId === undefined) {
      const now = Date.now();
      const ev = await api('POST', '/api/v1/venue-events', { venueId: MUSEUM_RULES.venueId, name: 'Lantern festival', date: today, capacity: 150, opensAt: now - 60_000, closesAt: now + 6 * 3_600_000 });
      eventId = (ev.json as { id?: string } | undefined)?.id;
      say(ev.status === 201 ? `        event ${String(eventId)} created for ${today} (150 places, registration open for 6 hours; audited)` : `        event not created: HTTP ${ev.status}`);
    } else say(`        (replay: today's event ${eventId} exists already)`);
    if (eventId === undefined) throw new Error('no event');
    const reg = await kiosk.withCard(d.registrant.card, () => kiosk.api('POST', '/v1/venue/registrations', { eventId, pin: d.registrant.pin }));
    kiosk.at(reg.status === 200 ? `card ${String(reg.json['cardNumber'])} ${String(reg.json['status'])} for ${String(reg.json['name'])} (PIN verified on the card)` : `registration failed: ${JSON.stringify(reg.json['error'] ?? reg.status)}`);
    const known = await d.until(async () => {
      const s = (await gate.api('GET', '/v1/venue/status')).json as { snapshot?: { events?: { eventId: string; registered: number }[] } };
      return (s.snapshot?.events ?? []).some((e) => e.eventId === eventId && e.registered > 0);
    }, 20_000, 200);
    if (!known) notes.push('museum gate: registration not received in time');
    say('19:00  The lantern festival.');
    gate.at(`Abdurahman: ${line(await enter(d.registrant.card))}`);
    gate.at(`Li Si: ${line(await enter(d.visitor))}`);
    await d.until(async () => (((await api('GET', `/api/v1/venues/${MUSEUM_RULES.venueId}/counts?date=${today}`)).json as { entries?: number } | undefined)?.entries ?? 0) >= 2, 15_000, 200);
    const c = (await api('GET', `/api/v1/venues/${MUSEUM_RULES.venueId}/counts?date=${today}`)).json as { entries: number; exits: number; occupancy: number; refused: Record<string, number> };
    say(`        server, from the gate's journal: ${c.entries} entries, ${c.exits} exits, ${c.occupancy} inside, refused ${JSON.stringify(c.refused)}`);
  } catch (e) {
    notes.push(`museum: ${e instanceof Error ? e.message : String(e)}`);
    gate.at(`museum visit failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return notes;
}
