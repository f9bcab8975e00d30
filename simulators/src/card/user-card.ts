/**
 * The simulated user card: a small COS with the social security environment (SSSE, EF05–EF08,
 * GET CHALLENGE, internal/external authentication, VERIFY, CHANGE PIN, PIN unblock/reload with
 * secure messaging) [ssc-card §1–§12], an optional T-Union purse (`transit.ts`) and an optional
 * financial stub (SELECT, GET PROCESSING OPTIONS, READ RECORD → tag `5A`). One class serves the
 * SSC, the T=1 variant and the transit-only card; `index.ts` builds them from profiles.
 */
import { type Command, SW, parseCommand, respond, swTries, tlv } from './apdu.ts';
import { type Family, authData, blockSize, decryptLd, mac, sessionKey, timingSafeEqual } from './crypto.ts';
import { type Df, type Ef, type RecordPointer, df, readBinary, readRecord, resolveSelect } from './fs.ts';
import type { RandomSource } from './random.ts';
import type { SimulatedCard } from './types.ts';
import type { TearPoint, TransitApp } from './transit.ts';
import { SimulatorError } from '../errors.ts';

/** Key identifiers in the SSSE [SPEC KEY-IDX; ssc-card §8.2]. */
export const SSSE_KEY = { IRK: 0x00, STK: 0x02, PUK: 0x06, RKSSSE: 0x0a } as const;

/** The SSSE security configuration of a card (keys already dispersed for this card). */
export interface SsseSecurity {
  readonly family: Family;
  /** Card keys by key identifier. */
  readonly keys: ReadonlyMap<number, Uint8Array>;
  /** Key identifier checking the `8424` MAC and decrypting its PIN block. */
  readonly smKeyId: number;
  readonly extAuthTries: number;
  pin: Uint8Array | null;
  readonly pinTries: number;
}

export interface FinancialApp {
  readonly df: Df;
  readonly gpo: Uint8Array;
}

export interface UserCardParts {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  readonly random: RandomSource;
  readonly mf: Df;
  readonly ssse: { readonly df: Df; readonly security: SsseSecurity } | undefined;
  readonly transit: TransitApp | undefined;
  readonly financial: FinancialApp | undefined;
}

/** BCD PIN with `F` padding [ssc-card §11]. */
export function pinBytes(pin: string): Uint8Array {
  const s = pin.length % 2 === 1 ? `${pin}F` : pin;
  return Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
}

function validPinBlock(b: Uint8Array): boolean {
  if (b.length < 2 || b.length > 8) return false;
  const digits = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();
  return /^\d+F?$/.test(digits) && digits.replace('F', '').length >= 4;
}

export class UserCard implements SimulatedCard {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  readonly #random: RandomSource;
  readonly #mf: Df;
  readonly #ssse: { readonly df: Df; readonly security: SsseSecurity } | undefined;
  readonly #transit: TransitApp | undefined;
  readonly #financial: FinancialApp | undefined;
  // persistent (EEPROM) counters
  #pinLeft: number;
  readonly #keyLeft = new Map<number, number>();
  // volatile state
  #powered = false;
  #df: Df;
  #ef: Ef | undefined;
  readonly #ptr: RecordPointer = { ef: undefined, index: -1 };
  #challenge: Uint8Array | undefined;
  readonly #authed = new Set<number>();
  #pinOk = false;

  constructor(parts: UserCardParts) {
    this.atr = parts.atr;
    this.protocol = parts.protocol;
    this.#random = parts.random;
    this.#mf = parts.mf;
    this.#ssse = parts.ssse;
    this.#transit = parts.transit;
    this.#financial = parts.financial;
    this.#df = parts.mf;
    this.#pinLeft = parts.ssse?.security.pinTries ?? 0;
    if (parts.ssse !== undefined) for (const id of parts.ssse.security.keys.keys()) this.#keyLeft.set(id, parts.ssse.security.extAuthTries);
  }

  /** PIN tries left (for tests and diagnostics). */
  get pinTriesLeft(): number {
    return this.#pinLeft;
  }

  /** External-authentication tries left for a key. */
  keyTriesLeft(keyId: number): number | undefined {
    return this.#keyLeft.get(keyId);
  }

  /** The transit application, if the card carries one (balance, ATC, log, tear injection). */
  get transit(): TransitApp | undefined {
    return this.#transit;
  }

  /** Arms a one-shot tear of the next DEBIT FOR PURCHASE; the card then stays mute until reset. */
  injectTear(point: TearPoint): void {
    this.#transit?.injectTear(point);
  }

  reset(): Uint8Array {
    this.#powered = true;
    this.#df = this.#mf;
    this.#ef = undefined;
    this.#ptr.ef = undefined;
    this.#challenge = undefined;
    this.#authed.clear();
    this.#pinOk = false;
    this.#transit?.endSession();
    return this.atr.slice();
  }

  transmit(apdu: Uint8Array): Uint8Array {
    if (!this.#powered) throw new SimulatorError('SIM_ERR_CARD_MUTE', 'card not reset', {});
    try {
      return this.#dispatch(apdu);
    } catch (err) {
      if (err instanceof SimulatorError && err.code === 'SIM_ERR_CARD_TORN') this.#powered = false;
      throw err;
    }
  }

  #dispatch(apdu: Uint8Array): Uint8Array {
    const cmd = parseCommand(apdu);
    if (cmd === undefined) return respond(SW.WRONG_LENGTH);
    if (cmd.cla !== 0x00 && cmd.cla !== 0x80 && cmd.cla !== 0x84) return respond(SW.CLA_NOT_SUPPORTED);
    if (cmd.cla === 0x00) {
      switch (cmd.ins) {
        case 0xa4:
          return this.#select(cmd);
        case 0xb2: {
          const r = readRecord(cmd, this.#ef, this.#df, (ef) => this.#canRead(ef), this.#ptr);
          this.#ef = r.ef;
          return r.response;
        }
        case 0xb0: {
          const r = readBinary(cmd, this.#ef, this.#df, (ef) => this.#canRead(ef));
          this.#ef = r.ef;
          return r.response;
        }
        case 0x84:
          return this.#getChallenge(cmd);
        case 0x88:
          return this.#internalAuth(cmd);
        case 0x82:
          return this.#externalAuth(cmd);
        case 0x20:
          return this.#verify(cmd);
        default:
          return respond(SW.INS_NOT_SUPPORTED);
      }
    }
    if (cmd.cla === 0x80 && cmd.ins === 0x5e) return this.#changePin(cmd);
    if (cmd.cla === 0x84 && cmd.ins === 0x24) return this.#pinUnblock(cmd);
    if (cmd.cla === 0x80 && cmd.ins === 0xa8 && this.#financial !== undefined && this.#df === this.#financial.df) {
      if (cmd.data[0] !== 0x83) return respond(SW.WRONG_DATA);
      return respond(SW.OK, this.#financial.gpo);
    }
    if (this.#transit !== undefined && this.#df === this.#transit.df) {
      const r = this.#transit.handle(cmd);
      if (r !== undefined) return r;
    }
    return respond(SW.INS_NOT_SUPPORTED);
  }

  // [7816-4 §7.1.1; ssc-card §1.2, §5.1] Selecting a DF ends its security state (firewall).
  #select(cmd: Command): Uint8Array {
    if (cmd.p2 !== 0x00 && cmd.p2 !== 0x0c) return respond(SW.WRONG_P1P2);
    const r = resolveSelect(cmd, this.#mf, this.#df);
    if (!r.ok) return respond(r.sw);
    if (r.ef === undefined) {
      this.#df = r.df;
      this.#ef = undefined;
      this.#challenge = undefined;
      this.#authed.clear();
      this.#transit?.endSession();
      return cmd.p2 === 0x0c ? respond(SW.OK) : respond(SW.OK, r.df.fci());
    }
    this.#ef = r.ef;
    return respond(SW.OK);
  }

  #canRead(ef: Ef): boolean {
    const rule = ef.read;
    if (rule.kind === 'free') return true;
    if (rule.kind === 'never') return false;
    return this.#authed.has(rule.keyId) && this.#df.children.includes(ef);
  }

  #inSsse(): { readonly df: Df; readonly security: SsseSecurity } | undefined {
    return this.#ssse !== undefined && this.#df === this.#ssse.df ? this.#ssse : undefined;
  }

  // [SPEC P5 §6.5] GET CHALLENGE: 4, 8 or 16 bytes, valid once in the current application.
  #getChallenge(cmd: Command): Uint8Array {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return respond(SW.WRONG_P1P2);
    if (cmd.le !== 4 && cmd.le !== 8 && cmd.le !== 16) return respond(SW.WRONG_LENGTH);
    this.#challenge = this.#random(cmd.le);
    return respond(SW.OK, this.#challenge);
  }

  // [SPEC P5 §6.7; ssc-card §10.1] data = R1 (session-key input) ‖ R2 (original data) [‖ version].
  #internalAuth(cmd: Command): Uint8Array {
    const s = this.#inSsse();
    if (cmd.p1 !== 0) return respond(SW.WRONG_P1P2);
    if (s === undefined) return respond(SW.CONDITIONS);
    const key = s.security.keys.get(cmd.p2 === 0 ? SSSE_KEY.IRK : cmd.p2);
    if (key === undefined || (cmd.p2 !== 0 && cmd.p2 !== SSSE_KEY.IRK)) return respond(SW.KEY_NOT_FOUND);
    if (cmd.data.length !== 0x10 && cmd.data.length !== 0x11) return respond(SW.WRONG_LENGTH);
    if (cmd.le !== null && cmd.le !== 0 && cmd.le !== 8) return respond(0x6c08);
    const ks = sessionKey(s.security.family, key, cmd.data.subarray(0, 8));
    return respond(SW.OK, authData(s.security.family, ks, cmd.data.subarray(8, 16)));
  }

  // [SPEC P5 §6.4; ssc-card §10.2] data = auth data (8) ‖ original data (8) [‖ version]; 63Cx, 6983.
  #externalAuth(cmd: Command): Uint8Array {
    const s = this.#inSsse();
    if (cmd.p1 !== 0) return respond(SW.WRONG_P1P2);
    if (s === undefined) return respond(SW.CONDITIONS);
    const id = cmd.p2 & 0x1f;
    const key = s.security.keys.get(id);
    if (key === undefined) return respond(SW.KEY_NOT_FOUND);
    if (cmd.data.length !== 0x10 && cmd.data.length !== 0x11) return respond(SW.WRONG_LENGTH);
    const left = this.#keyLeft.get(id) ?? 0;
    if (left === 0) return respond(SW.LOCKED);
    const challenge = this.#challenge;
    this.#challenge = undefined;
    if (challenge === undefined) return respond(SW.REF_DATA_INVALID);
    const ks = sessionKey(s.security.family, key, challenge);
    const expected = authData(s.security.family, ks, cmd.data.subarray(8, 16));
    if (!timingSafeEqual(expected, cmd.data.subarray(0, 8))) {
      this.#keyLeft.set(id, left - 1);
      return respond(swTries(left - 1));
    }
    this.#keyLeft.set(id, s.security.extAuthTries);
    this.#authed.add(id);
    return respond(SW.OK);
  }

  // [SPEC P5 §6.3; ssc-card §11] VERIFY; the empty form probes the counter.
  #verify(cmd: Command): Uint8Array {
    const s = this.#inSsse();
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return respond(SW.WRONG_P1P2);
    if (s === undefined) return respond(SW.CONDITIONS);
    const pin = s.security.pin;
    if (cmd.data.length === 0) {
      if (pin === null) return respond(SW.OK);
      return respond(this.#pinLeft === 0 ? SW.LOCKED : swTries(this.#pinLeft));
    }
    if (cmd.data.length < 2 || cmd.data.length > 8) return respond(SW.WRONG_LENGTH);
    if (pin === null) return respond(SW.KEY_NOT_FOUND);
    if (this.#pinLeft === 0) return respond(SW.LOCKED);
    if (!timingSafeEqual(pin, cmd.data)) {
      this.#pinLeft--;
      this.#pinOk = false;
      return respond(swTries(this.#pinLeft));
    }
    this.#pinLeft = s.security.pinTries;
    this.#pinOk = true;
    return respond(SW.OK);
  }

  /** Whether a VERIFY succeeded since the last reset. */
  get pinVerified(): boolean {
    return this.#pinOk;
  }

  // [SPEC P5 §6.14; ssc-card §11] CHANGE PIN 80 5E 01 00: old ‖ FF ‖ new.
  #changePin(cmd: Command): Uint8Array {
    const s = this.#inSsse();
    if (cmd.p1 !== 0x01 || cmd.p2 !== 0x00) return respond(SW.WRONG_P1P2);
    if (s === undefined) return respond(SW.CONDITIONS);
    if (cmd.data.length < 3 || cmd.data.length > 0x11) return respond(SW.WRONG_LENGTH);
    const sep = cmd.data.indexOf(0xff);
    if (sep < 0) return respond(SW.WRONG_DATA);
    const oldPin = cmd.data.subarray(0, sep);
    const newPin = cmd.data.slice(sep + 1);
    if (!validPinBlock(newPin)) return respond(SW.WRONG_DATA);
    const pin = s.security.pin;
    if (pin === null) return respond(SW.KEY_NOT_FOUND);
    if (this.#pinLeft === 0) return respond(SW.LOCKED);
    if (!timingSafeEqual(pin, oldPin)) {
      this.#pinLeft--;
      return respond(swTries(this.#pinLeft));
    }
    s.security.pin = newPin;
    this.#pinLeft = s.security.pinTries;
    return respond(SW.OK);
  }

  // [SPEC P5 §6.8; P7 §13; ssc-card §7.9] 84 24 00 P2: needs external auth with the PUK and a fresh challenge.
  #pinUnblock(cmd: Command): Uint8Array {
    const s = this.#inSsse();
    if (cmd.p1 !== 0x00 || (cmd.p2 !== 0x00 && cmd.p2 !== 0x01)) return respond(SW.WRONG_P1P2);
    if (s === undefined) return respond(SW.CONDITIONS);
    const f = s.security.family;
    const d = cmd.data;
    if (cmd.p2 === 0x00 ? d.length !== 4 : d.length !== 4 + blockSize(f) && d.length !== 4 + 2 * blockSize(f)) return respond(SW.WRONG_LENGTH);
    if (!this.#authed.has(SSSE_KEY.PUK)) return respond(SW.SECURITY);
    const challenge = this.#challenge;
    this.#challenge = undefined;
    if (challenge === undefined) return respond(SW.REF_DATA_INVALID);
    const key = s.security.keys.get(s.security.smKeyId);
    if (key === undefined) return respond(SW.KEY_NOT_FOUND);
    const ks = sessionKey(f, key, challenge);
    const body = d.subarray(0, d.length - 4);
    const header = Uint8Array.of(cmd.cla, cmd.ins, cmd.p1, cmd.p2, d.length);
    const input = new Uint8Array(5 + body.length);
    input.set(header, 0);
    input.set(body, 5);
    if (!timingSafeEqual(mac(f, ks, input), d.subarray(d.length - 4))) return respond(SW.SM_MAC_WRONG);
    if (cmd.p2 === 0x01) {
      const pin = decryptLd(f, ks, body);
      if (pin === undefined) return respond(SW.SM_MAC_WRONG);
      if (pin.length === 0) s.security.pin = null;
      else if (!validPinBlock(pin)) return respond(SW.SM_MAC_WRONG);
      else s.security.pin = pin;
    }
    this.#pinLeft = s.security.pinTries;
    return respond(SW.OK);
  }
}

/** The financial stub's DF and GPO answer: AIP `7C00`, AFL SFI 1 record 1 [JR/T 0025; ssc-card §14]. */
export function financialDf(aid: Uint8Array, label: string, records: Ef[]): FinancialApp {
  const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const fci = (): Uint8Array => tlv(0x6f, Uint8Array.of(...tlv(0x84, aid), ...tlv(0xa5, Uint8Array.of(...tlv(0x50, enc(label)), ...tlv(0x87, Uint8Array.of(1))))));
  return { df: df(0x1002, aid, 'pboc', fci, records), gpo: tlv(0x80, Uint8Array.of(0x7c, 0x00, 0x08, 0x01, 0x01, 0x00)) };
}
