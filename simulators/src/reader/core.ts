/**
 * Sans-I/O core of the simulated serial CCID reader (GemPC Twin family, reader-link.md §7, §8):
 * bytes from the host go in, the bytes the reader puts on the line (each with a delay before
 * it) and events come out. It answers the driver's open-time probes, GetSlotStatus,
 * IccPowerOn/Off, Set/Get/ResetParameters and XfrBlock at TPDU level (T=0 through
 * {@link T0Slot}, T=1 through {@link T1Card}), echoes frames on the GemPC Twin, sends `50 xx`
 * slot-change notices, and applies the fault plan. The pty adapter (`pty-reader.ts`) is a thin
 * shell around it; tests drive it directly.
 */
import { SimulatorError } from '../errors.ts';
import type { ReaderCard } from './card-port.ts';
import { decodeHostFrame, encodeAckFrame, encodeSlotChange, NAK_FRAME, CCID_HEADER } from './serial-frames.ts';
import { readerModel, type ReaderModelName, type ReaderModelProfile } from './models.ts';
import type { Fault } from './faults.ts';
import { T0Slot } from './t0-tpdu.ts';
import { T1Card } from './t1-card.ts';

/** CCID message types used by the simulator [CCID-SPEC; reader-link §7.1]. */
export const CCID = {
  SetParameters: 0x61,
  IccPowerOn: 0x62,
  IccPowerOff: 0x63,
  GetSlotStatus: 0x65,
  Escape: 0x6b,
  GetParameters: 0x6c,
  ResetParameters: 0x6d,
  XfrBlock: 0x6f,
  Abort: 0x72,
  DataBlock: 0x80,
  SlotStatus: 0x81,
  Parameters: 0x82,
  EscapeResponse: 0x83,
  DataRateAndClock: 0x84,
} as const;

/** bError values [CCID-SPEC; reader-link §7.2]. */
export const CCID_ERR = { ICC_MUTE: 0xfe, HW_ERROR: 0xfb, CMD_NOT_SUPPORTED: 0x00, BAD_LENGTH: 0x01, BAD_SLOT: 0x05 } as const;

const T0_DEFAULT_PARAMS = Uint8Array.of(0x11, 0x00, 0x00, 0x0a, 0x00); // [reader-link §7.3]
const T1_DEFAULT_PARAMS = Uint8Array.of(0x11, 0x10, 0x00, 0x4d, 0x00, 0x20, 0x00);

/** One write to the line: wait `delayMs` after the previous write, then send `bytes`. */
export interface ReaderWrite {
  readonly bytes: Uint8Array;
  readonly delayMs: number;
}

export type ReaderEvent =
  | { readonly type: 'command'; readonly index: number; readonly messageType: number; readonly slot: number }
  | { readonly type: 'apdu'; readonly slot: number; readonly index: number; readonly protocol: 0 | 1; readonly command: Uint8Array; readonly response: Uint8Array }
  | { readonly type: 'card'; readonly slot: number; readonly action: 'inserted' | 'removed' }
  | { readonly type: 'power'; readonly slot: number; readonly on: boolean; readonly atr?: Uint8Array }
  | { readonly type: 'fault'; readonly kind: Fault['kind']; readonly at: number }
  | { readonly type: 'cut'; readonly slot: number; readonly ins: number; readonly when: CutPoint; readonly at: number }
  | { readonly type: 'link'; readonly problem: 'garbage' | 'bad-lrc' | 'bad-size' }
  | { readonly type: 'notify'; readonly bytes: Uint8Array };

export interface ReaderStep {
  readonly writes: ReaderWrite[];
  readonly events: ReaderEvent[];
  /** The reader is unplugged: the adapter must close the line. */
  readonly unplug: boolean;
}

export interface SlotStatusInfo {
  readonly present: boolean;
  readonly powered: boolean;
  readonly protocol: 0 | 1;
}

export interface ReaderStatus {
  readonly model: ReaderModelName;
  readonly slots: SlotStatusInfo[];
  readonly syncNotifications: boolean;
  readonly commands: number;
  readonly apdus: number;
  readonly unplugged: boolean;
}

export interface ReaderCoreOptions {
  readonly model: ReaderModelName | ReaderModelProfile;
  /** Initial card per slot (undefined = empty slot). */
  readonly slots?: ReadonlyArray<ReaderCard | undefined>;
  /** Injected time source (ms); only used to stamp nothing yet but kept for deterministic extensions. */
  readonly clock?: () => number;
  readonly faults?: readonly Fault[];
}

export interface ReaderCore {
  readonly model: ReaderModelProfile;
  /** Bytes from the host (any fragmentation). */
  receive(bytes: Uint8Array): ReaderStep;
  /** Inserts a card (replacing nothing: the slot must be empty, else it is a swap). */
  insert(slot: number, card: ReaderCard): ReaderStep;
  remove(slot: number): ReaderStep;
  /** Removes the card (if any) and inserts another one: two notices. */
  swap(slot: number, card: ReaderCard): ReaderStep;
  /**
   * Arms a one-shot cut of the card in `slot` at the next APDU whose INS byte is `ins` (a person
   * pulling a card away, or a contactless tap leaving the field, at an exact command): `before` —
   * the card never sees the command; `during` — the card executes it but no answer comes back;
   * `after` — the answer comes back, then the card leaves. Replaces an earlier cut of that slot.
   * @throws SimulatorError SIM_ERR_READER_SLOT for a slot the model does not have;
   *   SIM_ERR_READER_CUT for an INS outside 00..FF or an unknown point
   */
  cut(slot: number, ins: number, when: CutPoint): void;
  /** Cuts still armed (not yet triggered), per slot. */
  cuts(): readonly ArmedCut[];
  status(): ReaderStatus;
}

/** Where a cut happens relative to the matching command (see {@link ReaderCore.cut}). */
export type CutPoint = 'before' | 'during' | 'after';
export const CUT_POINTS: readonly CutPoint[] = ['before', 'during', 'after'];

export interface ArmedCut {
  readonly slot: number;
  readonly ins: number;
  readonly when: CutPoint;
}

interface Slot {
  card: ReaderCard | undefined;
  powered: boolean;
  protocol: 0 | 1;
  params: Uint8Array;
  ppsAllowed: boolean;
  changed: boolean;
  readonly t0: T0Slot;
  readonly t1: T1Card;
}

class CardGone extends Error {
  constructor(readonly when: 'before' | 'during' | 'mute') {
    super(`card removed ${when} APDU`);
  }
}

/**
 * Creates the reader core.
 * @throws SimulatorError SIM_ERR_READER_MODEL for an unknown model, SIM_ERR_READER_SLOT when more
 * initial cards than slots are given.
 */
export function createReaderCore(opts: ReaderCoreOptions): ReaderCore {
  const model = typeof opts.model === 'string' ? readerModel(opts.model) : opts.model;
  const initial = opts.slots ?? [];
  if (initial.length > model.slots) throw new SimulatorError('SIM_ERR_READER_SLOT', `${initial.length} cards for ${model.slots} slots`, { slots: model.slots });
  const slots: Slot[] = Array.from({ length: model.slots }, (_, i) => ({
    card: initial[i],
    powered: false,
    protocol: 0,
    params: T0_DEFAULT_PARAMS,
    ppsAllowed: false,
    changed: false,
    t0: new T0Slot(),
    t1: new T1Card(),
  }));
  const faults = [...(opts.faults ?? [])];
  let rx = new Uint8Array(0);
  let commands = 0;
  let apdus = 0;
  let syncNotify = false;
  let noticePending = false;
  let unplugged = false;

  const faultAt = (kind: Fault['kind'], n: number): Fault | undefined => faults.find((f) => f.kind === kind && f.at === n);
  let armedCuts: ArmedCut[] = [];
  /** The armed cut of `slot` matching `apdu`'s INS, disarmed as it triggers. */
  const takeCut = (slot: number, apdu: Uint8Array): CutPoint | undefined => {
    const c = armedCuts.find((x) => x.slot === slot && x.ins === apdu[1]);
    if (c === undefined) return undefined;
    armedCuts = armedCuts.filter((x) => x !== c);
    return c.when;
  };

  const checkSlot = (slot: number): void => {
    if (!Number.isInteger(slot) || slot < 0 || slot >= model.slots) throw new SimulatorError('SIM_ERR_READER_SLOT', `slot ${slot}`, { slot, slots: model.slots });
  };

  const notice = (): Uint8Array => {
    const b = encodeSlotChange(slots.map((s) => s.card !== undefined), slots.map((s) => s.changed));
    for (const s of slots) s.changed = false;
    noticePending = false;
    return b;
  };

  /** Queue or emit the `50 xx` notice after a movement [reader-link §8.2, §8.4 step 2]. */
  const movement = (writes: ReaderWrite[], events: ReaderEvent[]): void => {
    if (syncNotify) {
      noticePending = true;
    } else {
      const b = notice();
      writes.push({ bytes: b, delayMs: 0 });
      events.push({ type: 'notify', bytes: b });
    }
  };

  const detach = (slot: number, events: ReaderEvent[]): void => {
    const s = slots[slot] as Slot;
    if (s.card === undefined) return;
    s.card = undefined;
    s.powered = false;
    s.changed = true;
    events.push({ type: 'card', slot, action: 'removed' });
  };

  const attach = (slot: number, card: ReaderCard, events: ReaderEvent[]): void => {
    const s = slots[slot] as Slot;
    s.card = card;
    s.powered = false;
    s.changed = true;
    events.push({ type: 'card', slot, action: 'inserted' });
  };

  const iccStatus = (slot: number): number => {
    const s = slots[slot];
    if (s === undefined || s.card === undefined) return 2;
    return s.powered ? 0 : 1;
  };

  const message = (type: number, slot: number, seq: number, status: number, error: number, b9: number, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
    const m = new Uint8Array(CCID_HEADER + data.length);
    m[0] = type;
    new DataView(m.buffer).setUint32(1, data.length, true); // [CCID-SPEC] dwLength little-endian
    m[5] = slot;
    m[6] = seq;
    m[7] = status;
    m[8] = error;
    m[9] = b9;
    m.set(data, CCID_HEADER);
    return m;
  };

  const responseType = (cmd: number): number => {
    switch (cmd) {
      case CCID.IccPowerOn:
      case CCID.XfrBlock:
        return CCID.DataBlock;
      case CCID.SetParameters:
      case CCID.GetParameters:
      case CCID.ResetParameters:
        return CCID.Parameters;
      case CCID.Escape:
        return CCID.EscapeResponse;
      case 0x73:
        return CCID.DataRateAndClock;
      default:
        return CCID.SlotStatus;
    }
  };

  const failed = (cmd: number, slot: number, seq: number, error: number): Uint8Array =>
    message(responseType(cmd), slot, seq, 0x40 | iccStatus(slot), error, 0);

  /** Runs one APDU against the slot's card, counting it and applying card faults. */
  const cardTransmit = (slotIdx: number, events: ReaderEvent[], after: { remove: boolean }) => (apdu: Uint8Array): Uint8Array => {
    const s = slots[slotIdx] as Slot;
    const n = ++apdus;
    const cut = takeCut(slotIdx, apdu);
    if (cut !== undefined) events.push({ type: 'cut', slot: slotIdx, ins: apdu[1] as number, when: cut, at: n });
    if (faultAt('remove-before', n) !== undefined || cut === 'before') {
      if (cut !== 'before') events.push({ type: 'fault', kind: 'remove-before', at: n });
      throw new CardGone('before');
    }
    const card = s.card as ReaderCard;
    let r: Uint8Array;
    try {
      r = card.transmit(apdu);
    } catch {
      // a mute or torn card (or a card bug): the reader sees no answer [reader-link §7.2 bError FE]
      throw new CardGone('mute');
    }
    if (faultAt('remove-during', n) !== undefined || cut === 'during') {
      if (cut !== 'during') events.push({ type: 'fault', kind: 'remove-during', at: n });
      throw new CardGone('during');
    }
    if (faultAt('remove-after', n) !== undefined || cut === 'after') {
      if (cut !== 'after') events.push({ type: 'fault', kind: 'remove-after', at: n });
      after.remove = true;
    }
    events.push({ type: 'apdu', slot: slotIdx, index: n, protocol: s.protocol, command: apdu, response: r });
    return r;
  };

  const xfrBlock = (slotIdx: number, seq: number, data: Uint8Array, events: ReaderEvent[], before: ReaderWrite[], after: { remove: boolean }): Uint8Array => {
    const s = slots[slotIdx] as Slot;
    if (s.card === undefined || !s.powered) return failed(CCID.XfrBlock, slotIdx, seq, CCID_ERR.ICC_MUTE);
    // PPS request right after the ATR: a successful answer echoes it [7816-3 §9.3; reader-link §2.5]
    if (s.ppsAllowed && data[0] === 0xff && data.length >= 3 && data.length <= 6 && data.reduce((a, b) => a ^ b, 0) === 0) {
      s.ppsAllowed = false;
      return message(CCID.DataBlock, slotIdx, seq, 0, 0, 0, data.slice());
    }
    s.ppsAllowed = false;
    const transmit = cardTransmit(slotIdx, events, after);
    const wtx = faultAt('wtx', apdus + 1) !== undefined;
    const countBefore = apdus;
    try {
      if (s.protocol === 1) {
        const r = s.t1.step(data, transmit, wtx);
        if (wtx && r.apdu !== undefined) events.push({ type: 'fault', kind: 'wtx', at: apdus });
        return message(CCID.DataBlock, slotIdx, seq, 0, 0, 0, r.block);
      }
      const ex = s.t0.exchange(transmit, data);
      if (ex === undefined) return failed(CCID.XfrBlock, slotIdx, seq, CCID_ERR.BAD_LENGTH);
      if (wtx && apdus > countBefore) {
        // T=0 on the serial link: the card's NULL bytes show up as a time-request byte [reader-link §8.2]
        before.push({ bytes: Uint8Array.of(0x80), delayMs: 0 });
        events.push({ type: 'fault', kind: 'wtx', at: apdus });
      }
      return message(CCID.DataBlock, slotIdx, seq, 0, 0, 0, ex.response);
    } catch (e) {
      if (!(e instanceof CardGone)) throw e;
      if (e.when === 'mute') {
        s.powered = false;
        return message(CCID.DataBlock, slotIdx, seq, 0x40 | 1, CCID_ERR.ICC_MUTE, 0);
      }
      detach(slotIdx, events);
      return message(CCID.DataBlock, slotIdx, seq, 0x40 | 2, CCID_ERR.ICC_MUTE, 0);
    }
  };

  const escape = (slot: number, seq: number, data: Uint8Array): Uint8Array => {
    const ok = (out: Uint8Array = new Uint8Array(0)): Uint8Array => message(CCID.EscapeResponse, slot, seq, iccStatus(slot), 0, 0, out);
    // [reader-link §8.4 step 1] firmware string
    if (data.length === 1 && data[0] === model.firmwareEscape) return ok(new TextEncoder().encode(model.firmware));
    if (data.length === 3 && data[0] === 0x01) {
      // [reader-link §8.4 step 2] card-movement notification mode: 01 01 01 synchronous, 01 01 00 asynchronous
      if (data[1] === 0x01 && (data[2] === 0x01 || data[2] === 0x00)) {
        syncNotify = data[2] === 0x01;
        return ok();
      }
      // [reader-link §8.1] GemCore SIM Pro 2: switch the line to 115200 (no-op on a pty)
      if (data[1] === 0x10 && data[2] === 0x20) return ok();
    }
    // GET_FIRMWARE_FEATURES (6A) and anything else: not supported [reader-link §8.4 step 3]
    return failed(CCID.Escape, slot, seq, CCID_ERR.CMD_NOT_SUPPORTED);
  };

  const firstProtocol = (atr: Uint8Array): 0 | 1 => {
    const t0 = atr[1] ?? 0;
    if ((t0 & 0x80) === 0) return 0; // no TD1: T=0 only [7816-3 §8.2.3]
    let i = 2;
    if (t0 & 0x10) i++;
    if (t0 & 0x20) i++;
    if (t0 & 0x40) i++;
    return ((atr[i] ?? 0) & 0x0f) === 1 ? 1 : 0;
  };

  const command = (msg: Uint8Array, events: ReaderEvent[], before: ReaderWrite[], after: { remove: boolean }): Uint8Array => {
    const type = msg[0] as number;
    const slotIdx = msg[5] as number;
    const seq = msg[6] as number;
    const data = msg.subarray(CCID_HEADER);
    if (slotIdx >= model.slots) return message(responseType(type), slotIdx, seq, 0x40 | 2, CCID_ERR.BAD_SLOT, 0);
    const s = slots[slotIdx] as Slot;
    switch (type) {
      case CCID.GetSlotStatus:
        return message(CCID.SlotStatus, slotIdx, seq, iccStatus(slotIdx), 0, 0);
      case CCID.IccPowerOn: {
        if (s.card === undefined) return failed(type, slotIdx, seq, CCID_ERR.ICC_MUTE);
        const atr = s.card.reset();
        s.powered = true;
        s.protocol = firstProtocol(atr);
        s.params = s.protocol === 1 ? T1_DEFAULT_PARAMS : T0_DEFAULT_PARAMS;
        s.ppsAllowed = true;
        s.t0.reset();
        s.t1.reset();
        events.push({ type: 'power', slot: slotIdx, on: true, atr });
        return message(CCID.DataBlock, slotIdx, seq, 0, 0, 0, atr);
      }
      case CCID.IccPowerOff:
        if (s.powered) events.push({ type: 'power', slot: slotIdx, on: false });
        s.powered = false;
        return message(CCID.SlotStatus, slotIdx, seq, iccStatus(slotIdx), 0, 0);
      case CCID.SetParameters: {
        if (s.card === undefined) return failed(type, slotIdx, seq, CCID_ERR.ICC_MUTE);
        const proto = msg[7] as number;
        // [CCID-SPEC 6.1.7] T=0 structure is 5 bytes, T=1 is 7
        if ((proto !== 0 && proto !== 1) || data.length !== (proto === 0 ? 5 : 7)) return failed(type, slotIdx, seq, proto > 1 ? 0x07 : CCID_ERR.BAD_LENGTH);
        s.protocol = proto;
        s.params = data.slice();
        return message(CCID.Parameters, slotIdx, seq, iccStatus(slotIdx), 0, proto, s.params);
      }
      case CCID.GetParameters:
        return message(CCID.Parameters, slotIdx, seq, iccStatus(slotIdx), 0, s.protocol, s.params);
      case CCID.ResetParameters:
        s.protocol = 0;
        s.params = T0_DEFAULT_PARAMS;
        return message(CCID.Parameters, slotIdx, seq, iccStatus(slotIdx), 0, 0, s.params);
      case CCID.Escape:
        return escape(slotIdx, seq, data);
      case CCID.XfrBlock:
        return xfrBlock(slotIdx, seq, data, events, before, after);
      case CCID.Abort:
        return message(CCID.SlotStatus, slotIdx, seq, iccStatus(slotIdx), 0, 0);
      default:
        return failed(type, slotIdx, seq, CCID_ERR.CMD_NOT_SUPPORTED);
    }
  };

  const onFrame = (raw: Uint8Array, msg: Uint8Array, writes: ReaderWrite[], events: ReaderEvent[]): boolean => {
    const n = ++commands;
    events.push({ type: 'command', index: n, messageType: msg[0] as number, slot: msg[5] as number });
    const fault = (kind: Fault['kind']): Fault | undefined => {
      const f = faultAt(kind, n);
      if (f !== undefined) events.push({ type: 'fault', kind, at: n });
      return f;
    };
    // [reader-link §8.2] the reader refuses the frame; the driver replays the whole command
    if (fault('nak') !== undefined) {
      writes.push({ bytes: NAK_FRAME, delayMs: 0 });
      return false;
    }
    if (model.echo) writes.push({ bytes: raw, delayMs: 0 }); // [reader-link §8.3] echo first
    if (fault('unplug') !== undefined) return true;
    if (noticePending) {
      // [reader-link §8.4 step 2] synchronous mode: notice after the echo, before the answer
      const b = notice();
      writes.push({ bytes: b, delayMs: 0 });
      events.push({ type: 'notify', bytes: b });
    }
    const before: ReaderWrite[] = [];
    const after = { remove: false };
    const answer = command(msg, events, before, after);
    if (fault('timereq') !== undefined) before.unshift({ bytes: Uint8Array.of(0x80), delayMs: 0 });
    if (fault('timeext') !== undefined) {
      // [CCID-SPEC 6.2.6; reader-link §5] bmCommandStatus = 80, bError = multiplier 1
      const ext = answer.slice(0, CCID_HEADER);
      new DataView(ext.buffer).setUint32(1, 0, true);
      ext[7] = 0x80 | ((answer[7] as number) & 0x03);
      ext[8] = 0x01;
      ext[9] = 0;
      before.push({ bytes: encodeAckFrame(ext), delayMs: 0 });
    }
    writes.push(...before);
    const frame = encodeAckFrame(answer);
    const delay = fault('delay');
    if (fault('lrc') !== undefined) frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 0x5a;
    if (fault('drop') === undefined) writes.push({ bytes: frame, delayMs: delay?.ms ?? 0 });
    const slotIdx = msg[5] as number;
    if (after.remove && slotIdx < model.slots) {
      detach(slotIdx, events);
      movement(writes, events);
    } else if (slots.some((s) => s.changed) && !noticePending) {
      movement(writes, events); // a removal during the APDU
    }
    return false;
  };

  const emptyStep = (): { writes: ReaderWrite[]; events: ReaderEvent[] } => ({ writes: [], events: [] });

  return {
    model,
    receive(bytes: Uint8Array): ReaderStep {
      const { writes, events } = emptyStep();
      if (unplugged) return { writes, events, unplug: true };
      const merged = new Uint8Array(rx.length + bytes.length);
      merged.set(rx);
      merged.set(bytes, rx.length);
      rx = merged;
      for (;;) {
        const st = decodeHostFrame(rx);
        if (st.kind === 'need-more') break;
        rx = rx.slice(st.consumed);
        if (st.kind === 'garbage') {
          events.push({ type: 'link', problem: 'garbage' });
          continue;
        }
        if (st.kind === 'bad-frame') {
          // [reader-link §8.2] a corrupted command is answered with NAK
          events.push({ type: 'link', problem: st.reason === 'lrc' ? 'bad-lrc' : 'bad-size' });
          writes.push({ bytes: NAK_FRAME, delayMs: 0 });
          if (st.reason === 'size') rx = new Uint8Array(0);
          continue;
        }
        if (onFrame(st.raw, st.message, writes, events)) {
          unplugged = true;
          rx = new Uint8Array(0);
          return { writes, events, unplug: true };
        }
      }
      return { writes, events, unplug: false };
    },
    insert(slot: number, card: ReaderCard): ReaderStep {
      checkSlot(slot);
      const { writes, events } = emptyStep();
      detach(slot, events);
      attach(slot, card, events);
      if (!unplugged) movement(writes, events);
      return { writes, events, unplug: unplugged };
    },
    remove(slot: number): ReaderStep {
      checkSlot(slot);
      const { writes, events } = emptyStep();
      if ((slots[slot] as Slot).card !== undefined) {
        detach(slot, events);
        if (!unplugged) movement(writes, events);
      }
      return { writes, events, unplug: unplugged };
    },
    swap(slot: number, card: ReaderCard): ReaderStep {
      checkSlot(slot);
      const { writes, events } = emptyStep();
      detach(slot, events);
      attach(slot, card, events);
      if (!unplugged) movement(writes, events);
      return { writes, events, unplug: unplugged };
    },
    cut(slot: number, ins: number, when: CutPoint): void {
      checkSlot(slot);
      if (!Number.isInteger(ins) || ins < 0 || ins > 0xff) throw new SimulatorError('SIM_ERR_READER_CUT', `INS ${String(ins)} is not a byte`, { field: 'ins' });
      if (!CUT_POINTS.includes(when)) throw new SimulatorError('SIM_ERR_READER_CUT', `unknown cut point ${String(when)}`, { field: 'when' });
      armedCuts = [...armedCuts.filter((c) => c.slot !== slot), { slot, ins, when }];
    },
    cuts: () => armedCuts.slice(),
    status(): ReaderStatus {
      return {
        model: model.name,
        slots: slots.map((s) => ({ present: s.card !== undefined, powered: s.powered, protocol: s.protocol })),
        syncNotifications: syncNotify,
        commands,
        apdus,
        unplugged,
      };
    },
  };
}
