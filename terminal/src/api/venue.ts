/**
 * Local API routes of the venue gate (docs/venues.md, docs/local-api.md): the turnstile's
 * controller asks for a decision when a card is presented (`POST /v1/venue/entry`, the card read
 * at the gate's reader) or an e-card QR code was read (`{code}`), reports exits
 * (`POST /v1/venue/exit`), and shows the gate's status (`GET /v1/venue/status`). A refusal by the
 * rules is an answer (`admit: false` with its reason), not an error. A kiosk registers the holder
 * of the card for an event after the PIN verified on the card (`POST /v1/venue/registrations`).
 * Registered by `app.ts`; without a venue gate the routes answer `TERM_ERR_API_NOT_CONFIGURED`.
 */
import type { FastifyInstance } from 'fastify';
import { maskCardNumber } from '@onecard/protocol/ssc';
import { TerminalError } from '../errors.ts';
import { readBasicInfo, verifyPin } from '../services/index.ts';
import type { VenueGate } from '../services/venue.ts';
import type { LocalApiOptions } from './app.ts';

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message', 'national'] } },
} as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
const answer = { 200: { type: 'object', additionalProperties: true }, ...errors } as const;

export function registerVenue(app: FastifyInstance, opts: LocalApiOptions & { readonly venue?: VenueGate }): void {
  const need = (): VenueGate => {
    if (opts.venue === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no venue gate (fleet member with venue rules)');
    return opts.venue;
  };
  const clock = opts.clock === undefined ? {} : { clock: opts.clock };

  app.get('/v1/venue/status', {
    schema: { summary: 'Venue gate status: rules in effect, open now, occupancy across the venue\'s gates, this gate\'s counts, snapshot age, events of the next days', tags: ['venue'], response: answer },
  }, async () => need().status());

  app.post<{ Body: { code?: string } }>('/v1/venue/entry', {
    schema: {
      summary: 'Decide an entry: the card at the gate\'s reader, or an e-card QR code (`code`)',
      description: 'Answers `admit` with the reason code (admitted, admitted-registered, hotlisted, expired, closed-hours, daily-limit, capacity-full, not-registered, …), fare category and price, and the occupancy. Every decision is journaled (venue.entry / venue.refused).',
      tags: ['venue'],
      body: { type: 'object', properties: { code: { type: 'string', minLength: 1, maxLength: 1024 } }, additionalProperties: false },
      response: answer,
    },
  }, async (req) => {
    const gate = need();
    const code = req.body?.code;
    if (code !== undefined) {
      if (opts.ecard === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no e-card verifier (ecard.keys in the config)');
      let identity;
      try {
        identity = await opts.ecard.verify(code);
      } catch (e) {
        const c = (e as { code?: unknown }).code;
        if (typeof c === 'string' && c.startsWith('TERM_ERR_ECARD_')) return gate.refuse('ecard-invalid', 'ecard', c);
        throw e;
      }
      return gate.enterEcard(identity);
    }
    // One card session: read (genuine, hotlist, validity) and decide before the card may leave.
    return opts.readers.withCard(async ({ card, psam }) => {
      let info;
      try {
        info = await readBasicInfo({ card, psam, hotlist: opts.hotlist, logger: opts.logger, ...clock });
      } catch (e) {
        return gate.enterCardError(e);
      }
      return gate.enterCard(info);
    });
  });

  app.post('/v1/venue/exit', {
    schema: { summary: 'Count one exit (exit sensor or exit tap); journaled as venue.exit', tags: ['venue'], response: answer },
  }, async () => need().exit());

  app.post<{ Body: { eventId: string; pin: string } }>('/v1/venue/registrations', {
    schema: {
      summary: 'Register the holder of the card for an event (kiosk): the PIN is verified on the card, then the fleet server registers the card',
      tags: ['venue'],
      body: { type: 'object', properties: { eventId: { type: 'string', pattern: '^ve_[A-Za-z0-9_-]{4,60}$' }, pin: { type: 'string', pattern: '^[0-9]{4,16}$' } }, required: ['eventId', 'pin'], additionalProperties: false },
      response: answer,
    },
  }, async (req) => {
    const gate = need();
    const cardNumber = await opts.readers.withCard(async ({ card, psam }) => {
      const info = await readBasicInfo({ card, psam, hotlist: opts.hotlist, logger: opts.logger, ...clock });
      await verifyPin({ card, pin: req.body.pin, hotlist: opts.hotlist, logger: opts.logger });
      return info.cardNumber;
    });
    const r = await gate.register(req.body.eventId, cardNumber);
    return { ...r, cardNumber: maskCardNumber(cardNumber) };
  });
}
