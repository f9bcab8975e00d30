/**
 * The soft SAM: for terminals without a physical PSAM, it answers the PSAM commands a transit
 * purchase uses — SELECT of the PSAM DF, READ BINARY of the terminal number (SFI `16`) and the
 * purchase key index (SFI `17`), MAC1 (`80 70 00 00`) and MAC2 verification (`80 72`) — with the
 * purse keys of the keystore. It implements {@link CardChannel}, so the purchase service uses it
 * exactly as it uses a PSAM channel; status words are data, as from a card. Keys are unwrapped
 * per MAC1 and only the session key is held, until MAC2 is checked.
 *
 * What it holds (docs/keys.md "Custody"): the issuer's purchase root at the dispersion level (and
 * the TAC root), from which it derives each card's DPK for MAC1 — so it can sign for every card of
 * the issuer. It is only for terminals without a physical PSAM that a key custodian approved; the
 * keystore erases the set at the approval's expiry, after which MAC1 answers `6A88` (no key).
 */
import type { CommandApdu, ResponseApdu } from '@onecard/protocol/iso7816';
import { disperseKeyLevels, purchaseMac1, purchaseMac2, purchaseTac, purseSessionKey, type CardKey } from '@onecard/protocol/crypto';
import { PSAM_DF_NAME_DES } from '@onecard/protocol/psam';
import { equalBytes, timingSafeEqualBytes } from '@onecard/protocol/bytes';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError } from '../errors.ts';
import type { Keystore } from './keystore.ts';

/** Status words the soft SAM answers with (as a PSAM would). */
export const SOFT_SAM_SW = {
  ok: 0x9000, wrongLength: 0x6700, fileNotFound: 0x6a82, keyNotFound: 0x6a88, wrongP1P2: 0x6b00,
  insNotSupported: 0x6d00, claNotSupported: 0x6e00, notSatisfied: 0x6901, macInvalid: 0x9302, wrongData: 0x6a80,
} as const;

export interface SoftSamOptions {
  readonly keystore: Keystore;
  /** The terminal number (12 digits) this terminal is registered with. */
  readonly terminalNumber: string;
  /** Purchase key index reported in SFI `17` (default 1). */
  readonly keyIndex?: number;
  /**
   * Next terminal transaction serial (终端交易序号). Inject a persisted counter in production so
   * serials never repeat across restarts; the default counts up from 1 in memory.
   */
  readonly nextSerial?: () => number;
}

/** Inputs of a TAC check (all from the completed purchase). */
export interface TacCheck {
  readonly keyVersion: number;
  readonly algorithmId: number;
  /** Rightmost 8 bytes of the application serial. */
  readonly serial: Uint8Array;
  /** Second dispersion factor (8 bytes), as given to MAC1. */
  readonly factor: Uint8Array;
  readonly amount: number;
  readonly transactionType: number;
  /** 6 bytes. */
  readonly terminalNumber: Uint8Array;
  readonly terminalSerial: number;
  /** BCD `YYYYMMDDhhmmss`, 7 bytes. */
  readonly dateTime: Uint8Array;
  readonly tac: Uint8Array;
}

function bcd(digits: string): Uint8Array {
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const rsp = (sw: number, data: Uint8Array = new Uint8Array(0)): ResponseApdu => ({ data, sw1: sw >> 8, sw2: sw & 0xff, sw });

/** A software PSAM for transit purchases. */
export class SoftSam implements CardChannel {
  readonly atr = new Uint8Array(0);
  readonly protocol = 1 as const;
  readonly #keystore: Keystore;
  readonly #terminalNumber: Uint8Array;
  readonly #keyIndex: number;
  readonly #nextSerial: () => number;
  #selected = false;
  #context: { sespk: CardKey; amount: number } | undefined;

  /** @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` */
  constructor(options: SoftSamOptions) {
    if (!/^\d{12}$/.test(options.terminalNumber)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'terminal number is 12 digits', { field: 'terminalNumber' });
    this.#keystore = options.keystore;
    this.#terminalNumber = bcd(options.terminalNumber);
    this.#keyIndex = options.keyIndex ?? 1;
    let serial = 0;
    this.#nextSerial = options.nextSerial ?? (() => (serial = (serial + 1) >>> 0));
  }

  async transmit(apdu: CommandApdu): Promise<ResponseApdu> {
    return this.#handle(apdu);
  }

  #handle(c: CommandApdu): ResponseApdu {
    const data = c.data ?? new Uint8Array(0);
    if (c.cla === 0x00 && c.ins === 0xa4) {
      // SELECT by DF name
      this.#context = undefined;
      this.#selected = c.p1 === 0x04 && equalBytes(data, PSAM_DF_NAME_DES);
      return rsp(this.#selected ? SOFT_SAM_SW.ok : SOFT_SAM_SW.fileNotFound);
    }
    if (c.cla === 0x00 && c.ins === 0xb0) {
      if ((c.p1 & 0x80) === 0 || c.p2 !== 0) return rsp(SOFT_SAM_SW.wrongP1P2);
      const sfi = c.p1 & 0x1f;
      if (sfi === 0x16) return rsp(SOFT_SAM_SW.ok, this.#terminalNumber.slice());
      if (sfi === 0x17) return rsp(SOFT_SAM_SW.ok, Uint8Array.of(this.#keyIndex));
      return rsp(SOFT_SAM_SW.fileNotFound);
    }
    if (c.cla !== 0x80) return rsp(SOFT_SAM_SW.claNotSupported);
    if (c.ins === 0x70) return this.#mac1(c, data);
    if (c.ins === 0x72) return this.#mac2(data);
    return rsp(SOFT_SAM_SW.insNotSupported);
  }

  // [transit-purse §6.4] random 4 ‖ ATC 2 ‖ amount 4 ‖ type 1 ‖ date-time 7 ‖ key version 1 ‖
  // algorithm 1 ‖ card serial 8 ‖ second factor 8 → terminal serial 4 ‖ MAC1 4.
  #mac1(c: CommandApdu, d: Uint8Array): ResponseApdu {
    this.#context = undefined;
    if (!this.#selected) return rsp(SOFT_SAM_SW.notSatisfied);
    if (c.p1 !== 0x00 || c.p2 !== 0x00) return rsp(SOFT_SAM_SW.wrongP1P2);
    if (d.length !== 36) return rsp(SOFT_SAM_SW.wrongLength);
    let keys;
    try {
      keys = this.#keystore.purseKeys(d[18]!, d[19]!);
    } catch (e) {
      // No key for this version, or the set passed its custody expiry and was erased: as a PSAM without the key.
      if (e instanceof TerminalError && (e.code === 'TERM_ERR_KEY_NOT_FOUND' || e.code === 'TERM_ERR_KEY_EXPIRED')) return rsp(SOFT_SAM_SW.keyNotFound);
      throw e;
    }
    const serial8 = d.slice(20, 28);
    const factor = d.slice(28, 36);
    const { root, levels } = keys.purchase;
    const dpk = disperseKeyLevels(root, levels === 2 ? [factor, serial8] : [serial8]);
    root.key.fill(0);
    if (keys.tac !== undefined) keys.tac.root.key.fill(0);
    const terminalSerial = this.#nextSerial() >>> 0;
    const amount = ((d[6]! << 24) | (d[7]! << 16) | (d[8]! << 8) | d[9]!) >>> 0;
    const sespk = purseSessionKey(dpk, { cardRandom: d.slice(0, 4), atc: (d[4]! << 8) | d[5]!, terminalSerial: u32(terminalSerial) });
    dpk.key.fill(0);
    const mac1 = purchaseMac1(sespk, { amount, transactionType: d[10]!, terminalId: this.#terminalNumber, dateTime: d.slice(11, 18) });
    this.#context = { sespk, amount };
    const out = new Uint8Array(8);
    out.set(u32(terminalSerial), 0);
    out.set(mac1, 4);
    return rsp(SOFT_SAM_SW.ok, out);
  }

  // [PBOC-2 §5.5.4.6] MAC2 = MAC(SESPK; amount).
  #mac2(d: Uint8Array): ResponseApdu {
    const ctx = this.#context;
    if (ctx === undefined) return rsp(SOFT_SAM_SW.notSatisfied);
    if (d.length !== 4) return rsp(SOFT_SAM_SW.wrongLength);
    this.#context = undefined;
    const ok = timingSafeEqualBytes(purchaseMac2(ctx.sespk, ctx.amount), d);
    ctx.sespk.key.fill(0);
    return rsp(ok ? SOFT_SAM_SW.ok : SOFT_SAM_SW.macInvalid);
  }

  /**
   * Checks a purchase TAC with the TAC root of the key set: DTK by the same dispersion as the
   * purchase key, TAC key = DTK_L ⊕ DTK_R. [JR/T 0025.2 B.4]
   * @throws TerminalError `TERM_ERR_KEY_NOT_FOUND` (no TAC key for this key version)
   */
  verifyTac(check: TacCheck): boolean {
    const keys = this.#keystore.purseKeys(check.keyVersion, check.algorithmId);
    keys.purchase.root.key.fill(0);
    if (keys.tac === undefined) throw new TerminalError('TERM_ERR_KEY_NOT_FOUND', `no TAC key for key version ${check.keyVersion}`, { keyVersion: check.keyVersion });
    const { root, levels } = keys.tac;
    const dtk = disperseKeyLevels(root, levels === 2 ? [check.factor, check.serial] : [check.serial]);
    root.key.fill(0);
    const tac = purchaseTac(dtk, { amount: check.amount, transactionType: check.transactionType, terminalId: check.terminalNumber, terminalSerial: u32(check.terminalSerial), dateTime: check.dateTime });
    dtk.key.fill(0);
    return timingSafeEqualBytes(tac, check.tac);
  }
}
