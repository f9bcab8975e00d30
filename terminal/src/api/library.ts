/**
 * Local API routes of the library services (docs/local-api.md, docs/sip2.md): the library gate
 * and the self-service loan desk. The card is read the way every card service reads it (genuine
 * card, hotlist, validity); a hotlisted or expired card is a gate refusal with its reason, not an
 * error. The book barcode comes in the body (a wedge scanner typing into the page) or, when left
 * out, from the desk's barcode scanners (`BarcodeScans`). Registered by `app.ts` when the runtime
 * gives it a {@link LibraryService}; otherwise the routes answer `TERM_ERR_API_NOT_CONFIGURED`.
 */
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../errors.ts';
import type { LibraryService } from '../services/library.ts';
import type { BarcodeScans } from '../services/library-barcodes.ts';
import type { LocalApiOptions, LocalApiServices } from './app.ts';

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message', 'national'] } },
} as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
const barcodeBody = { type: 'object', properties: { barcode: { type: 'string', pattern: '^[0-9A-Za-z-]{1,32}$' } }, additionalProperties: false } as const;
const answer = { 200: { type: 'object', additionalProperties: true }, ...errors } as const;

/** What the routes need besides the API's own options. */
export interface LocalApiLibrary {
  readonly service: LibraryService;
  readonly barcodes?: BarcodeScans;
  /** Longest wait for a scanned barcode, ms (default 30 000). */
  readonly scanWaitMs?: number;
}

const codeOf = (e: unknown): string | undefined => (e instanceof TerminalError ? e.code : undefined);

export function registerLibrary(app: FastifyInstance, opts: LocalApiOptions, svc: LocalApiServices): void {
  const lib = opts.library;
  const need = (): LocalApiLibrary => {
    if (lib === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no library service');
    return lib;
  };
  const readCard = (): Promise<{ cardNumber: string }> => opts.readers.withCard(({ card, psam }) =>
    svc.readBasicInfo({ card, psam, hotlist: opts.hotlist, logger: opts.logger, ...(opts.clock === undefined ? {} : { clock: opts.clock }) }));
  const barcodeOf = async (l: LocalApiLibrary, given: string | undefined): Promise<string> => {
    if (given !== undefined) return given;
    if (l.barcodes === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no barcode in the request and no barcode scanner');
    return l.barcodes.next(l.scanWaitMs ?? 30_000);
  };

  app.post('/v1/library/gate', {
    schema: {
      summary: 'Library gate: read the card, ask the library system (SIP2 23/63), admit or refuse with the reason',
      description: '`{admitted, reason?, message?, cardNumber, name?, fees?}`; reasons: hotlisted, expired (card or registration), unknown-patron, lost, fines, blocked. Library unreachable: 503 TERM_ERR_LIBRARY_UNAVAILABLE.',
      tags: ['library'],
      body: { type: 'object', properties: {}, additionalProperties: false },
      response: answer,
    },
  }, async () => {
    const l = need();
    let cardNumber: string;
    try {
      ({ cardNumber } = await readCard());
    } catch (e) {
      const code = codeOf(e);
      if (code === 'TERM_ERR_CARD_HOTLISTED') return l.service.refuseCard(undefined, 'hotlisted');
      if (code === 'TERM_ERR_CARD_EXPIRED') return l.service.refuseCard(undefined, 'expired');
      throw e;
    }
    return l.service.gate(cardNumber);
  });

  for (const op of ['checkout', 'renew'] as const) {
    app.post<{ Body: { barcode?: string } }>(`/v1/library/${op}`, {
      schema: {
        summary: op === 'checkout' ? 'Borrow a book: card in the reader, barcode in the body or from the scanner (SIP2 11)' : 'Renew a loan of the holder of the card in the reader (SIP2 29)',
        description: '`{op, ok, barcode, title?, dueDate?, reason?, message?}`; a refused patron (blocked, fines, lost, expired, unknown-patron) is `ok: false` with the reason and no item request; the library refusing the item is reason `item` with its message.',
        tags: ['library'],
        body: barcodeBody,
        response: answer,
      },
    }, async (req) => {
      const l = need();
      const { cardNumber } = await readCard();
      const barcode = await barcodeOf(l, req.body?.barcode);
      return l.service.loan(op, cardNumber, barcode);
    });
  }

  app.post<{ Body: { barcode?: string } }>('/v1/library/checkin', {
    schema: {
      summary: 'Return a book (SIP2 09): barcode in the body or from the scanner; no card needed',
      tags: ['library'],
      body: barcodeBody,
      response: answer,
    },
  }, async (req) => {
    const l = need();
    return l.service.checkin(await barcodeOf(l, req.body?.barcode));
  });

  app.get('/v1/library/barcode', {
    schema: {
      summary: 'Wait for the next book barcode from the desk scanners',
      tags: ['library'],
      response: { 200: { type: 'object', properties: { barcode: { type: 'string' } } }, ...errors },
    },
  }, async () => {
    const l = need();
    if (l.barcodes === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no barcode scanner');
    return { barcode: await l.barcodes.next(l.scanWaitMs ?? 30_000) };
  });
}
