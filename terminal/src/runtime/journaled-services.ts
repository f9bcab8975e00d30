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
      let r: realServices.PurchaseResult;
      try { r = await base.purchase(opts); } catch (e) { return CARD_REFUSALS.has(codeOf(e)) ? refused('purchase', e) : Promise.reject(e); }
      const rec = r.kind === 'completed' ? r.record : r.recovery.record;
      await append('txn.purchase', {
        recordId: rec.id, kind: r.kind, state: rec.state, issuerId: rec.issuerId, cardSerial: rec.cardSerial, amount: rec.amount,
        transactionType: rec.transactionType, atc: rec.atc, balanceBefore: rec.balanceBefore,
        ...(r.kind === 'completed' ? { balanceAfter: r.balanceAfter } : {}),
        terminalNumber: rec.terminalNumber, terminalSerial: rec.terminalSerial, dateTime: rec.dateTime, keyVersion: rec.keyVersion,
        ...(rec.tac === undefined ? {} : { tac: rec.tac }), ...(rec.mac2Verified === undefined ? {} : { mac2Verified: rec.mac2Verified }),
      }, 'transaction');
      return r;
    },
  };
}
