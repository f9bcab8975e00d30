/**
 * Transit purchase with the PSAM and its recovery [transit-purse §6, §8, §10; PBOC-2 §5.2.9,
 * §5.2.6]. Purchase: SELECT the T-Union application (public information from the FCI or `0015`),
 * hotlist and validity checks, PSAM terminal number and key index, INITIALIZE FOR PURCHASE, MAC1
 * from the PSAM, journal "pending" (durable) BEFORE DEBIT FOR PURCHASE, DEBIT, MAC2 verified by
 * the PSAM, journal "completed" with the TAC. A card that leaves during DEBIT keeps its record
 * pending; the next tap of that card runs GET TRANSACTION PROVE with the INITIALIZE ATC + 1
 * [ONECARD]: a proof settles "completed"; `9406` settles "not-debited" only when the balance and
 * the card's log agree that nothing was debited, otherwise "unknown" for host reconciliation.
 * Nothing is ever retried automatically, so no removal point can debit twice or debit unrecorded.
 */
import type { Logger } from 'pino';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { parseMac1, readPurchaseKeyIndex, parsePurchaseKeyIndex, transitMac1, verifyMac2, PSAM_DF_NAME_DES, selectByName } from '@onecard/protocol/psam';
import {
  TRANSACTION_TYPES, debitForPurchase, getBalance, getTransactionProve, initializeForPurchase, parseBalance, parseDebitForPurchase,
  parseInitializeForPurchase, parseLogRecord, parsePublicInfo, parseTUnionFci, parseTransactionProve, readLogRecord, readPublicInfo,
  selectTUnion, type LogRecord, type PublicInfo,
} from '@onecard/protocol/purse';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError } from '../errors.ts';
import type { Hotlist } from '../hotlist/index.ts';
import { checkHotlist, checkValidity } from './basic-info.ts';
import { decode, expectOk, localDateTime, send, statusError, systemClock, type Clock } from './common.ts';
import type { PurchaseJournal, PurchaseRecord } from './journal.ts';
import { psamTerminalNumber } from './psam.ts';

/** Which journal record each PSAM's open MAC1 context belongs to (MAC2 can be checked only there). */
const openPsamContext = new WeakMap<CardChannel, string>();

/** Inputs of {@link purchase}. */
export interface PurchaseOptions {
  readonly card: CardChannel;
  readonly psam?: CardChannel | undefined;
  readonly journal: PurchaseJournal;
  /** Amount in fen, 1–FFFFFFFF. */
  readonly amount: number;
  readonly clock?: Clock;
  readonly logger?: Logger | undefined;
  readonly hotlist?: Hotlist | undefined;
  /** UTC offset of the transaction time, minutes; default 480. */
  readonly utcOffsetMinutes?: number;
  /**
   * Second dispersion factor of MAC1 (scheme-specific [transit-purse §6.4, §11]); default the
   * 8-byte issuer identifier of `0015`.
   */
  readonly secondFactor?: (info: PublicInfo) => Uint8Array;
}

/** Outcome of a recovery. */
export type RecoveryResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'completed'; readonly record: PurchaseRecord }
  | { readonly kind: 'not-debited'; readonly record: PurchaseRecord }
  | { readonly kind: 'unknown'; readonly record: PurchaseRecord };

/** Outcome of {@link purchase}. */
export type PurchaseResult =
  | { readonly kind: 'completed'; readonly record: PurchaseRecord; readonly balanceAfter: number }
  /** An interrupted purchase of this card was settled instead; no new debit was made. */
  | { readonly kind: 'recovered'; readonly recovery: Extract<RecoveryResult, { kind: 'completed' | 'not-debited' }> };

export interface TransitApp {
  readonly info: PublicInfo;
}

/** SELECT the transit application and read its public information (FCI or `0015`). */
export async function openTransit(card: CardChannel, logger?: Logger): Promise<TransitApp> {
  const r = await send(card, selectTUnion(), 'card', logger);
  if (r.sw === 0x6a82) throw new TerminalError('TERM_ERR_WRONG_CARD_TYPE', 'no transit application', { sw: r.sw });
  expectOk(r, 'card', 'SELECT transit');
  const fci = decode('transit FCI', () => parseTUnionFci(r.data));
  if (fci.publicInfo !== undefined) return { info: fci.publicInfo };
  const p = expectOk(await send(card, readPublicInfo(), 'card', logger), 'card', 'READ BINARY 0015');
  return { info: decode('public information', () => parsePublicInfo(p.data)) };
}

function pendingFor(journal: PurchaseJournal, info: PublicInfo): PurchaseRecord[] {
  return journal.pending().filter((r) => r.cardSerial === info.serialHex && r.issuerId === info.issuerId);
}

/** Card refusals of DEBIT that leave the purse untouched [PBOC-2 §5.2.9; transit-purse §6.2]. */
const DEBIT_REFUSALS = new Set([0x9302, 0x6901, 0x6700, 0x6a80, 0x6a86, 0x6985, 0x9401, 0x9403]);

/**
 * One transit purchase [transit-purse §6.2]. When the journal holds a pending purchase of this
 * card, that one is recovered instead and no new debit is made (`kind: 'recovered'`).
 * Rejects with `TerminalError`: `TERM_ERR_NO_PSAM`, `TERM_ERR_WRONG_CARD_TYPE`,
 * `TERM_ERR_CARD_HOTLISTED`, `TERM_ERR_CARD_EXPIRED`, `TERM_ERR_CARD_NOT_YET_VALID`,
 * `TERM_ERR_INSUFFICIENT_FUNDS` (`9401`), `TERM_ERR_CARD_STATUS` (details.sw, e.g. `9302`; details.recordId
 * when the record was settled or kept), `TERM_ERR_PSAM_STATUS`, `TERM_ERR_PURCHASE_INTERRUPTED`
 * (details.recordId: the card left during DEBIT; the record stays pending),
 * `TERM_ERR_PURCHASE_UNKNOWN` (a recovered record ended unknown), `TERM_ERR_JOURNAL_*`,
 * `TERM_ERR_CARD_DATA`, and the channel codes (`TERM_ERR_CARD_REMOVED` before DEBIT: nothing debited).
 */
export async function purchase(opts: PurchaseOptions): Promise<PurchaseResult> {
  const { card, psam, journal, logger } = opts;
  const clock = opts.clock ?? systemClock;
  if (psam === undefined) throw new TerminalError('TERM_ERR_NO_PSAM', 'purchase needs a PSAM');
  if (!Number.isInteger(opts.amount) || opts.amount < 1 || opts.amount > 0xffffffff) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'amount must be 1–4294967295 fen', { field: 'amount' });
  const app = await openTransit(card, logger);
  const { info } = app;
  checkHotlist(opts.hotlist, info.cardNumber, info.serialHex);
  checkValidity({ issueDate: info.startDate, expiryDate: info.expiryDate }, clock, opts.utcOffsetMinutes);
  if (pendingFor(journal, info).length > 0) {
    const recovery = await recoverWithin(card, psam, journal, info, logger);
    if (recovery.kind === 'none') throw new TerminalError('TERM_ERR_PURCHASE_PENDING', 'pending purchase not recovered');
    if (recovery.kind === 'unknown') throw new TerminalError('TERM_ERR_PURCHASE_UNKNOWN', 'interrupted purchase left for reconciliation', { recordId: recovery.record.id });
    return { kind: 'recovered', recovery };
  }
  expectOk(await send(psam, selectByName(PSAM_DF_NAME_DES), 'psam', logger), 'psam', 'SELECT PSAM');
  const terminalNumber = await psamTerminalNumber(psam, logger);
  const ki = expectOk(await send(psam, readPurchaseKeyIndex(), 'psam', logger), 'psam', 'READ BINARY 0017');
  const keyIndex = decode('purchase key index', () => parsePurchaseKeyIndex(ki.data));
  const type = TRANSACTION_TYPES.purchase;

  // [transit-purse §6.2 step 1] INITIALIZE FOR PURCHASE.
  const ir = await send(card, initializeForPurchase({ keyIndex, amount: opts.amount, terminalNumber: fromHex(terminalNumber) }), 'card', logger);
  if (ir.sw === 0x9401) throw new TerminalError('TERM_ERR_INSUFFICIENT_FUNDS', undefined, { sw: ir.sw, amount: opts.amount });
  expectOk(ir, 'card', 'INITIALIZE FOR PURCHASE');
  const init = decode('INITIALIZE FOR PURCHASE', () => parseInitializeForPurchase(ir.data));

  // [transit-purse §6.2 step 2, §6.4] MAC1 from the PSAM.
  const dateTime = localDateTime(clock.now(), opts.utcOffsetMinutes);
  const factor = opts.secondFactor?.(info) ?? fromHex(info.issuerId);
  const mr = await send(psam, transitMac1({
    cardRandom: init.cardRandom, atc: init.atc, amount: opts.amount, transactionType: type, dateTime,
    keyVersion: init.keyVersion, algorithm: init.algorithm, serial: info.serialRight8, factor,
  }), 'psam', logger);
  expectOk(mr, 'psam', 'MAC1');
  const mac1 = decode('MAC1', () => parseMac1(mr.data));

  // [transit-purse §10 step 2] pending and durable BEFORE DEBIT.
  const record = await journal.begin({
    issuerId: info.issuerId, cardSerial: info.serialHex, amount: opts.amount, transactionType: type, atc: init.atc,
    balanceBefore: init.balance, terminalNumber, terminalSerial: mac1.terminalSerial, dateTime,
    keyVersion: init.keyVersion, algorithm: init.algorithm,
  });
  openPsamContext.set(psam, record.id);
  logger?.info({ purchase: { recordId: record.id, amount: opts.amount, atc: init.atc } }, 'purchase pending');

  // [transit-purse §6.2 step 4] DEBIT FOR PURCHASE.
  let dr;
  try {
    dr = await send(card, debitForPurchase({ terminalSerial: mac1.terminalSerial, dateTime, mac1: mac1.mac1 }), 'card', logger);
  } catch (err) {
    logger?.warn({ purchase: { recordId: record.id } }, 'purchase interrupted during DEBIT: pending until the next tap');
    throw new TerminalError('TERM_ERR_PURCHASE_INTERRUPTED', 'present the card again', { recordId: record.id }, { cause: err });
  }
  if (dr.sw !== 0x9000) {
    if (DEBIT_REFUSALS.has(dr.sw)) {
      openPsamContext.delete(psam);
      await journal.settle(record.id, { state: 'not-debited', reason: 'debit-refused', sw: dr.sw });
    }
    const e = statusError(dr.sw, 'card', 'DEBIT FOR PURCHASE');
    throw new TerminalError(e.code, e.message, { ...e.details, recordId: record.id });
  }
  const debit = decode('DEBIT FOR PURCHASE', () => parseDebitForPurchase(dr.data));
  // [transit-purse §6.2 step 5] MAC2 checked by the PSAM; the debit stands either way.
  const mac2Verified = await checkMac2(psam, debit.mac2, logger);
  openPsamContext.delete(psam);
  const done = await journal.settle(record.id, { state: 'completed', tac: toHex(debit.tac), mac2: toHex(debit.mac2), mac2Verified });
  if (!mac2Verified) logger?.warn({ purchase: { recordId: record.id } }, 'MAC2 not verified by the PSAM');
  logger?.info({ purchase: { recordId: record.id, state: done.state } }, 'purchase completed');
  return { kind: 'completed', record: done, balanceAfter: init.balance - opts.amount };
}

async function checkMac2(psam: CardChannel, mac2: Uint8Array, logger?: Logger): Promise<boolean> {
  try {
    return (await send(psam, verifyMac2(mac2), 'psam', logger)).sw === 0x9000;
  } catch (err) {
    logger?.warn({ err }, 'PSAM failed during MAC2 verification');
    return false;
  }
}

/** Inputs of {@link recoverPurchase}. */
export interface RecoverOptions {
  readonly card: CardChannel;
  /** Used to verify MAC2 when its purchase context is still open. */
  readonly psam?: CardChannel | undefined;
  readonly journal: PurchaseJournal;
  readonly logger?: Logger | undefined;
}

/**
 * Settles the pending purchase of the presented card, if any [transit-purse §8]. Never debits.
 * Rejects `TERM_ERR_WRONG_CARD_TYPE`, `TERM_ERR_CARD_STATUS` (an unexpected SW to GET TRANSACTION
 * PROVE: the record stays pending), `TERM_ERR_JOURNAL_*`, `TERM_ERR_CARD_DATA` and the channel codes.
 */
export async function recoverPurchase(opts: RecoverOptions): Promise<RecoveryResult> {
  const app = await openTransit(opts.card, opts.logger);
  return recoverWithin(opts.card, opts.psam, opts.journal, app.info, opts.logger);
}

async function recoverWithin(card: CardChannel, psam: CardChannel | undefined, journal: PurchaseJournal, info: PublicInfo, logger?: Logger): Promise<RecoveryResult> {
  let result: RecoveryResult = { kind: 'none' };
  // [transit-purse §8 step 1] the issuer ID and the serial match the interrupted transaction.
  for (const r of pendingFor(journal, info)) {
    result = await recoverOne(card, psam, journal, r, logger);
  }
  return result;
}

async function recoverOne(card: CardChannel, psam: CardChannel | undefined, journal: PurchaseJournal, r: PurchaseRecord, logger?: Logger): Promise<RecoveryResult> {
  const type = r.transactionType === TRANSACTION_TYPES.compoundPurchase ? 0x09 : 0x06;
  // [ONECARD transit-purse §8] GET TRANSACTION PROVE with the INITIALIZE ATC + 1.
  const pr = await send(card, getTransactionProve(type, (r.atc + 1) & 0xffff), 'card', logger);
  if (pr.sw === 0x9000) {
    const proof = decode('GET TRANSACTION PROVE', () => parseTransactionProve(pr.data));
    let mac2Verified = false;
    if (psam !== undefined && openPsamContext.get(psam) === r.id) {
      mac2Verified = await checkMac2(psam, proof.mac2, logger);
      openPsamContext.delete(psam);
    }
    const rec = await journal.settle(r.id, { state: 'completed', tac: toHex(proof.tac), mac2: toHex(proof.mac2), mac2Verified, recovered: true, reason: 'prove' });
    logger?.info({ purchase: { recordId: r.id, state: rec.state } }, 'interrupted purchase recovered: debited');
    return { kind: 'completed', record: rec };
  }
  if (pr.sw !== 0x9406) throw new TerminalError('TERM_ERR_CARD_STATUS', 'GET TRANSACTION PROVE', { sw: pr.sw, step: 'GET TRANSACTION PROVE', device: 'card', recordId: r.id });
  // [ONECARD transit-purse §8] before concluding "no debit": balance and the card's own log.
  const br = expectOk(await send(card, getBalance(), 'card', logger), 'card', 'GET BALANCE');
  const balance = decode('balance', () => parseBalance(br.data)).fen;
  const log = await readLog(card, logger);
  const ours = log.find((l) => l.atc === r.atc);
  const agree = balance === r.balanceBefore && ours === undefined && (log[0] === undefined || log[0].atc < r.atc);
  if (psam !== undefined && openPsamContext.get(psam) === r.id) openPsamContext.delete(psam);
  const rec = await journal.settle(r.id, agree
    ? { state: 'not-debited', recovered: true, reason: 'prove-9406-checks-agree', sw: pr.sw }
    : { state: 'unknown', recovered: true, reason: ours !== undefined ? 'prove-9406-log-shows-debit' : 'prove-9406-balance-differs', sw: pr.sw });
  logger?.info({ purchase: { recordId: r.id, state: rec.state } }, 'interrupted purchase recovered');
  return rec.state === 'not-debited' ? { kind: 'not-debited', record: rec } : { kind: 'unknown', record: rec };
}

/** The cyclic log, newest first, until `6A83` [transit-purse §4]. */
export async function readLog(card: CardChannel, logger?: Logger): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let i = 1; i <= 10; i++) {
    const r = await send(card, readLogRecord(i), 'card', logger);
    if (r.sw === 0x6a83) break;
    expectOk(r, 'card', 'READ RECORD log');
    const rec = decode('log record', () => parseLogRecord(r.data));
    if (rec === undefined) break;
    out.push(rec);
  }
  return out;
}
