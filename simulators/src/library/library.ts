/**
 * The simulated library system's circulation rules, apart from the wire: patrons keyed by their
 * social security card number, items by barcode, loans with due dates, fines, blocked and lost
 * cards, expiry, renew limits. Time comes from an injected clock. Amounts are in fen (分).
 */
import { SimulatorError } from '../errors.ts';

export interface SimPatron {
  /** The social security card number, used as the SIP2 patron identifier (AA). */
  readonly cardNumber: string;
  readonly name: string;
  /** Patron password (AD), when the library checks one. */
  readonly password?: string;
  /** Borrowing suspended by the library. */
  blocked?: boolean;
  /** Card reported lost to the library. */
  lost?: boolean;
  /** Outstanding fines, fen. */
  finesFen?: number;
  /** Last valid day of the library registration, `YYYY-MM-DD`. */
  readonly expires?: string;
}

export interface SimItem {
  readonly barcode: string;
  readonly title: string;
  readonly location?: string;
}

export interface LibraryRules {
  /** Days a loan (and a renewal) runs. */
  readonly loanDays: number;
  /** Renewals allowed per loan. */
  readonly maxRenewals: number;
  /** Fines at or above this block borrowing and renewing (fen). */
  readonly fineLimitFen: number;
  /** Loans one patron may hold. */
  readonly maxLoans: number;
  /** Overdue fine per started day (fen). */
  readonly overdueFenPerDay: number;
}

export const DEFAULT_LIBRARY_RULES: LibraryRules = { loanDays: 30, maxRenewals: 2, fineLimitFen: 1000, maxLoans: 10, overdueFenPerDay: 10 };

export interface Loan {
  readonly barcode: string;
  readonly cardNumber: string;
  dueAt: number;
  renewals: number;
}

/** Why the library refuses a patron (the first that applies, in this order). */
export type PatronRefusal = 'unknown' | 'lost' | 'blocked' | 'expired' | 'fines' | 'too-many-loans';

export const REFUSAL_TEXT: Readonly<Record<PatronRefusal, string>> = {
  unknown: '读者不存在 / unknown patron',
  lost: '读者证已挂失 / card reported lost',
  blocked: '读者证已停用 / borrowing suspended',
  expired: '读者证已过期 / registration expired',
  fines: '有未缴罚款 / outstanding fines',
  'too-many-loans': '借阅数量已满 / loan limit reached',
};

export type CirculationResult =
  | { readonly ok: true; readonly loan: Loan; readonly title: string; readonly fineFen?: number }
  | { readonly ok: false; readonly reason: string; readonly title?: string };

const DAY = 86_400_000;

/** The library's data and rules. Mutations are the circulation operations only. */
export class SimLibrary {
  readonly rules: LibraryRules;
  readonly #clock: () => number;
  readonly #patrons = new Map<string, SimPatron>();
  readonly #items = new Map<string, SimItem>();
  readonly #loans = new Map<string, Loan>();
  /** Every circulation operation done, in order (for tests). */
  readonly log: { op: 'checkout' | 'renew' | 'checkin'; barcode: string; cardNumber: string | undefined; ok: boolean; at: number }[] = [];

  constructor(data: { patrons: readonly SimPatron[]; items: readonly SimItem[]; rules?: Partial<LibraryRules> }, clock: () => number = Date.now) {
    this.rules = { ...DEFAULT_LIBRARY_RULES, ...data.rules };
    this.#clock = clock;
    for (const p of data.patrons) {
      if (!/^[0-9A-Z]{1,32}$/.test(p.cardNumber)) throw new SimulatorError('SIM_ERR_LIBRARY_DATA', `patron card number '${p.cardNumber}'`, { field: 'cardNumber' });
      if (p.expires !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(p.expires)) throw new SimulatorError('SIM_ERR_LIBRARY_DATA', 'expires must be YYYY-MM-DD', { field: 'expires' });
      this.#patrons.set(p.cardNumber, { ...p });
    }
    for (const i of data.items) {
      if (!/^[0-9A-Za-z-]{1,32}$/.test(i.barcode)) throw new SimulatorError('SIM_ERR_LIBRARY_DATA', `item barcode '${i.barcode}'`, { field: 'barcode' });
      this.#items.set(i.barcode, i);
    }
  }

  get now(): number { return this.#clock(); }

  patron(cardNumber: string): SimPatron | undefined { return this.#patrons.get(cardNumber); }
  item(barcode: string): SimItem | undefined { return this.#items.get(barcode); }
  loan(barcode: string): Loan | undefined { return this.#loans.get(barcode); }
  loansOf(cardNumber: string): Loan[] { return [...this.#loans.values()].filter((l) => l.cardNumber === cardNumber); }

  /** True when `date` (YYYY-MM-DD) is before today in the library's time zone (`offsetMinutes`). */
  #expired(p: SimPatron, offsetMinutes: number): boolean {
    if (p.expires === undefined) return false;
    const today = new Date(this.#clock() + offsetMinutes * 60_000).toISOString().slice(0, 10);
    return p.expires < today;
  }

  /** The first reason the patron may not borrow, or `undefined`. */
  refusal(cardNumber: string, offsetMinutes: number, forNewLoan: boolean): PatronRefusal | undefined {
    const p = this.#patrons.get(cardNumber);
    if (p === undefined) return 'unknown';
    if (p.lost === true) return 'lost';
    if (p.blocked === true) return 'blocked';
    if (this.#expired(p, offsetMinutes)) return 'expired';
    if ((p.finesFen ?? 0) >= this.rules.fineLimitFen) return 'fines';
    if (forNewLoan && this.loansOf(cardNumber).length >= this.rules.maxLoans) return 'too-many-loans';
    return undefined;
  }

  isExpired(cardNumber: string, offsetMinutes: number): boolean {
    const p = this.#patrons.get(cardNumber);
    return p !== undefined && this.#expired(p, offsetMinutes);
  }

  checkout(cardNumber: string, barcode: string, offsetMinutes: number): CirculationResult {
    const r = this.#checkout(cardNumber, barcode, offsetMinutes);
    this.log.push({ op: 'checkout', barcode, cardNumber, ok: r.ok, at: this.#clock() });
    return r;
  }

  #checkout(cardNumber: string, barcode: string, offsetMinutes: number): CirculationResult {
    const refusal = this.refusal(cardNumber, offsetMinutes, true);
    const item = this.#items.get(barcode);
    if (refusal !== undefined) return { ok: false, reason: REFUSAL_TEXT[refusal], ...(item === undefined ? {} : { title: item.title }) };
    if (item === undefined) return { ok: false, reason: '图书不存在 / unknown item' };
    const existing = this.#loans.get(barcode);
    if (existing !== undefined) return { ok: false, title: item.title, reason: existing.cardNumber === cardNumber ? '已借出给您 / already on loan to you' : '图书已借出 / on loan to another reader' };
    const loan: Loan = { barcode, cardNumber, dueAt: this.#clock() + this.rules.loanDays * DAY, renewals: 0 };
    this.#loans.set(barcode, loan);
    return { ok: true, loan: { ...loan }, title: item.title };
  }

  renew(cardNumber: string, barcode: string, offsetMinutes: number): CirculationResult {
    const r = this.#renew(cardNumber, barcode, offsetMinutes);
    this.log.push({ op: 'renew', barcode, cardNumber, ok: r.ok, at: this.#clock() });
    return r;
  }

  #renew(cardNumber: string, barcode: string, offsetMinutes: number): CirculationResult {
    const item = this.#items.get(barcode);
    const refusal = this.refusal(cardNumber, offsetMinutes, false);
    if (refusal !== undefined) return { ok: false, reason: REFUSAL_TEXT[refusal], ...(item === undefined ? {} : { title: item.title }) };
    const loan = this.#loans.get(barcode);
    if (item === undefined || loan === undefined || loan.cardNumber !== cardNumber) return { ok: false, reason: '您未借此书 / not on loan to you', ...(item === undefined ? {} : { title: item.title }) };
    if (loan.renewals >= this.rules.maxRenewals) return { ok: false, title: item.title, reason: `续借次数已满 / renewal limit (${this.rules.maxRenewals}) reached` };
    loan.renewals++;
    loan.dueAt = Math.max(loan.dueAt, this.#clock()) + this.rules.loanDays * DAY;
    return { ok: true, loan: { ...loan }, title: item.title };
  }

  checkin(barcode: string): CirculationResult {
    const r = this.#checkin(barcode);
    this.log.push({ op: 'checkin', barcode, cardNumber: r.ok ? r.loan.cardNumber : undefined, ok: r.ok, at: this.#clock() });
    return r;
  }

  #checkin(barcode: string): CirculationResult {
    const item = this.#items.get(barcode);
    if (item === undefined) return { ok: false, reason: '图书不存在 / unknown item' };
    const loan = this.#loans.get(barcode);
    if (loan === undefined) return { ok: false, title: item.title, reason: '图书未借出 / not on loan' };
    this.#loans.delete(barcode);
    const late = this.#clock() - loan.dueAt;
    let fineFen: number | undefined;
    if (late > 0) {
      fineFen = Math.ceil(late / DAY) * this.rules.overdueFenPerDay;
      const p = this.#patrons.get(loan.cardNumber);
      if (p !== undefined) p.finesFen = (p.finesFen ?? 0) + fineFen;
    }
    return { ok: true, loan, title: item.title, ...(fineFen === undefined ? {} : { fineFen }) };
  }
}

/** `12.50` for 1250 fen. */
export function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}
