/**
 * The pre-personalised blank social security card [issuance §11 item 7, ONECARD]: the SSSE with
 * its keys loaded from the OneCard test hierarchy (each key dispersed province → city → card from
 * the ATR), EF05 records `01`–`04` set, every other EF05/EF06 record present with its fill value,
 * EF07/EF08 zero. It is the existing simulated {@link UserCard} (SELECT, READ, GET CHALLENGE,
 * INTERNAL/EXTERNAL AUTHENTICATE, PIN) with an issuance layer in front that adds what a blank card
 * must enforce: UPDATE RECORD `00 DC` and UPDATE BINARY `00 D6` only after external
 * authentication with UKSSSE in the current SSSE session [V2 table 3; P5 §6.12–6.13], and the
 * permanent APPLICATION BLOCK `84 1E` [P5 §6.1; P7 §13.2]. EF06 reads need RKSSSE on 3.0 cards
 * (the inner card's read rule). Written records and the block persist across resets, as EEPROM.
 */
import { type Command, SW, parseCommand, respond, tlv } from '../card/apdu.ts';
import { buildAtr, sscHistoricalBytes } from '../card/atr.ts';
import { type Family, mac, sessionKey, timingSafeEqual } from '../card/crypto.ts';
import { type BinaryEf, type Df, type RecordEf, FREE, df } from '../card/fs.ts';
import { cardKey } from '../card/keys.ts';
import { bcdDigits } from '../card/profile.ts';
import { type RandomSource, seededRandom } from '../card/random.ts';
import type { SimulatedCard } from '../card/types.ts';
import { UserCard } from '../card/user-card.ts';
import { SimulatorError } from '../errors.ts';

/** SSSE DF name `sx1.sh.社会保障` [P6 table 1]. */
const SSSE_NAME = Uint8Array.of(0x73, 0x78, 0x31, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf);

/** SSSE key identifiers used by issuance and maintenance [issuance §3; KEY-IDX]. */
export const BLANK_KEY = { IRK: 0x00, STK: 0x02, UKSSSE: 0x04, BK: 0x05, PUK: 0x06, RKSSSE: 0x0a, UK1SSSE: 0x0d } as const;

/** Issuer roots of the OneCard test hierarchy (16 bytes each); the card holds them dispersed 3 levels. */
export interface BlankCardRoots {
  readonly irk: Uint8Array;
  readonly stk: Uint8Array;
  readonly ukssse: Uint8Array;
  readonly bk: Uint8Array;
  readonly puk: Uint8Array;
  readonly rkssse: Uint8Array;
}

/** What the card factory fixed for one blank card. */
export interface BlankCardProfile {
  /** `2.00` → DES family, `3.00` → SM4 (and EF06 read protected by RKSSSE). */
  readonly version: '2.00' | '3.00';
  readonly protocol: 0 | 1;
  readonly seed: number;
  /** 6-digit region of the card stock. */
  readonly region: string;
  /** 4-byte card serial (ATR TA–TD and card ID bytes 8–11). */
  readonly cardSerial: Uint8Array;
  /** 4-byte card authentication code (card ID bytes 12–15). */
  readonly cardAuthCode: Uint8Array;
  /** EF05 `02`, one digit. */
  readonly cardType: string;
  /** EF05 `04`, 12 digits. */
  readonly initOrg: string;
  readonly roots: BlankCardRoots;
  readonly extAuthTries?: number;
}

function check(ok: boolean, field: string, detail: string): void {
  if (!ok) throw new SimulatorError('SIM_ERR_ISSUANCE_PROFILE', `${field}: ${detail}`, { field });
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const rec = (tag: number, value: Uint8Array): Uint8Array => Uint8Array.of(tag, value.length, ...value);
const fill = (tag: number, len: number, cn: boolean): Uint8Array => rec(tag, new Uint8Array(len).fill(cn ? 0xff : 0x00));
const recordEf = (fid: number, sfi: number, read: RecordEf['read'], records: Uint8Array[]): RecordEf => ({ kind: 'record', fid, sfi, read, records, cyclic: false, maxRecords: 16 });

/** The state an issuance layer keeps in front of the inner card. */
interface Volatile {
  inSsse: boolean;
  ef: RecordEf | BinaryEf | undefined;
  challenge: Uint8Array | undefined;
  readonly authed: Set<number>;
}

/** The blank card; after issuance it is an ordinary issued card (read paths of {@link UserCard}). */
export class BlankCard implements SimulatedCard {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  readonly family: Family;
  /** ATR historical bytes (T6..TD are the card dispersion factor). */
  readonly historicalBytes: Uint8Array;
  /** The 16-byte card identification code written in EF05 `01`. */
  readonly cardId: Uint8Array;
  readonly #inner: UserCard;
  readonly #ssse: Df;
  readonly #efs: ReadonlyMap<number, RecordEf | BinaryEf>;
  readonly #keys: ReadonlyMap<number, Uint8Array>;
  #blocked = false;
  #writes = 0;
  readonly #v: Volatile = { inSsse: false, ef: undefined, challenge: undefined, authed: new Set() };

  /** @throws SimulatorError `SIM_ERR_ISSUANCE_PROFILE` on a malformed profile. */
  constructor(p: BlankCardProfile, random: RandomSource = seededRandom(p.seed)) {
    check(p.version === '2.00' || p.version === '3.00', 'version', 'must be 2.00 or 3.00');
    check(/^\d{6}$/.test(p.region), 'region', 'must be 6 digits');
    check(p.cardSerial.length === 4, 'cardSerial', 'must be 4 bytes');
    check(p.cardAuthCode.length === 4, 'cardAuthCode', 'must be 4 bytes');
    check(/^\d$/.test(p.cardType), 'cardType', 'must be one digit');
    check(/^\d{12}$/.test(p.initOrg), 'initOrg', 'must be 12 digits');
    for (const [k, v] of Object.entries(p.roots)) check(v.length === 16, `roots.${k}`, 'must be 16 bytes');
    this.family = p.version === '3.00' ? 'sm4' : 'des';
    this.protocol = p.protocol;
    // [issuance §1 INFER] the ATR comes first; every card key is derived from it.
    this.historicalBytes = sscHistoricalBytes(Uint8Array.of(0x86, 0x01), Uint8Array.of(0x01, 0x00, p.version === '3.00' ? 0x30 : 0x20), Uint8Array.of(0x86, 0x01), p.region, p.cardSerial);
    this.atr = buildAtr(p.protocol, this.historicalBytes);
    this.cardId = Uint8Array.of(...bcdDigits(p.region), 0xd1, 0x56, 0x00, 0x00, 0x05, ...p.cardSerial, ...p.cardAuthCode);
    // [issuance §4, §11 item 7] EF05 01–04 set, the rest fill values (cn all FF, an all 00).
    const ef05 = recordEf(0xef05, 0x05, FREE, [
      rec(0x01, this.cardId),
      rec(0x02, ascii(p.cardType)),
      rec(0x03, ascii(p.version)),
      rec(0x04, bcdDigits(p.initOrg.padEnd(24, 'F'))), // cn, 12 bytes [V2 table 10]
      fill(0x05, 4, true),
      fill(0x06, 4, true),
      fill(0x07, 9, false),
    ]);
    const ef06 = recordEf(0xef06, 0x06, p.version === '3.00' ? { kind: 'extAuth', keyId: BLANK_KEY.RKSSSE } : FREE, [
      fill(0x08, 18, false),
      fill(0x09, 30, false),
      fill(0x4e, 20, false),
      fill(0x0a, 1, false),
      fill(0x0b, 1, true),
      fill(0x0c, 3, true),
      fill(0x0d, 4, true),
    ]);
    // [V2 table 3] EF07 fingerprint, EF08 photo: read RKSSSE, write UKSSSE.
    const ef07: BinaryEf = { kind: 'binary', fid: 0xef07, sfi: 0x07, read: { kind: 'extAuth', keyId: BLANK_KEY.RKSSSE }, data: new Uint8Array(0x300) };
    const ef08: BinaryEf = { kind: 'binary', fid: 0xef08, sfi: 0x08, read: { kind: 'extAuth', keyId: BLANK_KEY.RKSSSE }, data: new Uint8Array(0x1000) };
    this.#efs = new Map<number, RecordEf | BinaryEf>([[0x05, ef05], [0x06, ef06], [0x07, ef07], [0x08, ef08]]);
    const alg = this.family === 'sm4' ? 0x03 : 0x01;
    const fci = (): Uint8Array => tlv(0x6f, Uint8Array.of(...tlv(0x84, SSSE_NAME), ...tlv(0xa5, Uint8Array.of(...tlv(0x88, Uint8Array.of(0x1e)), ...tlv(0x9f0c, tlv(0x86, Uint8Array.of(alg)))))));
    this.#ssse = df(0xddf1, SSSE_NAME, 'ssse', fci, [ef05, ef06, ef07, ef08]);
    const mf = df(0x3f00, undefined, 'mf', () => tlv(0x6f, tlv(0x84, ascii('MF'))), [this.#ssse]);
    const k = (root: Uint8Array): Uint8Array => cardKey(this.family, root, p.region, this.historicalBytes, 'generic');
    this.#keys = new Map([
      [BLANK_KEY.IRK, k(p.roots.irk)],
      [BLANK_KEY.STK, k(p.roots.stk)],
      [BLANK_KEY.UKSSSE, k(p.roots.ukssse)],
      [BLANK_KEY.BK, k(p.roots.bk)],
      [BLANK_KEY.PUK, k(p.roots.puk)],
      [BLANK_KEY.RKSSSE, k(p.roots.rkssse)],
    ]);
    this.#inner = new UserCard({
      atr: this.atr,
      protocol: p.protocol,
      random,
      mf,
      ssse: { df: this.#ssse, security: { family: this.family, keys: this.#keys, smKeyId: BLANK_KEY.STK, extAuthTries: p.extAuthTries ?? 3, pin: null, pinTries: 3 } },
      transit: undefined,
      financial: undefined,
    });
  }

  /** Whether APPLICATION BLOCK has been executed (permanent). */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Number of successful UPDATE RECORD / UPDATE BINARY commands since manufacture. */
  get writeCount(): number {
    return this.#writes;
  }

  /** Test support: the records of EF05 or EF06 as stored (copies). */
  records(file: 'EF05' | 'EF06'): Uint8Array[] {
    const ef = this.#efs.get(file === 'EF05' ? 0x05 : 0x06);
    return ef?.kind === 'record' ? ef.records.map((r) => r.slice()) : [];
  }

  reset(): Uint8Array {
    this.#v.inSsse = false;
    this.#v.ef = undefined;
    this.#v.challenge = undefined;
    this.#v.authed.clear();
    return this.#inner.reset();
  }

  transmit(apdu: Uint8Array): Uint8Array {
    const cmd = parseCommand(apdu);
    // [P5 §6.1; P7 §13.2] after APPLICATION BLOCK every command in the application answers 9303.
    if (this.#blocked && this.#v.inSsse && cmd !== undefined && cmd.ins !== 0xa4) return respond(0x9303);
    if (cmd !== undefined && (cmd.cla === 0x00 || cmd.cla === 0x04) && cmd.ins === 0xdc) return this.#guard(() => this.#updateRecord(cmd));
    if (cmd !== undefined && (cmd.cla === 0x00 || cmd.cla === 0x04) && cmd.ins === 0xd6) return this.#guard(() => this.#updateBinary(cmd));
    if (cmd !== undefined && cmd.cla === 0x84 && cmd.ins === 0x1e) return this.#guard(() => this.#applicationBlock(cmd));
    const r = this.#inner.transmit(apdu);
    if (cmd === undefined) return r;
    const ok = r.length >= 2 && r[r.length - 2] === 0x90 && r[r.length - 1] === 0x00;
    if (cmd.ins === 0xa4 && ok) return this.#afterSelect(cmd, r);
    if (cmd.ins === 0x84 && cmd.cla === 0x00) this.#v.challenge = ok ? r.slice(0, r.length - 2) : undefined;
    if (cmd.ins === 0x82 && cmd.cla === 0x00) {
      this.#v.challenge = undefined;
      if (ok && this.#v.inSsse) this.#v.authed.add(cmd.p2 & 0x1f);
    }
    return r;
  }

  #guard(f: () => Uint8Array): Uint8Array {
    if (!this.#v.inSsse) return respond(SW.CONDITIONS);
    return f();
  }

  // [7816-4 §7.1.1] Tracks the selection the inner card made: a DF ends the security state.
  #afterSelect(cmd: Command, r: Uint8Array): Uint8Array {
    const v = this.#v;
    if (cmd.p1 === 0x04) {
      v.inSsse = cmd.data.length === SSSE_NAME.length && cmd.data.every((b, i) => b === SSSE_NAME[i]);
      v.ef = undefined;
      v.challenge = undefined;
      v.authed.clear();
    } else if (cmd.data.length === 2) {
      const fid = (cmd.data[0]! << 8) | cmd.data[1]!;
      const ef = v.inSsse ? [...this.#efs.values()].find((e) => e.fid === fid) : undefined;
      if (ef !== undefined) v.ef = ef;
      else {
        v.inSsse = fid === this.#ssse.fid;
        v.ef = undefined;
        v.challenge = undefined;
        v.authed.clear();
      }
    } else {
      v.inSsse = false;
      v.ef = undefined;
      v.authed.clear();
    }
    if (this.#blocked && v.inSsse && v.ef === undefined) return respond(0x9303);
    return r;
  }

  #target(sfi: number): RecordEf | BinaryEf | undefined {
    return sfi === 0 ? this.#v.ef : this.#efs.get(sfi);
  }

  // [P5 §6.13 table 44] UPDATE RECORD: whole SIMPLE-TLV record; by number or by identifier; a
  // missing record appends; write condition UKSSSE [V2 table 3].
  #updateRecord(cmd: Command): Uint8Array {
    if (cmd.cla === 0x04) return respond(0x6882); // [P7 §7.3] the SSSE files do not use secure messaging
    const sfi = cmd.p2 >> 3;
    const mode = cmd.p2 & 0b111;
    if (sfi === 31 || mode > 0b100) return respond(SW.WRONG_P1P2);
    const ef = this.#target(sfi);
    if (ef === undefined) return respond(sfi === 0 ? SW.NO_CURRENT_EF : SW.FILE_NOT_FOUND);
    if (ef.kind !== 'record') return respond(SW.INCOMPATIBLE_FILE);
    if (!this.#v.authed.has(BLANK_KEY.UKSSSE)) return respond(SW.SECURITY);
    const d = cmd.data;
    if (d.length < 2 || d[1] !== d.length - 2) return respond(0x6a85);
    let index: number;
    if (mode === 0b100) {
      if (cmd.p1 === 0) return respond(SW.WRONG_P1P2);
      index = cmd.p1 - 1;
      if (index > ef.records.length) return respond(SW.RECORD_NOT_FOUND);
    } else {
      if (d[0] !== cmd.p1) return respond(SW.WRONG_DATA);
      if (mode === 0b010 || mode === 0b011) return respond(SW.WRONG_P1P2);
      const ids = ef.records.map((x) => x[0]);
      const found = mode === 0b000 ? ids.indexOf(cmd.p1) : ids.lastIndexOf(cmd.p1);
      index = found < 0 ? ef.records.length : found;
    }
    if (index === ef.records.length && ef.records.length >= ef.maxRecords) return respond(0x6a84);
    ef.records[index] = d.slice();
    this.#v.ef = ef;
    this.#writes++;
    return respond(SW.OK);
  }

  // [P5 §6.12] UPDATE BINARY: P1 b8 = 1 → SFI, P2 = offset; else 15-bit offset of the current EF.
  #updateBinary(cmd: Command): Uint8Array {
    if (cmd.cla === 0x04) return respond(0x6882);
    let ef: RecordEf | BinaryEf | undefined;
    let offset: number;
    if (cmd.p1 & 0x80) {
      if (cmd.p1 & 0x60) return respond(SW.WRONG_P1P2);
      ef = this.#target(cmd.p1 & 0x1f);
      offset = cmd.p2;
      if (ef === undefined) return respond(SW.FILE_NOT_FOUND);
    } else {
      ef = this.#v.ef;
      offset = (cmd.p1 << 8) | cmd.p2;
      if (ef === undefined) return respond(SW.NO_CURRENT_EF);
    }
    if (ef.kind !== 'binary') return respond(SW.INCOMPATIBLE_FILE);
    if (!this.#v.authed.has(BLANK_KEY.UKSSSE)) return respond(SW.SECURITY);
    if (cmd.data.length === 0) return respond(SW.WRONG_LENGTH);
    if (offset + cmd.data.length > ef.data.length) return respond(SW.OFFSET_BEYOND);
    ef.data.set(cmd.data, offset);
    this.#v.ef = ef;
    this.#writes++;
    return respond(SW.OK);
  }

  // [P5 §6.1; issuance §2.1, §3 INFER] APPLICATION BLOCK 84 1E 00 01 04 MAC: external
  // authentication with BK, then a fresh challenge; MAC with the STK session key of that challenge.
  #applicationBlock(cmd: Command): Uint8Array {
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x01) return respond(SW.WRONG_P1P2);
    if (cmd.data.length !== 4) return respond(SW.WRONG_LENGTH);
    if (!this.#v.authed.has(BLANK_KEY.BK)) return respond(SW.SECURITY);
    const challenge = this.#v.challenge;
    this.#v.challenge = undefined;
    if (challenge === undefined) return respond(SW.REF_DATA_INVALID);
    const ks = sessionKey(this.family, this.#keys.get(BLANK_KEY.STK)!, challenge);
    const expected = mac(this.family, ks, Uint8Array.of(0x84, 0x1e, 0x00, 0x01, 0x04));
    if (!timingSafeEqual(expected, cmd.data)) return respond(SW.SM_MAC_WRONG);
    this.#blocked = true;
    return respond(SW.OK);
  }
}
