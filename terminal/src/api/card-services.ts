/**
 * Card services of the kiosk and the counter desk beyond reading and the holder's PIN: the
 * transit purse enquiry (balance and recent fares, no PIN), the issuer's PIN unblock and reload
 * through the PSAM [ssc-card §7.9], and the cancellation of a loss report (解挂) after the staff
 * member checked the holder's ID document against the card. Registered by `app.ts`; every route
 * needs the card present in the reader. The desk's PIN unblock and reload are reported to the fleet
 * with the member of staff who did them (`deskAction`), like the cancellation. No PIN and no ID
 * number reaches a log, an answer or the
 * fleet: the cancellation carries only that the ID matched.
 *
 * With a PIN pad ({@link LocalApiOptions.pinpad}) the holder's PIN services also run from the pad:
 * the route prompts the pad, the PIN goes from the pad to the card inside the terminal, and the
 * page sees only the `pinpad` progress events (digit counts) on the WebSocket.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../errors.ts';
import { changePin, pinStatus, readBasicInfo, reloadPin, unblockPin, verifyPin } from '../services/index.ts';
import type { PinEntry, PinPurpose } from '../pinpad/index.ts';
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

/** Whether the slot a `card-removed` event names is a user-card slot (not the PSAM). */
function isUserSlot(status: readonly unknown[], e: { readerId?: unknown; slot?: unknown }): boolean {
  const r = (status as { readerId?: unknown; slots?: { slot?: unknown; role?: unknown }[] }[]).find((x) => x.readerId === e.readerId);
  const s = r?.slots?.find((x) => x.slot === e.slot);
  return s?.role !== 'psam';
}

/**
 * Runs a desk PIN service and reports it through {@link LocalApiOptions.deskAction} with the member
 * of staff it was done for: `ok` with the card number, or `failed` with the terminal error code
 * (then rethrown). Nothing about the PIN itself is reported.
 */
async function deskPin(opts: LocalApiOptions, type: 'pin.unblock' | 'pin.reload', staff: { staffId?: string }, run: () => Promise<{ readonly cardNumber: string }>): Promise<void> {
  let cardNumber: string;
  try {
    ({ cardNumber } = await run());
  } catch (e) {
    if (e instanceof TerminalError) await opts.deskAction?.({ type, result: 'failed', code: e.code, ...staff });
    throw e;
  }
  await opts.deskAction?.({ type, result: 'ok', cardNumber, ...staff });
}

/** Registers the routes on `app` (called by `buildLocalApi` before it returns). */
export function registerCardServices(app: FastifyInstance, opts: LocalApiOptions): void {
  const base = { hotlist: opts.hotlist, logger: opts.logger };
  registerPinPadServices(app, opts);

  app.get<{ Querystring: { delivery: string } }>('/v1/outbox/delivered', {
    schema: {
      summary: 'Whether a queued record (the `delivery` of a loss report) has reached the fleet',
      description: 'delivered: the fleet acknowledged it; else it still waits in the outbox (fleet unreachable). No PIN, no card data.',
      tags: ['card'],
      querystring: { type: 'object', properties: { delivery: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' } }, required: ['delivery'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { delivered: { type: 'boolean' } } }, ...errors },
    },
  }, async (req) => {
    if (opts.deliveredSeq === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no fleet outbox');
    return { delivered: opts.deliveredSeq() >= Number(req.query.delivery) };
  });

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
  }, async (req) => {
    await deskPin(opts, 'pin.unblock', staffOf(req), () => opts.readers.withCard(({ card, psam }) => unblockPin({ card, psam, ...base })));
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
    await deskPin(opts, 'pin.reload', staffOf(req), () => opts.readers.withCard(({ card, psam }) => reloadPin({ card, psam, newPin: req.body.newPin, ...base })));
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

const padOk = { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors } as const;
const emptyBody = { type: 'object', properties: {}, additionalProperties: false } as const;

/**
 * The holder's PIN services with the PIN taken from the PIN pad: `/v1/pinpad` (is there one),
 * `/v1/card/pinpad/{verify,change,loss-report}` and `/v1/pinpad/cancel`. Without a pad they answer
 * 501 `TERM_ERR_API_NOT_CONFIGURED`.
 */
function registerPinPadServices(app: FastifyInstance, opts: LocalApiOptions): void {
  const base = { hotlist: opts.hotlist, logger: opts.logger };
  const need = (): PinEntry => {
    if (opts.pinpad === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no PIN pad (pinpad in the terminal file)');
    return opts.pinpad;
  };
  /**
   * Reads one PIN on the pad for `purpose`. The entry ends early when the user card leaves the
   * reader (`TERM_ERR_CARD_REMOVED`) or the page goes away (its request closes).
   */
  const readPin = async (pad: PinEntry, purpose: PinPurpose, raw: { once(e: 'close', f: () => void): unknown; off(e: 'close', f: () => void): unknown }): Promise<string> => {
    let active = true;
    const onRemoved = (e: { readerId?: unknown; slot?: unknown }): void => {
      if (active && isUserSlot(opts.readers.status(), e)) pad.cancel(new TerminalError('TERM_ERR_CARD_REMOVED', 'card taken out during PIN entry'));
    };
    const onClose = (): void => {
      if (active) pad.cancel(new TerminalError('TERM_ERR_PINPAD_CANCELLED', 'the page went away'));
    };
    opts.readers.events.on('card-removed', onRemoved);
    raw.once('close', onClose);
    try {
      return await pad.read(purpose);
    } finally {
      active = false;
      opts.readers.events.off('card-removed', onRemoved);
      raw.off('close', onClose);
    }
  };
  /** Refuses before prompting when the card is absent, refused or its PIN locked (no try used). */
  const precheck = async (): Promise<void> => {
    const st = await opts.readers.withCard(({ card }) => pinStatus({ card, ...base }));
    if (st.locked) throw new TerminalError('TERM_ERR_PIN_LOCKED');
  };

  app.get('/v1/pinpad', {
    schema: {
      summary: 'Whether this terminal takes PINs on a PIN pad device',
      tags: ['pinpad'],
      response: { 200: { type: 'object', properties: { present: { type: 'boolean' }, connected: { type: 'boolean' }, busy: { type: 'boolean' } } }, ...errors },
    },
  }, async () => (opts.pinpad === undefined ? { present: false, connected: false, busy: false } : { present: true, connected: opts.pinpad.connected, busy: opts.pinpad.busy }));

  app.post('/v1/pinpad/cancel', {
    schema: { summary: 'End the PIN entry running on the PIN pad (the waiting request answers TERM_ERR_PINPAD_CANCELLED)', tags: ['pinpad'], body: emptyBody, response: { 200: { type: 'object', properties: { cancelled: { type: 'boolean' } } }, ...errors } },
  }, async () => ({ cancelled: need().cancel() }));

  app.post('/v1/card/pinpad/verify', {
    schema: {
      summary: 'Verify the card PIN entered on the PIN pad (the PIN never passes through the caller)',
      description: 'Answers when the holder pressed Enter on the pad. Progress: WebSocket `pinpad` messages (counts only). Wrong PIN: 422 TERM_ERR_PIN_WRONG with triesLeft; locked: TERM_ERR_PIN_LOCKED (before any prompt); TERM_ERR_PINPAD_CANCELLED / _TIMEOUT / _BUSY / _UNAVAILABLE; card taken out: TERM_ERR_CARD_REMOVED.',
      tags: ['pinpad'],
      body: emptyBody,
      response: padOk,
    },
  }, async (_req, reply) => {
    const pad = need();
    await precheck();
    const pin = await readPin(pad, 'verify', reply.raw);
    await opts.readers.withCard(({ card }) => verifyPin({ card, pin, ...base }));
    return { ok: true };
  });

  app.post('/v1/card/pinpad/change', {
    schema: {
      summary: 'Change the card PIN on the PIN pad: current PIN (verified at once), new PIN, new PIN again',
      description: 'The two new PINs must agree (422 TERM_ERR_PIN_MISMATCH, nothing changed). Errors as /v1/card/pinpad/verify.',
      tags: ['pinpad'],
      body: emptyBody,
      response: padOk,
    },
  }, async (_req, reply) => {
    const pad = need();
    await precheck();
    const oldPin = await readPin(pad, 'old', reply.raw);
    // The current PIN is checked before the holder types a new one (a wrong one costs one try, as CHANGE PIN would).
    await opts.readers.withCard(({ card }) => verifyPin({ card, pin: oldPin, ...base }));
    const newPin = await readPin(pad, 'new', reply.raw);
    const again = await readPin(pad, 'again', reply.raw);
    if (newPin !== again) throw new TerminalError('TERM_ERR_PIN_MISMATCH');
    await opts.readers.withCard(({ card }) => changePin({ card, oldPin, newPin, ...base }));
    return { ok: true };
  });

  app.post('/v1/card/pinpad/loss-report', {
    schema: {
      summary: 'Report the card in the reader lost (挂失) with the PIN entered on the PIN pad',
      description: 'As POST /v1/card/loss-report, the PIN taken from the pad.',
      tags: ['pinpad'],
      body: emptyBody,
      response: { 200: { type: 'object', properties: { queued: { type: 'boolean' }, online: { type: 'boolean' }, cardNumber: { type: 'string' }, delivery: { type: 'string' } } }, ...errors },
    },
  }, async (req, reply) => {
    const pad = need();
    const reportLoss = opts.reportLoss;
    if (reportLoss === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no fleet outbox for loss reports');
    await precheck();
    const pin = await readPin(pad, 'loss', reply.raw);
    const cardNumber = await opts.readers.withCard(async ({ card, psam }) => {
      const info = await readBasicInfo({ card, psam, ...base, ...(opts.clock === undefined ? {} : { clock: opts.clock }) });
      await verifyPin({ card, pin, ...base });
      return info.cardNumber;
    });
    const { online, seq } = await reportLoss({ cardNumber, ...staffOf(req) });
    return { queued: true, online, cardNumber: maskCardNumber(cardNumber), ...(seq === undefined ? {} : { delivery: String(seq) }) };
  });
}
