/**
 * Card services of the kiosk and the counter desk beyond reading and the holder's PIN: the
 * transit purse enquiry (balance and recent fares, no PIN), the issuer's PIN unblock and reload
 * through the PSAM [ssc-card §7.9], and the cancellation of a loss report (解挂) after the staff
 * member checked the holder's ID document against the card. Registered by `app.ts`; every route
 * needs the card present in the reader. No PIN and no ID number reaches a log, an answer or the
 * fleet: the cancellation carries only that the ID matched.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../errors.ts';
import { readBasicInfo, reloadPin, unblockPin } from '../services/index.ts';
import { transitStatus } from '../services/transit.ts';
import type { LocalApiOptions } from './app.ts';
import { staffOf } from './staff.ts';

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message', 'national'] } },
} as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
const pinSchema = { type: 'string', pattern: '^[0-9]{4,16}$' } as const;
const okSchema = { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors } as const;

/** Card number masked to its last 4 characters. */
export function maskCardNumber(n: string): string {
  return n.length > 4 ? `${'*'.repeat(n.length - 4)}${n.slice(-4)}` : n;
}

/** Whether a typed ID document number is the card's SSN (case of `x` ignored, compared in constant time). */
export function idMatches(typed: string, ssn: string): boolean {
  const a = Buffer.from(typed.trim().toUpperCase());
  const b = Buffer.from(ssn.trim().toUpperCase());
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Registers the routes on `app` (called by `buildLocalApi` before it returns). */
export function registerCardServices(app: FastifyInstance, opts: LocalApiOptions): void {
  const base = { hotlist: opts.hotlist, logger: opts.logger };

  app.get<{ Querystring: { limit?: string } }>('/v1/card/transit', {
    schema: {
      summary: 'Transit purse balance and recent fares of the card in the reader (no PIN)',
      description: 'balance in fen, fares newest first (at most `limit`, default 5, up to 10), the card number masked. Hotlisted card: TERM_ERR_CARD_HOTLISTED; no transit application: TERM_ERR_WRONG_CARD_TYPE.',
      tags: ['card'],
      querystring: { type: 'object', properties: { limit: { type: 'string', pattern: '^([0-9]|10)$' } }, additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => {
    const limit = req.query.limit === undefined ? 5 : Number(req.query.limit);
    return opts.readers.withCard(({ card }) => transitStatus({ card, ...base, limit }));
  });

  app.post('/v1/card/pin/unblock', {
    schema: {
      summary: 'Unblock the card PIN through the PSAM (the PIN stays; tries reset) [ssc-card §7.9]',
      description: 'Staff service. No PSAM: 503 TERM_ERR_NO_PSAM. Hotlisted card: TERM_ERR_CARD_HOTLISTED.',
      tags: ['card'],
      body: { type: 'object', properties: {}, additionalProperties: false },
      response: okSchema,
    },
  }, async () => {
    await opts.readers.withCard(({ card, psam }) => unblockPin({ card, psam, ...base }));
    return { ok: true };
  });

  app.post<{ Body: { newPin: string } }>('/v1/card/pin/reload', {
    schema: {
      summary: 'Set a new card PIN through the PSAM (PIN reset; tries reset) [ssc-card §7.9]',
      description: 'Staff service; the holder enters the new PIN. No PSAM: 503 TERM_ERR_NO_PSAM. The PIN goes to the card only.',
      tags: ['card'],
      body: { type: 'object', properties: { newPin: pinSchema }, required: ['newPin'], additionalProperties: false },
      response: okSchema,
    },
  }, async (req) => {
    await opts.readers.withCard(({ card, psam }) => reloadPin({ card, psam, newPin: req.body.newPin, ...base }));
    return { ok: true };
  });

  app.post<{ Body: { idNumber: string } }>('/v1/card/loss-cancel', {
    schema: {
      summary: 'Cancel the loss report of the card in the reader (解挂), after the holder’s ID document was checked',
      description: 'Staff typed the number of the holder’s ID document; it must equal the SSN read from the genuine card (PSAM authentication), else 422 TERM_ERR_ID_MISMATCH. Then a card.loss-cancel transaction is queued for the fleet with only `idChecked: true`. `online: false`: it waits in the outbox.',
      tags: ['card'],
      body: { type: 'object', properties: { idNumber: { type: 'string', minLength: 1, maxLength: 32 } }, required: ['idNumber'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { queued: { type: 'boolean' }, online: { type: 'boolean' }, cardNumber: { type: 'string' } } }, ...errors },
    },
  }, async (req) => {
    const cancelLoss = opts.cancelLoss;
    if (cancelLoss === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no fleet outbox for loss cancellations');
    // The card is on the hotlist (that is the point): read it without the hotlist check.
    const cardNumber = await opts.readers.withCard(async ({ card, psam }) => {
      const info = await readBasicInfo({ card, psam, logger: opts.logger, ...(opts.clock === undefined ? {} : { clock: opts.clock }) });
      if (!idMatches(req.body.idNumber, info.ssn)) throw new TerminalError('TERM_ERR_ID_MISMATCH');
      return info.cardNumber;
    });
    const { online } = await cancelLoss({ cardNumber, ...staffOf(req) });
    return { queued: true, online, cardNumber: maskCardNumber(cardNumber) };
  });
}
