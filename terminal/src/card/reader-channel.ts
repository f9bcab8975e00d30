/**
 * Card sessions on a CCID slot and the reader-backed {@link CardChannel}: power-up and ATR,
 * protocol choice (the first protocol the ATR offers, so no PPS is needed) and SetParameters,
 * timeouts derived from the ATR (T=0 WWT, T=1 BWT/CWT, reader-link.md §5), then APDUs at TPDU
 * level — T=0 through the exchange rules with transport `t0` (case 4 sent as case 3, GET
 * RESPONSE on 61xx, resend on 6Cxx), T=1 through the block engine with the same exchange rules
 * above it. Removal and reset are reported as `TERM_ERR_CARD_REMOVED` / `TERM_ERR_CARD_RESET`;
 * every APDU is traced at debug level with the data of secret-bearing commands masked.
 */
import { startExchange, stepExchange, t1BlockTimeoutMs, t1Terminal, t1TerminalStep, type Atr, type CommandApdu, type ExchangeStep, type ResponseApdu, type T1TerminalEffect, type T1TerminalEvent, type T1TerminalState } from '@onecard/protocol/iso7816';
import { FI_TABLE, DI_TABLE } from '@onecard/protocol/iso7816';
import type { ProtocolParameters } from '@onecard/protocol/ccid';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import type { CardChannel } from './channel.ts';
import type { CcidReader } from './ccid-reader.ts';
import { checkPowerUpAtr } from './atr-check.ts';

/** A powered card in a slot. */
export interface SlotSession {
  readonly atr: Uint8Array;
  readonly decodedAtr: Atr;
  readonly protocol: 0 | 1;
  /** The slot's event counter when the card was powered; any later movement ends the session. */
  readonly generation: number;
  /** T=0: wait for one TPDU. */
  readonly t0TimeoutMs: number;
  /** T=1 engine state between exchanges. */
  t1: T1TerminalState | undefined;
  /** Set once the session can no longer be used (removal, reset, dead T=1 channel). */
  ended: TerminalError | undefined;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** T=0 character timeout [reader-link §5]: max(3 s, 261·EGT + 6·WWT, 5·EGT + 260·WWT). */
export function t0TimeoutMs(p: { readonly fi: number; readonly di: number; readonly clockHz: number; readonly n: number; readonly wi: number }): number {
  const egt = (12 * p.fi) / p.di / p.clockHz + ((p.fi / p.di) * p.n) / p.clockHz;
  const wwt = (960 * p.wi * p.fi) / p.clockHz;
  return Math.ceil(Math.max(3, 261 * egt + 6 * wwt, 5 * egt + 260 * wwt) * 1000);
}

/** Options of {@link powerUpSession}. */
export interface PowerUpOptions {
  readonly reader: CcidReader;
  readonly slot: number;
  readonly generation: number;
  readonly logger?: Logger | undefined;
}

/**
 * Powers the card up, reads and decodes its ATR, selects the protocol and sets the parameters.
 * [7816-3 §8, §9; reader-link §2.5, §7.3]
 * @throws TerminalError `TERM_ERR_NO_CARD`, `TERM_ERR_CARD_MUTE`, `TERM_ERR_CARD_ATR` (the ATR
 *   analysis of `onecard-terminal atr` finds it invalid), `TERM_ERR_CARD_PROTOCOL`
 *   (no usable protocol), `TERM_ERR_READER_FAILED`, link codes.
 */
export async function powerUpSession(o: PowerUpOptions): Promise<SlotSession> {
  const atrBytes = await o.reader.powerOn(o.slot);
  // [7816-3 §8] an ATR the `atr` command finds invalid is refused here, before protocol choice.
  const atr = checkPowerUpAtr(atrBytes, o.slot);
  // [7816-3 §8.2.3, §9] the first offered protocol needs no PPS; TA2 imposes its own.
  const offered = atr.specificMode !== undefined ? atr.specificMode.protocol : atr.defaultProtocol;
  if (offered !== 0 && offered !== 1) throw new TerminalError('TERM_ERR_CARD_PROTOCOL', `protocol T=${offered} not supported`, { slot: o.slot });
  const protocol: 0 | 1 = offered;
  // [7816-3 §8.3] TA1 applies only in specific mode with explicit parameters; otherwise Fd/Dd.
  const useTa1 = atr.specificMode !== undefined && !atr.specificMode.implicitParameters;
  const fidi = useTa1 ? atr.ta1 : 0x11;
  const fi = FI_TABLE[fidi >> 4] ?? 372;
  const di = DI_TABLE[fidi & 0x0f] ?? 1;
  const clockHz = o.reader.descriptor.dwDefaultClock * 1000;
  const n = atr.extraGuardTime.minimum ? 0 : atr.extraGuardTime.n;
  const guard = atr.extraGuardTime.n & 0xff;
  let params: ProtocolParameters;
  let t1: T1TerminalState | undefined;
  let t0Timeout = 0;
  if (protocol === 0) {
    const wi = atr.t0?.wi ?? 10;
    // [CCID §7.3] bmFindexDindex, bmTCCKST0 (direct), bGuardTimeT0 = TC1, bWaitingIntegerT0 = WI.
    params = { protocol: 0, bmFindexDindex: fidi, bmTCCKST0: 0, bGuardTimeT0: guard, bWaitingIntegerT0: wi, bClockStop: 0 };
    t0Timeout = t0TimeoutMs({ fi, di, clockHz, n, wi });
  } else {
    const p = atr.t1 ?? { ifsc: 32, bwi: 4, cwi: 13, edc: 'lrc' as const };
    const ifsc = p.ifsc === 0 ? 32 : Math.min(p.ifsc, 254); // [reader-link §2.3] 00 invalid, FF clamped
    params = {
      protocol: 1, bmFindexDindex: fidi, bmTCCKST1: 0x10 | (p.edc === 'crc' ? 1 : 0), bGuardTimeT1: guard,
      bmWaitingIntegersT1: ((p.bwi & 0x0f) << 4) | (p.cwi & 0x0f), bClockStop: 0, bIFSC: ifsc, bNadValue: 0,
    };
    // [reader-link §4.5] announce IFSD = dwMaxIFSD before the first exchange.
    t1 = t1Terminal({ fi, di, clockHz, extraGuardTime: n, bwi: Math.min(p.bwi, 9), cwi: p.cwi, edc: p.edc, ifsc, ifsd: o.reader.descriptor.dwMaxIFSD });
  }
  await o.reader.setParameters(o.slot, params);
  o.logger?.debug({ slot: o.slot, atr: hex(atrBytes), protocol }, 'card powered');
  return { atr: atrBytes, decodedAtr: atr, protocol, generation: o.generation, t0TimeoutMs: t0Timeout, t1, ended: undefined };
}

/** Options of {@link createReaderChannel}. */
export interface ReaderChannelOptions {
  readonly reader: CcidReader;
  readonly slot: number;
  readonly session: SlotSession;
  /** Error to report when the slot moved since the session started (or the session is closed), else null. */
  readonly check: () => TerminalError | null;
  readonly logger?: Logger | undefined;
  /** Upper bound of card waits (tests); default none. */
  readonly cardMaxMs?: number | undefined;
}

class ReaderChannel implements CardChannel {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  readonly #o: ReaderChannelOptions;

  constructor(o: ReaderChannelOptions) {
    this.#o = o;
    this.atr = o.session.atr;
    this.protocol = o.session.protocol;
  }

  #ensure(): void {
    const e = this.#o.session.ended ?? this.#o.check();
    if (e !== null && e !== undefined) throw e;
  }

  #end(e: TerminalError): TerminalError {
    // Removal and reset end the session; a timeout or a framing error leaves it usable.
    if (e.code === 'TERM_ERR_CARD_REMOVED' || e.code === 'TERM_ERR_CARD_RESET' || e.code === 'TERM_ERR_LINK_CLOSED') this.#o.session.ended ??= e;
    return e;
  }

  #cap(ms: number): number {
    const max = this.#o.cardMaxMs;
    return max === undefined ? ms : Math.min(ms, max);
  }

  /** Maps a failed DataBlock to a coded error [CCID §7.2]. */
  #blockFailure(r: { bStatus: { iccStatus: string }; bError: number }): TerminalError {
    const moved = this.#o.check();
    if (moved !== null) return moved;
    if (r.bStatus.iccStatus === 'absent') return new TerminalError('TERM_ERR_CARD_REMOVED', `slot ${this.#o.slot}`, { slot: this.#o.slot });
    if (r.bStatus.iccStatus === 'present-inactive') return new TerminalError('TERM_ERR_CARD_RESET', `slot ${this.#o.slot}: card no longer powered`, { slot: this.#o.slot });
    if (r.bError === 0xfe) return new TerminalError('TERM_ERR_CARD_TIMEOUT', `slot ${this.#o.slot}: card mute (reader timeout)`, { slot: this.#o.slot });
    return new TerminalError('TERM_ERR_CARD_PROTOCOL', `slot ${this.#o.slot}: XfrBlock failed, bError ${r.bError.toString(16)}`, { slot: this.#o.slot, bError: r.bError });
  }

  #linkFailure(e: unknown): TerminalError {
    const moved = this.#o.check();
    if (moved !== null) return moved;
    if (e instanceof TerminalError) {
      if (e.code === 'TERM_ERR_LINK_TIMEOUT') return new TerminalError('TERM_ERR_CARD_TIMEOUT', e.message, { slot: this.#o.slot }, { cause: e });
      return e;
    }
    return new TerminalError('TERM_ERR_LINK_IO', String(e), { slot: this.#o.slot }, { cause: e });
  }

  async transmit(apdu: CommandApdu): Promise<ResponseApdu> {
    this.#ensure();
    let step: ExchangeStep;
    try {
      step = startExchange(apdu, { transport: this.protocol === 0 ? 't0' : 'apdu' });
    } catch (e) {
      throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `APDU: ${(e as Error).message}`, {}, { cause: e });
    }
    try {
      while (!('done' in step)) {
        const response = this.protocol === 0 ? await this.#t0(step.send) : await this.#t1(step.send);
        this.#trace(step.command, response);
        try {
          step = stepExchange(step.state, response);
        } catch (e) {
          throw new TerminalError('TERM_ERR_CARD_PROTOCOL', `exchange: ${(e as Error).message}`, { slot: this.#o.slot }, { cause: e });
        }
      }
    } catch (e) {
      throw this.#end(e instanceof TerminalError ? e : this.#linkFailure(e));
    }
    return step.done;
  }

  #trace(command: CommandApdu, response: Uint8Array): void {
    const log = this.#o.logger;
    if (log === undefined || !log.isLevelEnabled('debug')) return;
    const sw = response.length >= 2 ? hex(response.subarray(response.length - 2)) : '';
    // The command goes to the logger's `apdu` serializer as an object: it masks secret-bearing
    // data (VERIFY, CHANGE PIN, CIPHER DATA …) in one place. Response data is never logged: it may
    // carry personal data; its length is enough to trace.
    log.debug({ slot: this.#o.slot, apdu: command, sw, responseLength: Math.max(0, response.length - 2) }, 'apdu');
  }

  /** One T=0 TPDU in one XfrBlock (TPDU-level reader) [reader-link §3.3]. */
  async #t0(tpdu: Uint8Array): Promise<Uint8Array> {
    this.#ensure();
    let r;
    try {
      r = await this.#o.reader.xfrBlock(this.#o.slot, tpdu, { timeoutMs: this.#cap(this.#o.session.t0TimeoutMs) });
    } catch (e) {
      throw this.#linkFailure(e);
    }
    if (r.bStatus.commandStatus !== 'ok') throw this.#blockFailure(r);
    if (r.abData.length < 2) throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'T=0 response without status word', { slot: this.#o.slot });
    return r.abData;
  }

  /** One APDU through the T=1 block engine, one block per XfrBlock [reader-link §4]. */
  async #t1(apdu: Uint8Array): Promise<Uint8Array> {
    const s = this.#o.session;
    let res = t1TerminalStep(s.t1!, { type: 'send-apdu', apdu });
    s.t1 = res.state;
    for (let guard = 0; guard < 10_000; guard++) {
      let transmit: Extract<T1TerminalEffect, { type: 'transmit' }> | undefined;
      for (const eff of res.effects) {
        if (eff.type === 'deliver-response') return eff.apdu;
        if (eff.type === 'error') {
          if (s.t1?.phase === 'dead') s.ended ??= new TerminalError('TERM_ERR_CARD_PROTOCOL', `T=1 channel dead: ${eff.code}`, { slot: this.#o.slot });
          throw new TerminalError('TERM_ERR_CARD_PROTOCOL', `T=1: ${eff.code} ${eff.detail}`, { slot: this.#o.slot, t1: eff.code });
        }
        if (eff.type === 'transmit') transmit = eff;
      }
      if (transmit === undefined) throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'T=1 engine stalled', { slot: this.#o.slot });
      this.#ensure();
      const event = await this.#block(transmit);
      res = t1TerminalStep(s.t1!, event);
      s.t1 = res.state;
    }
    throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'T=1 exchange did not end', { slot: this.#o.slot });
  }

  async #block(tx: Extract<T1TerminalEffect, { type: 'transmit' }>): Promise<T1TerminalEvent> {
    const timing = this.#o.session.t1!.link.config.timing;
    const timeoutMs = this.#cap(tx.timeoutMs ?? t1BlockTimeoutMs(timing, tx.wtx));
    let r;
    try {
      // [reader-link §4.4] the WTX multiplier goes to the reader as bBWI for this block only.
      r = await this.#o.reader.xfrBlock(this.#o.slot, tx.bytes, { timeoutMs, bBWI: tx.wtx > 1 ? Math.min(tx.wtx, 255) : 0 });
    } catch (e) {
      const moved = this.#o.check();
      if (moved !== null) throw moved;
      // [7816-3 §11.6.3] no block in time, or a corrupted one: the engine recovers with R-blocks.
      if (e instanceof TerminalError && e.code === 'TERM_ERR_LINK_TIMEOUT') return { type: 'timeout' };
      if (e instanceof TerminalError && e.code === 'TERM_ERR_LINK_FRAME') return { type: 'block-received', bytes: new Uint8Array(0), parityError: true };
      throw this.#linkFailure(e);
    }
    if (r.bStatus.commandStatus !== 'ok') {
      if (r.bStatus.iccStatus === 'present-active' && r.bError === 0xfd) return { type: 'block-received', bytes: r.abData, parityError: true }; // [CCID §7.2] XFR_PARITY_ERROR
      if (r.bStatus.iccStatus === 'present-active' && r.bError === 0xfe) return { type: 'timeout' };
      throw this.#blockFailure(r);
    }
    return { type: 'block-received', bytes: r.abData };
  }
}

/** Creates the CardChannel of a powered session. Never throws; `transmit` rejects with coded errors. */
export function createReaderChannel(o: ReaderChannelOptions): CardChannel {
  return new ReaderChannel(o);
}
