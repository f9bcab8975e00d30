/**
 * Library services over SIP2 (docs/sip2.md): the library gate (card read → Patron Status 23 and
 * Patron Information 63 → admit, or refuse with the reason) and the self-service loan desk
 * (checkout 11, renew 29, checkin 09). The patron identifier is the social security card number.
 * Refusals are decisions, not errors: they come back as data with a reason code and the library's
 * own screen message. Only an unreachable or misbehaving library system throws. Every decision and
 * every circulation result is journaled through the outbox hook with the card number masked; the
 * holder's name goes to the screen masked and never to the journal.
 */
import type { Logger } from 'pino';
import { maskCardNumber } from '@onecard/protocol/ssc';
import {
  checkinRequest, checkoutRequest, formatSip2Date, patronInformationRequest, patronStatusRequest, readItemResult, readPatron,
  renewRequest, sip2CalendarDate, PATRON_STATUS_FLAGS, type PatronStatusFlag, type Sip2PatronView, type Sip2RequestContext,
} from '@onecard/protocol/sip2';
import type { TerminalConfigDocument } from '@onecard/protocol/fleet';
import { TerminalError } from '../errors.ts';
import { Sip2Link, type Sip2LinkOptions } from '../link/sip2-connection.ts';

/** The fleet configuration's `library` section, its SIP2 password opened (`agent/config-secrets.ts`). */
export type LibrarySettings = Omit<NonNullable<TerminalConfigDocument['library']>, 'password'> & { readonly password: string };

/** Why a holder is refused, in the order they are checked. */
export const LIBRARY_REFUSALS = ['hotlisted', 'expired', 'unknown-patron', 'lost', 'fines', 'blocked'] as const;
export type LibraryRefusal = (typeof LIBRARY_REFUSALS)[number];

export interface LibraryGateDecision {
  readonly admitted: boolean;
  readonly reason?: LibraryRefusal;
  /** The library's screen message (AF), when it sent one. */
  readonly message?: string;
  /** Masked card number. */
  readonly cardNumber: string;
  /** Masked name (first character kept). */
  readonly name?: string;
  /** Outstanding fees/fines as sent (BV), with currency. */
  readonly fees?: string;
}

export type LibraryOperation = 'checkout' | 'renew' | 'checkin';

export interface LibraryLoanOutcome {
  readonly op: LibraryOperation;
  readonly ok: boolean;
  readonly barcode: string;
  readonly title?: string;
  /** Due date `YYYY-MM-DD` (checkout, renew). */
  readonly dueDate?: string;
  /** A patron refusal (checked before checkout and renew), or `item` when the library refused the item. */
  readonly reason?: LibraryRefusal | 'item';
  readonly message?: string;
  /** A fine charged at checkin, as sent. */
  readonly fee?: string;
  readonly cardNumber?: string;
}

/**
 * The holder's own library account as the kiosk shows it after card + PIN: whether they may
 * borrow (and the refusal that applies), every patron status flag the library set, the counts of
 * loans, overdue items, holds and fined items, fees and the registration's expiry. Name masked.
 */
export interface LibraryPatronSummary {
  readonly mayBorrow: boolean;
  readonly reason?: LibraryRefusal;
  /** Whether the library knows the card number as a patron (BL). */
  readonly known: boolean;
  /** The SIP2 patron status positions set (`Y`) by the library [SIP2 2.00 §Patron Status Response]. */
  readonly flags: readonly PatronStatusFlag[];
  readonly cardNumber: string;
  readonly name?: string;
  readonly loans?: number;
  readonly overdue?: number;
  readonly holds?: number;
  readonly fineItems?: number;
  /** Outstanding fees/fines as sent (BV) and their currency (BH). */
  readonly fees?: string;
  readonly currency?: string;
  /** Registration valid until `YYYY-MM-DD` (PA). */
  readonly expires?: string;
  /** The library's screen messages (AF). */
  readonly messages: readonly string[];
}

export interface LibraryServiceOptions {
  /** The library section in effect (fleet configuration); `undefined` = no library configured. */
  readonly settings: () => LibrarySettings | undefined;
  /** Journals one record (the runtime's outbox); must not throw for events. */
  readonly journal?: (type: string, body: Record<string, unknown>) => Promise<void>;
  readonly logger?: Logger;
  readonly clock?: () => number;
  /** Builds the SIP2 link (tests inject); default {@link Sip2Link}. */
  readonly link?: (o: Sip2LinkOptions) => Pick<Sip2Link, 'request' | 'close'>;
}

const maskName = (n: string | undefined): string | undefined => (n === undefined || n === '' ? undefined : `${[...n][0]}${'*'.repeat(Math.max(1, [...n].length - 1))}`);
const localOffsetMinutes = (ms: number): number => -new Date(ms).getTimezoneOffset();

/** Library gate and loan desk over one SIP2 link (re-opened when its settings change). */
export class LibraryService {
  readonly #o: LibraryServiceOptions;
  readonly #now: () => number;
  #link: { key: string; link: Pick<Sip2Link, 'request' | 'close'> } | undefined;

  constructor(o: LibraryServiceOptions) {
    this.#o = o;
    this.#now = o.clock ?? Date.now;
  }

  #settings(service: 'gate' | 'loanDesk'): LibrarySettings {
    const s = this.#o.settings();
    if (s === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no library in the fleet configuration', { field: 'library' });
    if (!s[service]) throw new TerminalError('TERM_ERR_SERVICE_DISABLED', `library.${service}`, { field: `library.${service}` });
    return s;
  }

  #linkFor(s: LibrarySettings): Pick<Sip2Link, 'request' | 'close'> {
    const key = JSON.stringify([s.host, s.port, s.charset, s.errorDetection, s.user, s.password, s.location, s.timeoutMs, s.maxRetries]);
    if (this.#link?.key === key) return this.#link.link;
    this.#link?.link.close();
    const opts: Sip2LinkOptions = {
      host: s.host, port: s.port, charset: s.charset, errorDetection: s.errorDetection, timeoutMs: s.timeoutMs, maxRetries: s.maxRetries,
      user: s.user, password: s.password, location: s.location, clock: this.#now,
      ...(this.#o.logger === undefined ? {} : { logger: this.#o.logger }),
    };
    const link = (this.#o.link ?? ((x) => new Sip2Link(x)))(opts);
    this.#link = { key, link };
    return link;
  }

  #ctx(s: LibrarySettings): Sip2RequestContext {
    const now = this.#now();
    return { institutionId: s.institutionId, terminalPassword: '', date: formatSip2Date(now, localOffsetMinutes(now)) };
  }

  async #journal(type: string, body: Record<string, unknown>): Promise<void> {
    try { await this.#o.journal?.(type, body); } catch (e) {
      this.#o.logger?.error({ code: (e as { code?: unknown }).code, type }, 'library record not journaled');
    }
  }

  /** Patron status (23) then patron information (63); the refusal that applies, if any, and the holds count (64). */
  async #patron(s: LibrarySettings, cardNumber: string): Promise<{ view: Sip2PatronView; refusal: LibraryRefusal | undefined; holds: number | undefined }> {
    const link = this.#linkFor(s);
    const status = readPatron(await link.request(patronStatusRequest(this.#ctx(s), cardNumber)));
    const infoMessage = await link.request(patronInformationRequest(this.#ctx(s), cardNumber));
    const info = readPatron(infoMessage);
    const view: Sip2PatronView = { ...info, status: Object.fromEntries(Object.entries(status.status).map(([k, v]) => [k, v || info.status[k as keyof typeof info.status]])) as Sip2PatronView['status'], screenMessages: [...status.screenMessages, ...info.screenMessages] };
    const holds = infoMessage.fixed['holdItemsCount'];
    return { view, refusal: this.#refusal(view), holds: holds === undefined || !/^[0-9]+$/.test(holds) ? undefined : Number(holds) };
  }

  /** Whether a library system is configured for this terminal (the fleet configuration's `library` section). */
  configured(): boolean {
    return this.#o.settings() !== undefined;
  }

  /**
   * The holder's library account for the kiosk (patron status 23 and information 63); needs only
   * a configured library, not the gate or loan desk switches. Nothing is journaled: it changes nothing.
   * @throws TerminalError `TERM_ERR_API_NOT_CONFIGURED`, and the link's `TERM_ERR_LIBRARY_*`
   */
  async patronSummary(cardNumber: string): Promise<LibraryPatronSummary> {
    const s = this.#o.settings();
    if (s === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no library in the fleet configuration', { field: 'library' });
    const { view, refusal, holds } = await this.#patron(s, cardNumber);
    const name = maskName(view.name);
    const expires = view.expires === undefined ? undefined : sip2CalendarDate(view.expires);
    const summary: LibraryPatronSummary = {
      mayBorrow: refusal === undefined, known: view.valid !== false,
      ...(refusal === undefined ? {} : { reason: refusal }),
      flags: PATRON_STATUS_FLAGS.filter((f) => view.status[f]),
      cardNumber: maskCardNumber(cardNumber),
      ...(name === undefined ? {} : { name }),
      ...(view.chargedItems === undefined ? {} : { loans: view.chargedItems }),
      ...(view.overdueItems === undefined ? {} : { overdue: view.overdueItems }),
      ...(holds === undefined ? {} : { holds }),
      ...(view.fineItems === undefined ? {} : { fineItems: view.fineItems }),
      ...(view.feeAmount === undefined ? {} : { fees: view.feeAmount }),
      ...(view.currency === undefined ? {} : { currency: view.currency }),
      ...(expires === undefined ? {} : { expires }),
      // Patron status and patron information often carry the same screen message: shown once.
      messages: [...new Set(view.screenMessages)],
    };
    this.#o.logger?.info({ card: { cardNumber: summary.cardNumber }, mayBorrow: summary.mayBorrow, reason: refusal }, 'library patron status shown');
    return summary;
  }

  #refusal(v: Sip2PatronView): LibraryRefusal | undefined {
    if (v.valid === false) return 'unknown-patron';
    if (v.status.cardReportedLost) return 'lost';
    const expires = v.expires === undefined ? undefined : sip2CalendarDate(v.expires);
    const now = this.#now();
    const today = new Date(now + localOffsetMinutes(now) * 60_000).toISOString().slice(0, 10);
    if (expires !== undefined && expires < today) return 'expired';
    if (v.status.excessiveOutstandingFines || v.status.excessiveOutstandingFees) return 'fines';
    if (v.status.chargePrivilegesDenied || v.status.renewalPrivilegesDenied || v.status.tooManyItemsOverdue || v.status.tooManyItemsBilled || v.status.tooManyItemsLost) return 'blocked';
    return undefined;
  }

  /**
   * The gate decision for a card already read (hotlist and card validity checked by the read; a
   * refused read is decided with {@link refuseCard}).
   * @throws TerminalError `TERM_ERR_API_NOT_CONFIGURED`, `TERM_ERR_SERVICE_DISABLED`, and the link's `TERM_ERR_LIBRARY_*`
   */
  async gate(cardNumber: string): Promise<LibraryGateDecision> {
    const s = this.#settings('gate');
    const { view, refusal } = await this.#patron(s, cardNumber);
    const name = maskName(view.name);
    const decision: LibraryGateDecision = {
      admitted: refusal === undefined,
      cardNumber: maskCardNumber(cardNumber),
      ...(refusal === undefined ? {} : { reason: refusal }),
      ...(view.screenMessages[0] === undefined ? {} : { message: view.screenMessages[0] }),
      ...(name === undefined ? {} : { name }),
      ...(view.feeAmount === undefined ? {} : { fees: `${view.feeAmount}${view.currency === undefined ? '' : ` ${view.currency}`}` }),
    };
    await this.#journal('library.gate', { cardNumber: decision.cardNumber, admitted: decision.admitted, institutionId: s.institutionId, ...(refusal === undefined ? {} : { reason: refusal }) });
    this.#o.logger?.info({ card: { cardNumber: decision.cardNumber }, admitted: decision.admitted, reason: refusal }, 'library gate decision');
    return decision;
  }

  /** A gate refusal decided by the card read itself (hotlisted or expired card): journaled, no SIP2. */
  async refuseCard(cardNumber: string | undefined, reason: 'hotlisted' | 'expired'): Promise<LibraryGateDecision> {
    const s = this.#settings('gate');
    const masked = cardNumber === undefined ? '' : maskCardNumber(cardNumber);
    await this.#journal('library.gate', { cardNumber: masked, admitted: false, reason, institutionId: s.institutionId });
    return { admitted: false, reason, cardNumber: masked };
  }

  /**
   * Checkout or renew for the holder of `cardNumber`: the patron is checked first (refusal with
   * its reason, nothing sent for the item), then the item request.
   */
  async loan(op: 'checkout' | 'renew', cardNumber: string, barcode: string): Promise<LibraryLoanOutcome> {
    const s = this.#settings('loanDesk');
    const masked = maskCardNumber(cardNumber);
    const { view, refusal } = await this.#patron(s, cardNumber);
    let outcome: LibraryLoanOutcome;
    if (refusal !== undefined) {
      outcome = { op, ok: false, barcode, reason: refusal, cardNumber: masked, ...(view.screenMessages[0] === undefined ? {} : { message: view.screenMessages[0] }) };
    } else {
      const req = op === 'checkout' ? checkoutRequest(this.#ctx(s), cardNumber, barcode) : renewRequest(this.#ctx(s), cardNumber, barcode);
      outcome = this.#outcome(op, barcode, masked, readItemResult(await this.#linkFor(s).request(req)));
    }
    await this.#journal('library.loan', this.#record(outcome, s));
    return outcome;
  }

  /** Checkin (return) of one item; no card needed. */
  async checkin(barcode: string): Promise<LibraryLoanOutcome> {
    const s = this.#settings('loanDesk');
    const r = readItemResult(await this.#linkFor(s).request(checkinRequest(this.#ctx(s), barcode, s.location)));
    const outcome = this.#outcome('checkin', barcode, undefined, r);
    await this.#journal('library.loan', this.#record(outcome, s));
    return outcome;
  }

  #outcome(op: LibraryOperation, barcode: string, cardNumber: string | undefined, r: ReturnType<typeof readItemResult>): LibraryLoanOutcome {
    const due = r.dueDate === undefined ? undefined : sip2CalendarDate(r.dueDate);
    return {
      op, ok: r.ok, barcode,
      ...(cardNumber === undefined ? {} : { cardNumber }),
      ...(r.title === undefined ? {} : { title: r.title }),
      ...(r.ok && due !== undefined && op !== 'checkin' ? { dueDate: due } : {}),
      ...(r.ok ? {} : { reason: 'item' as const }),
      ...(r.screenMessages[0] === undefined ? {} : { message: r.screenMessages[0] }),
      ...(r.feeAmount === undefined ? {} : { fee: r.feeAmount }),
    };
  }

  #record(o: LibraryLoanOutcome, s: LibrarySettings): Record<string, unknown> {
    return {
      op: o.op, ok: o.ok, barcode: o.barcode, institutionId: s.institutionId,
      ...(o.cardNumber === undefined ? {} : { cardNumber: o.cardNumber }),
      ...(o.dueDate === undefined ? {} : { dueDate: o.dueDate }),
      ...(o.reason === undefined ? {} : { reason: o.reason }),
      ...(o.fee === undefined ? {} : { fee: o.fee }),
    };
  }

  close(): void {
    this.#link?.link.close();
    this.#link = undefined;
  }
}
