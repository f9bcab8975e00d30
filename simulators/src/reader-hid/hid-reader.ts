/**
 * The simulated reader behind the OneCard HID link (docs/hid-link.md), exposed as an object with
 * node-hid's `HIDAsync` device interface (`write(report)`, `on('data')`, `on('error')`,
 * `close()`), so the terminal's HID driver can be tested without `/dev/uhid`. It wraps the same
 * sans-I/O reader core as the serial simulator: each reassembled host message is framed for the
 * core, and the core's line output is turned back into messages — responses as they are,
 * card-movement notices as CCID `RDR_to_PC_NotifySlotChange` messages (`50 bmSlotICCState`).
 *
 * What the serial-only parts of the fault plan become on HID [ONECARD]: the echo and T=0 time
 * requests do not exist on this link and are dropped; a NAK (the reader refused the frame) is
 * no answer at all, like `drop`; `lrc` corrupts the padding of the answer's last report, which
 * the host's reassembler rejects; `unplug` raises node-hid's read error and fails later writes.
 */
import { EventEmitter } from 'node:events';
import { createHidReassembler, createSerialDecoder, encodeHidReports, encodeSerialFrame, type HidLinkOptions } from '@onecard/protocol/ccid';
import { SimulatorError } from '../errors.ts';
import { createReaderCore, type ReaderCore, type ReaderCoreOptions, type ReaderEvent, type ReaderStatus, type ReaderStep } from '../reader/core.ts';
import type { ReaderCard } from '../reader/card-port.ts';

/** Options of {@link createHidReader}. */
export interface HidReaderOptions extends ReaderCoreOptions, HidLinkOptions {
  /** Device path reported by {@link SimulatedHidReader.path} (e.g. `sim:hidraw0`). */
  readonly path?: string;
  readonly onEvent?: (e: ReaderEvent | { readonly type: 'closed' } | { readonly type: 'link'; readonly problem: 'bad-report'; readonly code: string }) => void;
}

/** The node-hid-like device object of one open. */
export interface SimulatedHidDevice extends EventEmitter {
  /** Writes one output report. Rejects when the device is closed or unplugged. */
  write(values: number[] | Buffer | Uint8Array): Promise<number>;
  close(): Promise<void>;
  pause(): void;
  resume(): void;
}

/** A simulated HID reader: open it as many times as node-hid would (one open device at a time). */
export interface SimulatedHidReader {
  readonly path: string;
  readonly core: ReaderCore;
  /** Opens the device (what `HIDAsync.open(path)` returns). @throws SimulatorError `SIM_ERR_READER_HID` when unplugged or already open. */
  open(): Promise<SimulatedHidDevice>;
  insert(slot: number, card: ReaderCard): void;
  remove(slot: number): void;
  swap(slot: number, card: ReaderCard): void;
  status(): ReaderStatus;
  /** Pulls the reader out: the open device errors, opening fails until {@link replug}. */
  unplug(): void;
  /** Plugs a fresh reader (new core, same cards and options, no faults) back in. */
  replug(): void;
  readonly unplugged: boolean;
}

const toBytes = (v: number[] | Buffer | Uint8Array): Uint8Array => (v instanceof Uint8Array ? v.slice() : Uint8Array.from(v));

class Device extends EventEmitter implements SimulatedHidDevice {
  readonly #owner: Sim;
  #closed = false;

  constructor(owner: Sim) {
    super();
    this.#owner = owner;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async write(values: number[] | Buffer | Uint8Array): Promise<number> {
    if (this.#closed || this.#owner.unplugged) throw new SimulatorError('SIM_ERR_READER_HID', 'could not write to HID device', { path: this.#owner.path });
    const report = toBytes(values);
    this.#owner.fromHost(report);
    return report.length;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.detach(this);
  }

  pause(): void {}
  resume(): void {}

  input(report: Uint8Array): void {
    if (!this.#closed) this.emit('data', Buffer.from(report));
  }

  fail(): void {
    if (this.#closed) return;
    this.emit('error', new Error('could not read from HID device'));
  }
}

class Sim implements SimulatedHidReader {
  readonly path: string;
  core: ReaderCore;
  unplugged = false;
  readonly #opts: HidReaderOptions;
  readonly #link: HidLinkOptions;
  #device: Device | undefined;
  #reassembler;
  #chain: Promise<void> = Promise.resolve();
  readonly #emit: NonNullable<HidReaderOptions['onEvent']>;
  /** Cards known per slot, so that a replugged reader still holds them. */
  readonly #cards: Array<ReaderCard | undefined>;

  constructor(opts: HidReaderOptions) {
    this.#opts = opts;
    this.path = opts.path ?? 'sim:hidraw0';
    this.#link = {
      ...(opts.reportId === undefined ? {} : { reportId: opts.reportId }),
      ...(opts.reportSize === undefined ? {} : { reportSize: opts.reportSize }),
    };
    this.core = createReaderCore(opts);
    this.#reassembler = createHidReassembler(this.#link);
    this.#emit = opts.onEvent ?? (() => undefined);
    this.#cards = [...(opts.slots ?? [])];
  }

  async open(): Promise<SimulatedHidDevice> {
    if (this.unplugged) throw new SimulatorError('SIM_ERR_READER_HID', `${this.path}: no such device`, { path: this.path });
    if (this.#device !== undefined) throw new SimulatorError('SIM_ERR_READER_HID', `${this.path}: already open`, { path: this.path });
    this.#reassembler.reset();
    const d = new Device(this);
    this.#device = d;
    return d;
  }

  detach(d: Device): void {
    if (this.#device === d) this.#device = undefined;
  }

  fromHost(report: Uint8Array): void {
    for (const ev of this.#reassembler.push(report)) {
      if (ev.type === 'error') {
        this.#emit({ type: 'link', problem: 'bad-report', code: ev.code });
        continue;
      }
      // The core speaks the serial line; frame the message for it.
      this.#apply(this.core.receive(encodeSerialFrame(ev.message)));
    }
  }

  /** Turns the core's line output into HID input reports, honouring each write's delay. */
  #apply(step: ReaderStep): void {
    for (const e of step.events) this.#emit(e);
    for (const w of step.writes) {
      const decoder = createSerialDecoder({ side: 'host', echo: false, lrc: 'compatible' });
      const reports: Uint8Array[] = [];
      for (const ev of decoder.push(w.bytes)) {
        if (ev.type === 'frame') {
          // The echo of a host command (bMessageType 6x) does not exist on this link.
          if (ev.message[0]! < 0x80) continue;
          const rs = encodeHidReports(ev.message, this.#link);
          if (!ev.lrcOk) {
            // [HID link §3] a corrupted report: non-zero padding (or a bad length if no padding).
            const last = rs[rs.length - 1]!;
            const fill = 4 + last[3]!;
            if (fill < last.length) last[last.length - 1] = 0xa5;
            else last[3] = 0;
          }
          reports.push(...rs);
        } else if (ev.type === 'slot-change') {
          reports.push(...encodeHidReports(Uint8Array.of(0x50, ev.bits), this.#link));
        }
        // nak, time-request, garbage: nothing on the HID link
      }
      const dev = this.#device;
      this.#chain = this.#chain.then(async () => {
        if (w.delayMs > 0) await new Promise((r) => setTimeout(r, w.delayMs));
        else await new Promise((r) => setImmediate(r));
        if (dev === undefined || this.#device !== dev || this.unplugged) return;
        for (const r of reports) dev.input(r);
      });
    }
    if (step.unplug) this.#chain = this.#chain.then(() => this.unplug());
  }

  // Without an open device a notice has nowhere to go; the next GetSlotStatus tells the host.
  insert(slot: number, card: ReaderCard): void {
    this.#apply(this.core.insert(slot, card));
    this.#cards[slot] = card;
  }

  remove(slot: number): void {
    this.#apply(this.core.remove(slot));
    this.#cards[slot] = undefined;
  }

  swap(slot: number, card: ReaderCard): void {
    this.#apply(this.core.swap(slot, card));
    this.#cards[slot] = card;
  }

  status(): ReaderStatus {
    return this.core.status();
  }

  unplug(): void {
    if (this.unplugged) return;
    this.unplugged = true;
    const d = this.#device;
    this.#device = undefined;
    d?.fail();
    this.#emit({ type: 'closed' });
  }

  replug(): void {
    if (!this.unplugged) return;
    const st = this.core.status();
    this.core = createReaderCore({ ...this.#opts, faults: [], slots: [] });
    // Cards stay where they were: re-insert them without notices (nobody is listening yet).
    this.#cards.forEach((c, i) => {
      if (c !== undefined && st.slots[i]?.present === true) this.core.insert(i, c);
    });
    this.unplugged = false;
  }

}

/**
 * Creates a simulated HID reader (closed; {@link SimulatedHidReader.open} it like node-hid would).
 * @throws SimulatorError `SIM_ERR_READER_MODEL`, `SIM_ERR_READER_SLOT` from the core.
 */
export function createHidReader(opts: HidReaderOptions): SimulatedHidReader {
  return new Sim(opts);
}
