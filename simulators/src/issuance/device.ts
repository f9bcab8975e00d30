/**
 * The simulated card-issuing device [issuance §9]: a dispenser with a stock hopper, the contact
 * IC station (card and SAM contacts), the print station, the bezel and the retain bin, speaking
 * the device link of `@onecard/protocol/issuance` (commands C10, C22n, CI00, CI3, CI@0, CII,
 * CP0, CE0, CR0; P/N replies with the Evolis error codes). Faults can be injected: a jam (the next
 * move or eject fails with `0016`), a card stuck in the transport (moves and eject fail until the
 * card is retained) and an empty stock (`0009`). {@link IssuingDeviceCore} is sans-I/O;
 * {@link openSerialIssuingDevice} puts it on a pseudo-terminal.
 */
import {
  DeviceDeframer,
  type DeviceCommand,
  type DeviceErrorCode,
  type DevicePosition,
  type DeviceReply,
  type StockState,
  decodeDeviceCommand,
  deviceCommandCode,
  encodeDeviceReply,
  frameDeviceText,
} from '@onecard/protocol/issuance';
import { isProtocolError } from '@onecard/protocol/errors';
import type { SimulatedCard } from '../card/types.ts';
import { SimulatorError } from '../errors.ts';
import { openPtyLine, type PtyLine } from '../pty/line.ts';

/** Injectable faults. */
export type DeviceFault = 'jam' | 'stuck' | 'empty';

/** A card that left the device, and how. */
export interface CardOut<C> {
  readonly card: C;
  /** Text printed on its face (empty when never printed). */
  readonly face: string;
}

/** A snapshot of the mechanics for tests and operators. */
export interface DeviceSnapshot {
  readonly position: DevicePosition;
  readonly stock: number;
  readonly retained: number;
  readonly delivered: number;
  readonly icPowered: boolean;
}

/** The device's logic: one command in, one reply out. The card type `C` is any simulated card. */
export class IssuingDeviceCore<C extends SimulatedCard = SimulatedCard> {
  readonly #stock: C[];
  readonly #sam: SimulatedCard | undefined;
  readonly #retained: CardOut<C>[] = [];
  readonly #delivered: CardOut<C>[] = [];
  readonly #deframer = new DeviceDeframer();
  #card: C | undefined;
  #face = '';
  #position: DevicePosition = 'none';
  #icPowered = false;
  #jam = false;
  #stuck = false;
  #emptyForced = false;
  #garbage = 0;

  constructor(opts: { readonly stock: readonly C[]; readonly sam?: SimulatedCard }) {
    this.#stock = [...opts.stock];
    this.#sam = opts.sam;
    this.#sam?.reset();
  }

  /** Arms a fault: `jam` is one-shot, `stuck` lasts until the card is retained, `empty` until {@link clearFaults}. */
  injectFault(fault: DeviceFault): void {
    if (fault === 'jam') this.#jam = true;
    else if (fault === 'stuck') this.#stuck = true;
    else this.#emptyForced = true;
  }

  clearFaults(): void {
    this.#jam = false;
    this.#stuck = false;
    this.#emptyForced = false;
  }

  /** Adds blank cards to the hopper. */
  load(cards: readonly C[]): void {
    this.#stock.push(...cards);
  }

  /** The card inside the transport, if any (at a station or the bezel). */
  get card(): C | undefined {
    return this.#card;
  }

  /** Cards in the retain bin, in order. */
  get retained(): readonly CardOut<C>[] {
    return this.#retained;
  }

  /** Cards the holder took from the bezel, in order. */
  get delivered(): readonly CardOut<C>[] {
    return this.#delivered;
  }

  /** Frames that were garbage (answered with nothing). */
  get garbageFrames(): number {
    return this.#garbage;
  }

  snapshot(): DeviceSnapshot {
    return { position: this.#position, stock: this.#stock.length, retained: this.#retained.length, delivered: this.#delivered.length, icPowered: this.#icPowered };
  }

  /** The holder takes the card waiting at the bezel. Returns it, or undefined when none waits. */
  takeCard(): C | undefined {
    if (this.#position !== 'bezel' || this.#card === undefined) return undefined;
    const c = this.#card;
    this.#delivered.push({ card: c, face: this.#face });
    this.#clearTransport();
    return c;
  }

  /** Mains power lost and back: the mechanics keep the card where it is, the IC is unpowered. */
  powerCycle(): void {
    this.#icPowered = false;
    this.#sam?.reset();
  }

  /** Bytes from the line → framed reply bytes to send back (garbage frames get no reply). */
  receive(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let texts: Uint8Array[] = [];
    for (let chunk = bytes; ; chunk = new Uint8Array(0)) {
      try {
        texts = this.#deframer.push(chunk);
      } catch (err) {
        if (!isProtocolError(err)) throw err;
        this.#garbage++;
        continue;
      }
      break;
    }
    for (const t of texts) {
      let cmd: DeviceCommand;
      try {
        cmd = decodeDeviceCommand(t);
      } catch (err) {
        if (!isProtocolError(err)) throw err;
        const code = t.length >= 3 ? String.fromCharCode(t[0]!, t[1]!, t[2]!) : 'C??';
        out.push(frameDeviceText(encodeDeviceReply({ ok: false, command: /^C[ -~]{2}$/.test(code) ? code : 'C??', error: '0005' })));
        continue;
      }
      out.push(frameDeviceText(encodeDeviceReply(this.handle(cmd))));
    }
    return out;
  }

  #stockState(): StockState {
    if (this.#emptyForced || this.#stock.length === 0) return 'empty';
    return this.#stock.length <= 2 ? 'low' : 'ok';
  }

  #clearTransport(): void {
    this.#card = undefined;
    this.#face = '';
    this.#position = 'none';
    this.#icPowered = false;
  }

  /** Executes one command. */
  handle(cmd: DeviceCommand): DeviceReply {
    const command = deviceCommandCode(cmd);
    const ok = (data: Uint8Array = new Uint8Array(0)): DeviceReply => ({ ok: true, command, position: this.#position, stock: this.#stockState(), data });
    const fail = (error: DeviceErrorCode): DeviceReply => ({ ok: false, command, error });
    const transportFault = (): DeviceErrorCode | undefined => {
      if (this.#stuck) return '0016';
      if (this.#jam) {
        this.#jam = false;
        return '0016';
      }
      return undefined;
    };
    switch (cmd.kind) {
      case 'status':
        return ok();
      case 'move': {
        if (this.#position === 'bezel') return fail('0015');
        if (this.#card === undefined) {
          if (this.#stockState() === 'empty') return fail('0009');
          const f = transportFault();
          if (f !== undefined) return fail(f);
          this.#card = this.#stock.shift()!;
          this.#face = '';
        } else {
          const f = transportFault();
          if (f !== undefined) return fail(f);
        }
        this.#position = cmd.to;
        this.#icPowered = false;
        return ok();
      }
      case 'icReset': {
        if (this.#card === undefined || this.#position !== 'contact') return fail('0017');
        try {
          const atr = this.#card.reset();
          this.#icPowered = true;
          return ok(atr);
        } catch {
          return fail('0019');
        }
      }
      case 'icApdu': {
        if (this.#card === undefined || this.#position !== 'contact') return fail('0017');
        if (!this.#icPowered) return fail('0019');
        try {
          return ok(this.#card.transmit(cmd.apdu));
        } catch {
          this.#icPowered = false;
          return fail('0020');
        }
      }
      case 'samReset':
        if (this.#sam === undefined) return fail('0019');
        return ok(this.#sam.reset());
      case 'samApdu':
        if (this.#sam === undefined) return fail('0019');
        try {
          return ok(this.#sam.transmit(cmd.apdu));
        } catch {
          return fail('0020');
        }
      case 'print':
        if (this.#card === undefined || this.#position !== 'print') return fail('0017');
        this.#face = this.#face === '' ? cmd.text : `${this.#face}\n${cmd.text}`;
        return ok();
      case 'eject': {
        if (this.#card === undefined || this.#position === 'bezel') return fail('0017');
        const f = transportFault();
        if (f !== undefined) return fail(f);
        this.#position = 'bezel';
        this.#icPowered = false;
        return ok();
      }
      case 'retain': {
        if (this.#card === undefined) return fail('0017');
        this.#retained.push({ card: this.#card, face: this.#face });
        this.#clearTransport();
        this.#stuck = false;
        return ok();
      }
    }
  }
}

/** The device on a pseudo-terminal. */
export interface SerialIssuingDevice<C extends SimulatedCard = SimulatedCard> {
  readonly ptsName: string;
  readonly path: string;
  readonly core: IssuingDeviceCore<C>;
  close(): Promise<void>;
  readonly closed: Promise<void>;
}

/**
 * Opens the device on a fresh pseudo-terminal (the terminal opens `path` as its serial port).
 * @throws SimulatorError `SIM_ERR_DEVICE_PTY`
 */
export function openSerialIssuingDevice<C extends SimulatedCard>(core: IssuingDeviceCore<C>, opts: { readonly path?: string } = {}): SerialIssuingDevice<C> {
  let line: PtyLine | undefined;
  try {
    line = openPtyLine({ ...(opts.path === undefined ? {} : { path: opts.path }), onData: (b) => { for (const w of core.receive(b)) line?.write(w); } });
  } catch (e) {
    throw new SimulatorError('SIM_ERR_DEVICE_PTY', opts.path ?? 'pty', opts.path === undefined ? {} : { path: opts.path }, { cause: e });
  }
  const l = line;
  return { ptsName: l.ptsName, path: l.path, core, close: () => l.close(), closed: l.closed };
}
