/**
 * The T-Union transit e-purse application (AID `A000000632010105`) of a simulated card
 * [transit-purse.md; SPEC PBOC-2 §5.2.9, §5.5.4, §5.2.6]: public information file `0015`, GET
 * BALANCE, INITIALIZE / DEBIT FOR PURCHASE with a real MAC1 check, MAC2 and TAC, the ATC, the
 * cyclic log `0018`, GET TRANSACTION PROVE after a torn debit, and fault injection of the tear.
 */
import { type Command, SW, respond, tlv } from './apdu.ts';
import { pbocMac, purseSessionKey, tacKey, timingSafeEqual } from './crypto.ts';
import { type BinaryEf, type Df, type RecordEf, FREE, df } from './fs.ts';
import { bcdDigits, type TransitProfile } from './profile.ts';
import { purseCardKey } from './keys.ts';
import type { RandomSource } from './random.ts';
import { SimulatorError } from '../errors.ts';

export const TRANSIT_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05);

/** Where a one-shot tear cuts the next DEBIT FOR PURCHASE. */
export type TearPoint = 'before-commit' | 'after-commit';

interface Pending {
  readonly type: number;
  readonly amount: Uint8Array;
  readonly terminal: Uint8Array;
  readonly random: Uint8Array;
  readonly atc: number;
}

interface LastTxn {
  readonly type: number;
  readonly atc: number;
  readonly mac2: Uint8Array;
  readonly tac: Uint8Array;
}

const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const cat = (...p: Uint8Array[]): Uint8Array => {
  const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let i = 0;
  for (const x of p) {
    o.set(x, i);
    i += x.length;
  }
  return o;
};

/** The purse state and its commands. Persistent fields survive `reset()` (EEPROM). */
export class TransitApp {
  readonly df: Df;
  readonly publicInfo: BinaryEf;
  readonly log: RecordEf;
  balance: number;
  atc: number;
  /** Which ATC convention the last successful GET TRANSACTION PROVE used. */
  lastProveConvention: 'next' | 'same' | undefined;
  readonly #p: TransitProfile;
  readonly #dpk: Uint8Array;
  readonly #dtk: Uint8Array;
  readonly #random: RandomSource;
  #pending: Pending | undefined;
  #last: LastTxn | undefined;
  #tear: TearPoint | undefined;

  constructor(p: TransitProfile, random: RandomSource) {
    this.#p = p;
    this.#random = random;
    this.balance = p.balance;
    this.atc = p.atc;
    this.#dpk = purseCardKey(p.mpk, p.issuerFactor, p.serial);
    this.#dtk = purseCardKey(p.mtk, p.issuerFactor, p.serial);
    const info = cat(p.issuerId, Uint8Array.of(p.appType, p.appVersion), p.serial, bcdDigits(p.startDate), bcdDigits(p.expiryDate), new Uint8Array(2));
    this.publicInfo = { kind: 'binary', fid: 0x0015, sfi: 0x15, read: FREE, data: info };
    this.log = { kind: 'record', fid: 0x0018, sfi: 0x18, read: FREE, records: [], cyclic: true, maxRecords: 10 };
    const fci = (): Uint8Array => tlv(0x6f, cat(tlv(0x84, TRANSIT_AID), tlv(0xa5, cat(tlv(0x9f08, Uint8Array.of(p.appVersion)), tlv(0x9f0c, info)))));
    this.df = df(0x1001, TRANSIT_AID, 'transit', fci, [this.publicInfo, this.log]);
  }

  /** Arms a one-shot tear of the next DEBIT FOR PURCHASE. */
  injectTear(point: TearPoint): void {
    this.#tear = point;
  }

  /** Forgets the volatile purchase state (SELECT, reset). */
  endSession(): void {
    this.#pending = undefined;
  }

  handle(cmd: Command): Uint8Array | undefined {
    if (cmd.cla !== 0x80) return undefined;
    switch (cmd.ins) {
      case 0x5c:
        return this.#getBalance(cmd);
      case 0x50:
        return this.#initPurchase(cmd);
      case 0x54:
        return this.#debit(cmd);
      case 0x5a:
        return this.#prove(cmd);
      default:
        return undefined;
    }
  }

  // [PBOC-2 §5.2.7] GET BALANCE: P2 02 = EP; P1 01 = the T-Union negative balance (always 0 here).
  #getBalance(cmd: Command): Uint8Array {
    if (cmd.p2 !== 0x02 || cmd.p1 > 0x03) return respond(SW.WRONG_P1P2);
    if (cmd.le !== null && cmd.le !== 4) return respond(0x6c04);
    return respond(SW.OK, u32(cmd.p1 === 0 ? this.balance : 0));
  }

  // [PBOC-2 §5.2.9; transit-purse §6.2–6.3]
  #initPurchase(cmd: Command): Uint8Array {
    this.#pending = undefined;
    if ((cmd.p1 !== 0x01 && cmd.p1 !== 0x03) || cmd.p2 !== 0x02) return respond(SW.WRONG_P1P2);
    if (cmd.data.length !== 0x0b) return respond(SW.WRONG_LENGTH);
    if (cmd.le !== null && cmd.le !== 0 && cmd.le !== 0x0f) return respond(0x6c0f);
    const d = cmd.data;
    if (!this.#p.keyIndexes.includes(d[0]!)) return respond(SW.KEY_INDEX);
    if (this.atc >= 0xffff) return respond(SW.ATC_MAX);
    const amount = d.slice(1, 5);
    const value = ((amount[0]! << 24) | (amount[1]! << 16) | (amount[2]! << 8) | amount[3]!) >>> 0;
    if (value > this.balance) return respond(SW.INSUFFICIENT_FUNDS);
    const random = this.#random(4);
    this.#pending = { type: cmd.p1 === 0x03 ? 0x09 : 0x06, amount, terminal: d.slice(5, 11), random, atc: this.atc };
    const o = this.#p.overdraftLimit;
    return respond(SW.OK, cat(u32(this.balance), Uint8Array.of(this.atc >> 8, this.atc & 0xff, o >> 16, (o >> 8) & 0xff, o & 0xff, this.#p.keyVersion, this.#p.algorithmId), random));
  }

  // [PBOC-2 §5.2.9, §5.5.4.3–5.5.4.6] MAC1 check, debit, log, TAC ‖ MAC2.
  #debit(cmd: Command): Uint8Array {
    const pend = this.#pending;
    this.#pending = undefined;
    if (pend === undefined) return respond(SW.INVALID_STATE);
    if (cmd.p1 !== 0x01 || cmd.p2 !== 0x00) return respond(SW.WRONG_P1P2);
    if (cmd.data.length !== 0x0f) return respond(SW.WRONG_LENGTH);
    const d = cmd.data;
    const termSerial = d.slice(0, 4);
    const dateTime = d.slice(4, 11);
    const sespk = purseSessionKey(this.#dpk, pend.random, pend.atc, termSerial);
    const mac1 = pbocMac(sespk, cat(pend.amount, Uint8Array.of(pend.type), pend.terminal, dateTime));
    if (!timingSafeEqual(mac1, d.slice(11, 15))) return respond(SW.MAC_INVALID);
    const tear = this.#tear;
    this.#tear = undefined;
    if (tear === 'before-commit') throw new SimulatorError('SIM_ERR_CARD_TORN', 'DEBIT FOR PURCHASE torn before the debit', { ins: 0x54 });
    const value = ((pend.amount[0]! << 24) | (pend.amount[1]! << 16) | (pend.amount[2]! << 8) | pend.amount[3]!) >>> 0;
    this.balance -= value;
    this.atc = pend.atc + 1;
    const rec = cat(Uint8Array.of(pend.atc >> 8, pend.atc & 0xff, 0, 0, 0), pend.amount, Uint8Array.of(pend.type), pend.terminal, dateTime);
    this.log.records.unshift(rec);
    if (this.log.records.length > this.log.maxRecords) this.log.records.length = this.log.maxRecords;
    const tac = pbocMac(tacKey(this.#dtk), cat(pend.amount, Uint8Array.of(pend.type), pend.terminal, termSerial, dateTime));
    const mac2 = pbocMac(sespk, pend.amount);
    this.#last = { type: pend.type, atc: pend.atc, mac2, tac };
    if (tear === 'after-commit') throw new SimulatorError('SIM_ERR_CARD_TORN', 'DEBIT FOR PURCHASE torn after the debit', { ins: 0x54 });
    if (cmd.le !== null && cmd.le !== 0 && cmd.le !== 8) return respond(0x6c08);
    return respond(SW.OK, cat(tac, mac2));
  }

  // [PBOC-2 §5.2.6; transit-purse §8] GET TRANSACTION PROVE: MAC2 ‖ TAC, or 9406.
  #prove(cmd: Command): Uint8Array {
    if (cmd.p1 !== 0x00 || (cmd.p2 !== 0x06 && cmd.p2 !== 0x09)) return respond(SW.WRONG_P1P2);
    if (cmd.data.length !== 2) return respond(SW.WRONG_LENGTH);
    const atc = (cmd.data[0]! << 8) | cmd.data[1]!;
    const last = this.#last;
    if (last === undefined || last.type !== cmd.p2) return respond(SW.MAC_NOT_AVAILABLE);
    const conv = atc === last.atc + 1 ? 'next' : atc === last.atc ? 'same' : undefined;
    if (conv === undefined || (this.#p.proveAtc !== 'either' && this.#p.proveAtc !== conv)) return respond(SW.MAC_NOT_AVAILABLE);
    this.lastProveConvention = conv;
    return respond(SW.OK, cat(last.mac2, last.tac));
  }
}
