/**
 * The simulated social-security / transit PSAM [ssc-card §9; transit-purse §6]: MF (`sx1.sh.社会保障`,
 * DES environment) and DDF1 (`sx2.sh.社会保障`, 16-byte-block environment, used for SM4 here
 * [INFER ssc-card §9.2]), each with `0015` public info, `0016` terminal number, `0017` purchase key
 * index [ONECARD] and ADF `DF01` holding the transaction serial `0019`. Commands: SELECT, READ
 * BINARY, GET CHALLENGE, INITIALIZE ENVIRONMENT (`BFEC`), DELIVERY SESSION KEY (`BFDE`), CIPHER DATA
 * (`80FA`), MAC1 (`8070 00`) and MAC2 check (`8072`). Key records hold issuer roots at 1, 2 or 3
 * dispersion levels (usage byte b8–b6).
 */
import { type Command, SW, parseCommand, respond } from './apdu.ts';
import { type Family, blockSize, cbcLast, disperse, ecb, macResult, pbocMac, purseSessionKey, sessionKey, timingSafeEqual } from './crypto.ts';
import { type Df, type Ef, FREE, df, readBinary, resolveSelect } from './fs.ts';
import type { PsamProfile } from './profile.ts';
import { bcdDigits } from './profile.ts';
import type { RandomSource } from './random.ts';
import type { SimulatedCard } from './types.ts';
import { SimulatorError } from '../errors.ts';

const NAME_DES = Uint8Array.of(0x73, 0x78, 0x31, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf);
const NAME_16 = Uint8Array.of(0x73, 0x78, 0x32, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf);
/** PSAM application AID [SPEC P9 §5]. */
export const PSAM_AID = Uint8Array.of(0xd1, 0x56, 0x00, 0x00, 0x05, 0x90);

interface SessionKeyState {
  readonly family: Family;
  readonly ks: Uint8Array;
  /** CBC chaining value while a multi-block MAC (P1 07/03/01) is running. */
  chain: Uint8Array | undefined;
}

export class Psam implements SimulatedCard {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  readonly #p: PsamProfile;
  readonly #random: RandomSource;
  readonly #mf: Df;
  readonly #ddf: Df;
  readonly #serialEfs: Ef[] = [];
  #serial: number;
  #powered = false;
  #df: Df;
  #ef: Ef | undefined;
  #session: SessionKeyState | undefined;
  #purchase: { readonly sespk: Uint8Array; readonly amount: Uint8Array } | undefined;

  constructor(p: PsamProfile, atr: Uint8Array, random: RandomSource) {
    this.#p = p;
    this.atr = atr;
    this.protocol = p.protocol;
    this.#random = random;
    this.#serial = p.transactionSerial;
    const env = (fid: number, name: Uint8Array): Df => {
      const info = Uint8Array.of(p.issuerId, ...bcdDigits(p.serial), 0x01, 0x00, 0x00, 0x00);
      const serialEf: Ef = { kind: 'binary', fid: 0x0019, sfi: 0x19, read: FREE, data: new Uint8Array(4) };
      this.#serialEfs.push(serialEf);
      const adf = df(0xdf01, PSAM_AID, 'psam-adf', () => Uint8Array.of(0x6f, 0x08, 0x84, 0x06, ...PSAM_AID), [serialEf]);
      return df(fid, name, 'psam', () => Uint8Array.of(0x6f, name.length + 2, 0x84, name.length, ...name), [
        { kind: 'binary', fid: 0x0015, sfi: 0x15, read: FREE, data: info },
        { kind: 'binary', fid: 0x0016, sfi: 0x16, read: FREE, data: bcdDigits(p.terminalNumber) },
        { kind: 'binary', fid: 0x0017, sfi: 0x17, read: FREE, data: Uint8Array.of(p.purchaseKeyIndex) },
        adf,
      ]);
    };
    this.#mf = env(0x3f00, NAME_DES);
    this.#ddf = env(0xddf1, NAME_16);
    this.#mf.children.push(this.#ddf);
    this.#ddf.parent = this.#mf;
    this.#df = this.#mf;
    this.#syncSerial();
  }

  /** Terminal transaction serial the next MAC1 will use. */
  get transactionSerial(): number {
    return this.#serial;
  }

  reset(): Uint8Array {
    this.#powered = true;
    this.#df = this.#mf;
    this.#ef = undefined;
    this.#session = undefined;
    this.#purchase = undefined;
    return this.atr.slice();
  }

  transmit(apdu: Uint8Array): Uint8Array {
    if (!this.#powered) throw new SimulatorError('SIM_ERR_CARD_MUTE', 'PSAM not reset', {});
    const cmd = parseCommand(apdu);
    if (cmd === undefined) return respond(SW.WRONG_LENGTH);
    const key = (cmd.cla << 8) | cmd.ins;
    switch (key) {
      case 0x00a4: {
        if (cmd.p2 !== 0x00 && cmd.p2 !== 0x0c) return respond(SW.WRONG_P1P2);
        const r = resolveSelect(cmd, this.#mf, this.#df);
        if (!r.ok) return respond(r.sw);
        this.#df = r.df;
        this.#ef = r.ef;
        if (r.ef !== undefined || cmd.p2 === 0x0c) return respond(SW.OK);
        this.#session = undefined;
        return respond(SW.OK, r.df.fci());
      }
      case 0x00b0: {
        const r = readBinary(cmd, this.#ef, this.#df, () => true);
        this.#ef = r.ef;
        return r.response;
      }
      case 0x0084:
        if (cmd.le !== 4 && cmd.le !== 8 && cmd.le !== 16) return respond(SW.WRONG_LENGTH);
        return respond(SW.OK, this.#random(cmd.le));
      case 0xbfec:
        return cmd.data.length === 1 ? respond(SW.OK) : respond(SW.WRONG_LENGTH);
      case 0xbfde:
        return this.#deliverySessionKey(cmd);
      case 0x80fa:
        return this.#cipherData(cmd);
      case 0x8070:
        return this.#mac1(cmd);
      case 0x8072:
        return this.#mac2(cmd);
      default:
        return respond(cmd.cla === 0x00 || cmd.cla === 0x80 || cmd.cla === 0xbf || cmd.cla === 0x84 ? SW.INS_NOT_SUPPORTED : SW.CLA_NOT_SUPPORTED);
    }
  }

  #env(): Family {
    for (let d: Df | undefined = this.#df; d !== undefined; d = d.parent) if (d === this.#ddf) return 'sm4';
    return 'des';
  }

  #syncSerial(): void {
    const b = Uint8Array.of(this.#serial >>> 24, (this.#serial >>> 16) & 0xff, (this.#serial >>> 8) & 0xff, this.#serial & 0xff);
    for (const ef of this.#serialEfs) if (ef.kind === 'binary') ef.data = b;
  }

  // [SPEC P9 §9.7; ssc-card §9.4] Lc = 8·N + M; data = N factors (card level first) ‖ session factor.
  #deliverySessionKey(cmd: Command): Uint8Array {
    this.#session = undefined;
    const family = this.#env();
    const rec = this.#p.keys.find((k) => k.env === family && k.id === cmd.p2);
    if (rec === undefined) return respond(SW.KEY_NOT_FOUND);
    const m = blockSize(family);
    const n = (cmd.data.length - m) / 8;
    if (!Number.isInteger(n) || n < 0 || n !== rec.usage >> 5) return respond(SW.WRONG_DATA);
    if ((cmd.p1 & 0x1f) !== (rec.usage & 0x1f)) return respond(SW.WRONG_P1P2);
    const factors: Uint8Array[] = [];
    for (let i = n - 1; i >= 0; i--) factors.push(cmd.data.slice(8 * i, 8 * i + 8));
    const child = disperse(family, rec.key, factors);
    this.#session = { family, ks: sessionKey(family, child, cmd.data.subarray(8 * n)), chain: undefined };
    return respond(SW.OK);
  }

  // [SPEC P9 §9.8] P1 00/02 encryption (ECB), 05 single MAC, 07/03/01 first/next/last MAC blocks.
  #cipherData(cmd: Command): Uint8Array {
    const s = this.#session;
    if (s === undefined) return respond(SW.INVALID_STATE);
    const bs = blockSize(s.family);
    const d = cmd.data;
    if (d.length === 0 || d.length % bs !== 0) return respond(SW.WRONG_LENGTH);
    switch (cmd.p1) {
      case 0x00:
      case 0x02:
        if (cmd.p1 === 0x00) this.#session = undefined;
        return respond(SW.OK, ecb(s.family, s.ks, d));
      case 0x05:
      case 0x07: {
        if (d.length < 2 * bs) return respond(SW.WRONG_LENGTH);
        const last = cbcLast(s.family, s.ks, d.subarray(0, bs), d.subarray(bs));
        if (cmd.p1 === 0x07) {
          s.chain = last;
          return respond(SW.OK);
        }
        this.#session = undefined;
        return respond(SW.OK, macResult(s.family, last));
      }
      case 0x03:
      case 0x01: {
        if (s.chain === undefined) return respond(SW.INVALID_STATE);
        const last = cbcLast(s.family, s.ks, s.chain, d);
        if (cmd.p1 === 0x03) {
          s.chain = last;
          return respond(SW.OK);
        }
        this.#session = undefined;
        return respond(SW.OK, macResult(s.family, last));
      }
      default:
        return respond(SW.WRONG_P1P2);
    }
  }

  // [PBOC-2 §5.5.4.3; transit-purse §6.4] random 4 ‖ ATC 2 ‖ amount 4 ‖ type 1 ‖ date-time 7 ‖
  // key version 1 ‖ algorithm 1 ‖ factors (card serial first) → terminal serial 4 ‖ MAC1 4.
  #mac1(cmd: Command): Uint8Array {
    this.#purchase = undefined;
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) return respond(SW.WRONG_P1P2);
    const d = cmd.data;
    const n = (d.length - 20) / 8;
    if (!Number.isInteger(n) || n < 1 || n > 2) return respond(SW.WRONG_LENGTH);
    const rec = this.#p.purseKeys.find((k) => k.version === d[18] && k.algorithmId === d[19]);
    if (rec === undefined) return respond(SW.KEY_NOT_FOUND);
    if (rec.levels !== n) return respond(SW.WRONG_DATA);
    const factors: Uint8Array[] = [];
    for (let i = n - 1; i >= 0; i--) factors.push(d.slice(20 + 8 * i, 28 + 8 * i));
    const dpk = disperse('des', rec.key, factors);
    this.#serial = (this.#serial + 1) >>> 0;
    this.#syncSerial();
    const serial = Uint8Array.of(this.#serial >>> 24, (this.#serial >>> 16) & 0xff, (this.#serial >>> 8) & 0xff, this.#serial & 0xff);
    const atc = (d[4]! << 8) | d[5]!;
    const sespk = purseSessionKey(dpk, d.subarray(0, 4), atc, serial);
    const amount = d.slice(6, 10);
    const input = Uint8Array.of(...amount, d[10]!, ...bcdDigits(this.#p.terminalNumber), ...d.subarray(11, 18));
    this.#purchase = { sespk, amount };
    return respond(SW.OK, Uint8Array.of(...serial, ...pbocMac(sespk, input)));
  }

  // [PBOC-2 §5.5.4.6] verify MAC2 = MAC(SESPK; amount).
  #mac2(cmd: Command): Uint8Array {
    const p = this.#purchase;
    if (p === undefined) return respond(SW.INVALID_STATE);
    if (cmd.data.length !== 4) return respond(SW.WRONG_LENGTH);
    this.#purchase = undefined;
    return timingSafeEqual(pbocMac(p.sespk, p.amount), cmd.data) ? respond(SW.OK) : respond(SW.MAC_INVALID);
  }
}
