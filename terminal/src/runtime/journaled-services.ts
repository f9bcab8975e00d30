/**
 * The card services of the local API as the runtime offers them: gated by the configuration's
 * service switches and journaled in the outbox before each result is reported — `card.read`,
 * `card.refused`, `pin.verify`, `pin.change`, `txn.purchase` (with the TAC). Event bodies carry
 * no PINs, no names, no SSNs, and card numbers masked; a purchase carries what clearing needs
 * (card serial, ATC, amount, TAC).
 */
import type { Logger } from 'pino';
import { maskCardNumber } from '@onecard/protocol/ssc';
import { TerminalError } from '../errors.ts';
import * as realServices from '../services/index.ts';
import type { LocalApiServices } from '../api/index.ts';
import type { Outbox } from '../agent/outbox-types.ts';

/** Services a configuration can switch off. */
export interface ServiceFlags {
  readonly identity: boolean;
  readonly pin: boolean;
  readonly transit: boolean;
}

export const ALL_SERVICES: ServiceFlags = { identity: true, pin: true, transit: true };

export interface ServiceHooks {
  /** Journal for events; absent without a fleet section (then nothing is journaled). */
  readonly outbox: Outbox | undefined;
  /** Current service switches. */
  readonly services: () => ServiceFlags;
  /** Told after each journaled record (so the agent sends it without waiting for its tick). */
  readonly journaled?: () => void;
  readonly logger?: Logger;
  readonly clock?: () => number;
}

const codeOf = (e: unknown): string => (e as { code?: unknown }).code as string ?? 'TERM_ERR_API_INTERNAL';

/**
 * The card services of the local API, gated by the configuration's switches and journaled in the
 * outbox. A transaction is journaled (fsync'd) before its result is returned; while the outbox is
 * full a purchase is refused before the card is touched (`TERM_ERR_OUTBOX_FULL`). Card-read and
 * PIN events that the outbox refuses are logged and counted by the outbox, the read itself is
 * still answered.
 * @throws TerminalError `TERM_ERR_SERVICE_DISABLED` for a switched-off service, plus the services' own codes
 */
export function journaledServices(h: ServiceHooks, base: LocalApiServices = realServices): LocalApiServices {
  const append = async (type: string, body: Record<string, unknown>, cls: 'event' | 'transaction'): Promise<void> => {
    const ob = h.outbox;
    if (ob === undefined) return;
    try {
      await ob.append({ type, body, class: cls });
      h.journaled?.();
    } catch (e) {
      if (cls === 'transaction') throw e;
      h.logger?.error({ code: codeOf(e), type }, 'event not journaled');
    }
  };
  const need = (flag: keyof ServiceFlags): void => {
    if (!h.services()[flag]) throw new TerminalError('TERM_ERR_SERVICE_DISABLED', flag, { field: flag });
  };
  const refused = async (service: string, e: unknown): Promise<never> => {
    const d = (e as { details?: Record<string, unknown> }).details ?? {};
    await append('card.refused', { service, code: codeOf(e), ...(typeof d['hotlistVersion'] === 'number' ? { hotlistVersion: d['hotlistVersion'] } : {}) }, 'event');
    throw e;
  };
  const CARD_REFUSALS = new Set(['TERM_ERR_CARD_HOTLISTED', 'TERM_ERR_CARD_EXPIRED', 'TERM_ERR_CARD_NOT_YET_VALID', 'TERM_ERR_CARD_NOT_GENUINE', 'TERM_ERR_WRONG_CARD_TYPE']);
  return {
    readBasicInfo: async (opts) => {
      need('identity');
      let info: realServices.BasicInfo;
      try { info = await base.readBasicInfo(opts); } catch (e) { return CARD_REFUSALS.has(codeOf(e)) ? refused('read', e) : Promise.reject(e); }
      await append('card.read', {
        cardNumber: maskCardNumber(info.cardNumber), regionCode: info.regionCode, generation: info.generation, specVersion: info.specVersion,
        cardType: info.cardType, algorithm: info.algorithm, hotlistVersion: opts.hotlist?.version ?? 0,
      }, 'event');
      return info;
    },
    pinStatus: async (ctx) => { need('pin'); return base.pinStatus(ctx); },
    verifyPin: async (ctx) => {
      need('pin');
      try {
        await base.verifyPin(ctx);
      } catch (e) {
        const d = (e as { details?: Record<string, unknown> }).details ?? {};
        if (codeOf(e) === 'TERM_ERR_PIN_WRONG' || codeOf(e) === 'TERM_ERR_PIN_LOCKED') {
          await append('pin.verify', { result: codeOf(e) === 'TERM_ERR_PIN_LOCKED' ? 'locked' : 'wrong', ...(typeof d['triesLeft'] === 'number' ? { triesLeft: d['triesLeft'] } : {}) }, 'event');
        } else if (CARD_REFUSALS.has(codeOf(e))) await refused('pin.verify', e);
        throw e;
      }
      await append('pin.verify', { result: 'ok' }, 'event');
    },
    changePin: async (ctx) => {
      need('pin');
      try { await base.changePin(ctx); } catch (e) {
        if (codeOf(e) === 'TERM_ERR_PIN_WRONG' || codeOf(e) === 'TERM_ERR_PIN_LOCKED') await append('pin.change', { result: codeOf(e) === 'TERM_ERR_PIN_LOCKED' ? 'locked' : 'wrong' }, 'event');
        else if (CARD_REFUSALS.has(codeOf(e))) await refused('pin.change', e);
        throw e;
      }
      await append('pin.change', { result: 'ok' }, 'event');
    },
    purchase: async (opts) => {
      need('transit');
      if (h.outbox?.stats().full === true) throw new TerminalError('TERM_ERR_OUTBOX_FULL', 'purchase refused until the outbox drains');
      const journal = h.outbox === undefined ? opts.journal : reportingJournal(opts.journal, (rec) => append('txn.purchase', purchaseEvent(rec), 'transaction'));
      try { return await base.purchase({ ...opts, journal }); } catch (e) { return CARD_REFUSALS.has(codeOf(e)) ? refused('purchase', e) : Promise.reject(e); }
    },
  };
}

/**
 * The `txn.purchase` event of a settled journal record: what clearing needs (card serial, ATC,
 * amount, TAC). `kind` is `completed` for a purchase answered at the tap, `recovered` for one a
 * later tap settled (GET TRANSACTION PROVE), whatever its final state.
 */
function purchaseEvent(rec: realServices.PurchaseRecord): Record<string, unknown> {
  const kind = rec.recovered === true ? 'recovered' : 'completed';
  return {
    recordId: rec.id, kind, state: rec.state, issuerId: rec.issuerId, cardSerial: rec.cardSerial, amount: rec.amount,
    transactionType: rec.transactionType, atc: rec.atc, balanceBefore: rec.balanceBefore,
    ...(kind === 'completed' && rec.state === 'completed' ? { balanceAfter: rec.balanceBefore - rec.amount } : {}),
    terminalNumber: rec.terminalNumber, terminalSerial: rec.terminalSerial, dateTime: rec.dateTime, keyVersion: rec.keyVersion,
    ...(rec.tac === undefined ? {} : { tac: rec.tac }), ...(rec.mac2 === undefined ? {} : { mac2: rec.mac2 }),
    ...(rec.mac2Verified === undefined ? {} : { mac2Verified: rec.mac2Verified }),
    ...(rec.reason === undefined ? {} : { reason: rec.reason }), ...(rec.sw === undefined ? {} : { sw: rec.sw }),
  };
}

const SETTLED_STATES = new Set(['completed', 'not-debited', 'unknown']);

/** The journal outcome a `txn.purchase` event reported, or undefined when the body is not one. */
function outcomeOf(body: Record<string, unknown>): realServices.PurchaseOutcome | undefined {
  const state = body['state'];
  if (typeof state !== 'string' || !SETTLED_STATES.has(state)) return undefined;
  const str = (k: string): Record<string, string> => (typeof body[k] === 'string' ? { [k]: body[k] } : {});
  return {
    state: state as realServices.PurchaseOutcome['state'],
    ...str('tac'), ...str('mac2'), ...str('reason'),
    ...(typeof body['mac2Verified'] === 'boolean' ? { mac2Verified: body['mac2Verified'] } : {}),
    ...(typeof body['sw'] === 'number' ? { sw: body['sw'] } : {}),
    ...(body['kind'] === 'recovered' ? { recovered: true } : {}),
  };
}

/**
 * On start: a purchase whose settlement reached the outbox but not the journal (the process died
 * between the two) is settled in the journal from its outbox record, so it is neither reported
 * twice nor recovered again from the card. Returns how many were settled.
 * @throws TerminalError the outbox's and the journal's I/O codes
 */
export async function settleFromOutbox(journal: realServices.PurchaseJournal, outbox: Outbox, logger?: Logger): Promise<number> {
  const pending = new Set(journal.pending().map((r) => r.id));
  if (pending.size === 0) return 0;
  const reported = new Map<string, realServices.PurchaseOutcome>();
  for (const r of await outbox.retained()) {
    const id = r.body['recordId'];
    if (r.type !== 'txn.purchase' || typeof id !== 'string' || !pending.has(id)) continue;
    const outcome = outcomeOf(r.body);
    if (outcome !== undefined) reported.set(id, outcome);
  }
  for (const [id, outcome] of reported) {
    await journal.settle(id, outcome);
    logger?.info({ purchase: { recordId: id, state: outcome.state } }, 'purchase settled from its outbox record after a restart');
  }
  return reported.size;
}

/**
 * The journal as the runtime's purchases see it: every settlement that moved money or settled an
 * interrupted purchase is journaled in the outbox (fsync'd) before the purchase journal makes it
 * final. A crash between the two leaves the record pending; the next tap of that card recovers it
 * and reports it again as `recovered` (clearing keys fares by `recordId`). A refused DEBIT (the
 * card answered with an error, nothing was debited) is not reported.
 */
function reportingJournal(journal: realServices.PurchaseJournal, report: (rec: realServices.PurchaseRecord) => Promise<void>): realServices.PurchaseJournal {
  return {
    begin: (draft) => journal.begin(draft),
    settle: (id, outcome, commit) => journal.settle(id, outcome, async (next) => {
      if (next.reason !== 'debit-refused') await report(next);
      await commit?.(next);
    }),
    get: (id) => journal.get(id),
    pending: () => journal.pending(),
    list: () => journal.list(),
    close: () => journal.close(),
  };
}
