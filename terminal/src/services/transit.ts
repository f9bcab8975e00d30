/**
 * Transit purse enquiry [transit-purse §3, §4]: balance (GET BALANCE, EP) and the newest fares of
 * the card's cyclic log. Read-only and without a PIN (the purse needs none for reading); the
 * hotlist is checked as for a purchase (an expired card still shows its balance); no PSAM is used.
 */
import type { Logger } from 'pino';
import { TRANSACTION_TYPES, getBalance, parseBalance } from '@onecard/protocol/purse';
import type { CardChannel } from '../card/channel.ts';
import type { Hotlist } from '../hotlist/index.ts';
import { checkHotlist } from './basic-info.ts';
import { decode, expectOk, send } from './common.ts';
import { openTransit, readLog } from './purchase.ts';

/** One fare (or load) from the card's log, newest first. */
export interface TransitFare {
  readonly atc: number;
  /** Fen. */
  readonly amount: number;
  readonly kind: 'purchase' | 'load' | 'other';
  /** `YYYYMMDDhhmmss`, terminal local time. */
  readonly dateTime: string;
  /** Terminal number, 12 hex digits. */
  readonly terminalNumber: string;
}

/** What {@link transitStatus} reads. */
export interface TransitStatus {
  /** Balance in fen. */
  readonly balance: number;
  /** Card number of the transit application, masked to its last 4 characters. */
  readonly cardNumberMasked: string;
  readonly expiryDate: string;
  readonly fares: readonly TransitFare[];
}

const KIND: Record<number, TransitFare['kind']> = { [TRANSACTION_TYPES.purchase]: 'purchase', [TRANSACTION_TYPES.compoundPurchase]: 'purchase', [TRANSACTION_TYPES.load]: 'load' };

/**
 * Balance and up to `limit` (default 5, at most 10) newest log records of the card's purse.
 * Rejects `TERM_ERR_WRONG_CARD_TYPE` (no transit application), `TERM_ERR_CARD_HOTLISTED`,
 * `TERM_ERR_CARD_STATUS`, `TERM_ERR_CARD_DATA` and the channel codes.
 */
export async function transitStatus(o: { readonly card: CardChannel; readonly hotlist?: Hotlist | undefined; readonly logger?: Logger | undefined; readonly limit?: number }): Promise<TransitStatus> {
  const { card, logger } = o;
  const { info } = await openTransit(card, logger);
  checkHotlist(o.hotlist, info.cardNumber, info.serialHex);
  const br = expectOk(await send(card, getBalance(), 'card', logger), 'card', 'GET BALANCE');
  const balance = decode('balance', () => parseBalance(br.data)).fen;
  const log = await readLog(card, logger);
  const limit = Math.max(0, Math.min(10, o.limit ?? 5));
  const n = info.cardNumber;
  return {
    balance,
    cardNumberMasked: n.length > 4 ? `${'*'.repeat(n.length - 4)}${n.slice(-4)}` : n,
    expiryDate: info.expiryDate,
    fares: log.slice(0, limit).map((r) => ({ atc: r.atc, amount: r.amount, kind: KIND[r.transactionType] ?? 'other', dateTime: r.dateTime, terminalNumber: r.terminalNumber })),
  };
}
