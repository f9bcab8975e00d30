/**
 * The kiosk's holder services (docs/kiosk.md, docs/local-api.md): after card + PIN the holder sees
 * their library account (SIP2 patron status), their venue status of the day, the events open for
 * registration (and registers), and their data tracker (which departments queried their data, when,
 * for what, and the consents given; a consent can be withdrawn).
 *
 * Binding. These answers are personal, so they are tied to one verification of the PIN on the card
 * in the reader: `POST /v1/holder/verify` (PIN in the body) or `/v1/holder/pinpad/verify` (PIN on
 * the box's PIN pad) verifies the PIN and reads the genuine card (PSAM authentication, hotlist,
 * validity) in one card session, and binds the card number to the caller that did it — that page
 * session, or the token. A binding ends when any card event happens at the reader (inserted,
 * removed, reader status), after {@link HOLDER_BINDING_MS}, or at `POST /v1/holder/end`. Every
 * holder route reads the card again and must find the bound card number; the card number is never
 * taken from the request, so a caller cannot ask for another card's data, and another page session
 * or the token cannot ride on the kiosk's verification. The fleet server only ever sees the card
 * number the terminal read (with `pinVerified: true`), with the terminal's own credentials.
 *
 * Each service answers only when the terminal is configured for it (`GET /v1/holder/services`):
 * library when the fleet configuration has a `library` section, venue when it has `venues`,
 * events when it has `venues` and a fleet server link, the tracker with a fleet server link.
 * Otherwise 501 `TERM_ERR_API_NOT_CONFIGURED`.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { maskCardNumber } from '@onecard/protocol/ssc';
import { TerminalError } from '../errors.ts';
import type { BasicInfo } from '../services/basic-info.ts';
import type { HolderServerLink } from '../services/holder-link.ts';
import type { LocalApiAuth, LocalApiOptions, LocalApiServices } from './app.ts';
import { readPadPin } from './pad-pin.ts';

/** A PIN verification binds the holder services for at most this long (ms). */
export const HOLDER_BINDING_MS = 5 * 60_000;

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message', 'national'] } },
} as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
const answer = { 200: { type: 'object', additionalProperties: true }, ...errors } as const;
const emptyBody = { type: 'object', properties: {}, additionalProperties: false } as const;
const pinSchema = { type: 'string', pattern: '^[0-9]{4,16}$' } as const;

/** Whom a binding belongs to: a digest of the page session id, or the token holder. */
function callerKey(a: LocalApiAuth | undefined): string | undefined {
  if (a === undefined) return undefined;
  return a.kind === 'token' ? 'token' : `session:${createHash('sha256').update(a.sessionId, 'utf8').digest('hex')}`;
}

/**
 * Which caller verified the PIN of which card since the last card event. Pure bookkeeping over the
 * reader events and an injected clock; the card number is kept only while the card is in.
 */
export class HolderBindings {
  #generation = 0;
  readonly #bound = new Map<string, { cardNumber: string; generation: number; at: number }>();
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(events: { on(e: string, f: () => void): unknown }, o: { readonly now?: () => number; readonly ttlMs?: number } = {}) {
    this.#now = o.now ?? Date.now;
    this.#ttlMs = o.ttlMs ?? HOLDER_BINDING_MS;
    // Any change at the reader (the PSAM slot included: the card session is reset) ends every binding.
    for (const e of ['card-inserted', 'card-removed', 'reader-status']) events.on(e, () => this.reset());
  }

  /** The generation a verification starts in (a card event in between voids it). */
  get generation(): number {
    return this.#generation;
  }

  reset(): void {
    this.#generation++;
    this.#bound.clear();
  }

  /** Binds `cardNumber` to `caller` if no card event happened since `generation`. */
  bind(caller: string, cardNumber: string, generation: number): boolean {
    if (generation !== this.#generation) return false;
    this.#bound.set(caller, { cardNumber, generation, at: this.#now() });
    return true;
  }

  /** Ends the caller's binding. */
  end(caller: string): void {
    this.#bound.delete(caller);
  }

  /**
   * The card number bound to `caller`, or throws `TERM_ERR_HOLDER_UNVERIFIED` (no verification by
   * this caller, a card event since, or expired).
   */
  cardOf(caller: string | undefined): { cardNumber: string; generation: number } {
    const b = caller === undefined ? undefined : this.#bound.get(caller);
    if (b === undefined || b.generation !== this.#generation || this.#now() - b.at > this.#ttlMs) {
      if (caller !== undefined) this.#bound.delete(caller);
      throw new TerminalError('TERM_ERR_HOLDER_UNVERIFIED');
    }
    return { cardNumber: b.cardNumber, generation: b.generation };
  }
}

export interface RegisterHolderOptions {
  readonly authOf: (req: FastifyRequest) => LocalApiAuth | undefined;
  /** Fleet server link for events and the tracker (enrolled terminals). */
  readonly holderLink?: HolderServerLink | undefined;
  /** Binding lifetime, ms (default {@link HOLDER_BINDING_MS}). */
  readonly bindingMs?: number;
}

/** Registers `/v1/holder/*` on `app` (called by `buildLocalApi`). */
export function registerHolder(app: FastifyInstance, opts: LocalApiOptions, svc: LocalApiServices, o: RegisterHolderOptions): HolderBindings {
  const now = opts.clock === undefined ? Date.now : () => opts.clock!.now();
  const bindings = new HolderBindings(opts.readers.events, { now, ...(o.bindingMs === undefined ? {} : { ttlMs: o.bindingMs }) });
  const clock = opts.clock === undefined ? {} : { clock: opts.clock };
  const read = (card: Parameters<Parameters<LocalApiOptions['readers']['withCard']>[0]>[0]): Promise<BasicInfo> =>
    svc.readBasicInfo({ card: card.card, psam: card.psam, hotlist: opts.hotlist, logger: opts.logger, ...clock });

  const enabled = (): { library: boolean; venue: boolean; events: boolean; tracker: boolean } => {
    const venue = opts.venue !== undefined && opts.venue.status()['configured'] === true;
    return { library: opts.library?.service.configured() === true, venue, events: venue && o.holderLink !== undefined, tracker: o.holderLink !== undefined };
  };
  const need = (what: 'library' | 'venue' | 'events' | 'tracker'): void => {
    if (!enabled()[what]) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', `holder service ${what} not configured`);
  };
  /**
   * The card in the reader, read again (genuine, hotlist, validity), if it is the one the caller
   * verified; else `TERM_ERR_HOLDER_UNVERIFIED`.
   */
  const holderCard = async (req: FastifyRequest): Promise<BasicInfo> => {
    const caller = callerKey(o.authOf(req));
    const bound = bindings.cardOf(caller);
    const info = await opts.readers.withCard(read);
    if (info.cardNumber !== bound.cardNumber || bindings.generation !== bound.generation) {
      bindings.reset();
      throw new TerminalError('TERM_ERR_HOLDER_UNVERIFIED', 'another card is in the reader');
    }
    return info;
  };
  /** Verifies `pin` on the card and binds the card read in the same card session to the caller. */
  const verifyAndBind = async (req: FastifyRequest, pin: string | (() => Promise<string>)): Promise<{ ok: true; cardNumber: string }> => {
    const caller = callerKey(o.authOf(req));
    if (caller === undefined) throw new TerminalError('TERM_ERR_API_TOKEN');
    bindings.end(caller);
    const generation = bindings.generation;
    const given = typeof pin === 'string' ? pin : await pin();
    const info = await opts.readers.withCard(async (c) => {
      const i = await read(c);
      await svc.verifyPin({ card: c.card, pin: given, hotlist: opts.hotlist, logger: opts.logger });
      return i;
    });
    if (!bindings.bind(caller, info.cardNumber, generation)) throw new TerminalError('TERM_ERR_CARD_REMOVED', 'a card event happened during the verification');
    return { ok: true, cardNumber: maskCardNumber(info.cardNumber) };
  };

  app.get('/v1/holder/services', {
    schema: { summary: 'Which holder services this terminal offers (library, venue, events, tracker)', tags: ['holder'], response: { 200: { type: 'object', properties: { library: { type: 'boolean' }, venue: { type: 'boolean' }, events: { type: 'boolean' }, tracker: { type: 'boolean' } } }, ...errors } },
  }, async () => enabled());

  app.post<{ Body: { pin: string } }>('/v1/holder/verify', {
    schema: {
      summary: 'Verify the PIN of the card in the reader and open the holder services for this caller',
      description: 'Reads the card (genuine, hotlist, validity) and verifies the PIN in one card session; binds the card to this page session (or the token) until a card event, 5 min or /v1/holder/end. Wrong PIN: 422 TERM_ERR_PIN_WRONG with triesLeft; locked: TERM_ERR_PIN_LOCKED. The PIN goes to the card only.',
      tags: ['holder'],
      body: { type: 'object', properties: { pin: pinSchema }, required: ['pin'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, cardNumber: { type: 'string' } } }, ...errors },
    },
  }, async (req) => verifyAndBind(req, req.body.pin));

  app.post('/v1/holder/pinpad/verify', {
    schema: {
      summary: 'As /v1/holder/verify, the PIN typed on the PIN pad (it never passes through the caller)',
      description: 'Refused before any prompt when the PIN is locked (TERM_ERR_PIN_LOCKED). Taking the card out ends the entry (TERM_ERR_CARD_REMOVED), the page going away cancels it. 501 without a PIN pad.',
      tags: ['holder', 'pinpad'],
      body: emptyBody,
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, cardNumber: { type: 'string' } } }, ...errors },
    },
  }, async (req, reply) => {
    const pad = opts.pinpad;
    if (pad === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no PIN pad (pinpad in the terminal file)');
    return verifyAndBind(req, async () => {
      const st = await opts.readers.withCard(({ card }) => svc.pinStatus({ card, hotlist: opts.hotlist, logger: opts.logger }));
      if (st.locked) throw new TerminalError('TERM_ERR_PIN_LOCKED');
      return readPadPin(pad, opts, reply.raw);
    });
  });

  app.post('/v1/holder/end', {
    schema: { summary: 'End this caller\'s holder binding (the kiosk calls it when it wipes its screen)', tags: ['holder'], body: emptyBody, response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors } },
  }, async (req) => {
    const caller = callerKey(o.authOf(req));
    if (caller !== undefined) bindings.end(caller);
    return { ok: true };
  });

  app.get('/v1/holder/library', {
    schema: {
      summary: 'The holder\'s library account over SIP2: may borrow or why not, loans, overdue, holds, fines, every patron status flag',
      description: 'Needs /v1/holder/verify first (403 TERM_ERR_HOLDER_UNVERIFIED). Library unreachable: 503 TERM_ERR_LIBRARY_UNAVAILABLE.',
      tags: ['holder', 'library'],
      response: answer,
    },
  }, async (req) => {
    need('library');
    const info = await holderCard(req);
    return opts.library!.service.patronSummary(info.cardNumber);
  });

  app.get('/v1/holder/venue', {
    schema: {
      summary: 'The holder\'s venue status today: entries against the daily limit, fare category, registrations, what a gate would decide now',
      description: 'Needs /v1/holder/verify first. Nothing is journaled or counted.',
      tags: ['holder', 'venue'],
      response: answer,
    },
  }, async (req) => {
    need('venue');
    const info = await holderCard(req);
    return { ...opts.venue!.holderView(info), cardNumber: maskCardNumber(info.cardNumber) };
  });

  app.get('/v1/holder/events', {
    schema: {
      summary: 'Events of this venue open for registration now (from the fleet server), and which of them the holder is registered for',
      description: 'Needs /v1/holder/verify first. Server unreachable: 503 TERM_ERR_HOLDER_OFFLINE.',
      tags: ['holder', 'venue'],
      response: answer,
    },
  }, async (req) => {
    need('events');
    const info = await holderCard(req);
    const gate = opts.venue!;
    const venueId = gate.status()['venueId'];
    const events = await o.holderLink!.openEvents(typeof venueId === 'string' ? venueId : undefined);
    const mine = new Set((gate.holderView(info)['registrations'] as { eventId: string }[]).map((r) => r.eventId));
    return { events: events.map((e) => ({ ...e, registeredByHolder: mine.has(e.eventId) })) };
  });

  app.post<{ Body: { eventId: string } }>('/v1/holder/events/register', {
    schema: {
      summary: 'Register the holder of the verified card for an event',
      description: 'status `registered` or `already`. Refused by the server: 403 TERM_ERR_VENUE_REGISTRATION_REFUSED with details.serverCode (SRV_ERR_VENUE_EVENT_FULL, SRV_ERR_VENUE_REGISTRATION_CLOSED, SRV_ERR_VENUE_CARD_HOTLISTED, SRV_ERR_NOT_FOUND); unreachable: 503 TERM_ERR_VENUE_OFFLINE.',
      tags: ['holder', 'venue'],
      body: { type: 'object', properties: { eventId: { type: 'string', pattern: '^ve_[A-Za-z0-9_-]{4,60}$' } }, required: ['eventId'], additionalProperties: false },
      response: answer,
    },
  }, async (req) => {
    need('events');
    const info = await holderCard(req);
    const gate = opts.venue!;
    const r = await gate.register(req.body.eventId, info.cardNumber);
    // The gates learn the registration from the next snapshot; fetch it now so the holder's status shows it.
    await gate.sync();
    return { ...r, cardNumber: maskCardNumber(info.cardNumber) };
  });

  app.get('/v1/holder/tracker', {
    schema: {
      summary: 'The holder\'s data tracker: which departments queried their data, when, for what purpose, what was released; and their consents',
      description: 'Needs /v1/holder/verify first. Server unreachable: 503 TERM_ERR_HOLDER_OFFLINE; card not in the registry: 403 TERM_ERR_HOLDER_REFUSED (serverCode SRV_ERR_NOT_FOUND).',
      tags: ['holder', 'sharing'],
      response: answer,
    },
  }, async (req) => {
    need('tracker');
    const info = await holderCard(req);
    return { ...(await o.holderLink!.tracker(info.cardNumber, 100)), cardNumber: maskCardNumber(info.cardNumber) };
  });

  app.post<{ Body: { consentId: string } }>('/v1/holder/consents/revoke', {
    schema: {
      summary: 'Withdraw one of the holder\'s consents',
      description: 'Needs /v1/holder/verify first. A consent of another holder: 403 TERM_ERR_HOLDER_REFUSED (serverCode SRV_ERR_NOT_FOUND).',
      tags: ['holder', 'sharing'],
      body: { type: 'object', properties: { consentId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } }, required: ['consentId'], additionalProperties: false },
      response: answer,
    },
  }, async (req) => {
    need('tracker');
    const info = await holderCard(req);
    return { revoked: await o.holderLink!.revokeConsent(req.body.consentId, info.cardNumber) };
  });

  return bindings;
}

