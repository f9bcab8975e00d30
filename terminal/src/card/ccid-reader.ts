/**
 * The CCID reader driver: one physical reader (serial GemPC family or a HID-link reader) over a
 * transport. Opening runs the driver's open-time sequence (reader-link.md §8.4: firmware probe
 * under 2 s, synchronous card-movement notices except on SEC1210, the optional 21-byte
 * GET_FIRMWARE_FEATURES on Gemalto models); afterwards it offers the slot-level CCID commands the
 * card sessions need: GetSlotStatus, IccPowerOn/Off, SetParameters and XfrBlock (TPDU level).
 */
import { GEMPC_DESCRIPTORS, GEMPC_ESCAPE, CCID_TIMEOUTS_MS, FIRMWARE_FEATURES_LENGTH, TERMINAL_READER_MODELS, openProbeCommands, type TerminalReaderModel, type CcidResponse, type IccStatus, type ProtocolParameters, type SerialReaderDescriptor } from '@onecard/protocol/ccid';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import type { ReaderTransport } from '../link/transport.ts';
import { createCcidLink, type CcidLink, type UnsequencedCommand } from './ccid-link.ts';
import type { Clock } from './clock.ts';

/** Reader models the terminal drives, as named in the configuration: the one table in `@onecard/protocol/ccid`. */
export const READER_MODELS = TERMINAL_READER_MODELS;
export type ReaderModel = TerminalReaderModel;

/** Host-side timeouts in ms; defaults from reader-link.md §5. Tests shorten them. */
export interface ReaderTimeouts {
  /** General commands and presence polls (3 s). */
  readonly default: number;
  /** Power-up / ATR (60 s). */
  readonly powerUp: number;
  /** Serial firmware probe (2 s). */
  readonly firmwareProbe: number;
  /** Upper bound of any card-exchange wait derived from the ATR (default: none, i.e. the ATR value). */
  readonly cardMax?: number;
}

export const DEFAULT_TIMEOUTS: ReaderTimeouts = Object.freeze({
  default: CCID_TIMEOUTS_MS.default,
  powerUp: CCID_TIMEOUTS_MS.powerUp,
  firmwareProbe: CCID_TIMEOUTS_MS.firmwareProbe,
});

/** Options of {@link openCcidReader}. */
export interface CcidReaderOptions {
  readonly transport: ReaderTransport;
  readonly link: 'serial' | 'hid';
  /** Default `gempc-twin`. */
  readonly model?: ReaderModel;
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
  readonly timeouts?: Partial<ReaderTimeouts>;
}

/** An open CCID reader. */
export interface CcidReader {
  readonly model: ReaderModel;
  readonly descriptor: SerialReaderDescriptor;
  /** Firmware string from the open-time probe. */
  readonly firmware: string;
  readonly timeouts: ReaderTimeouts;
  /** Number of slots. */
  readonly slots: number;
  /** @throws TerminalError link codes. */
  slotStatus(slot: number): Promise<IccStatus>;
  /**
   * Powers the card up and returns its ATR.
   * @throws TerminalError `TERM_ERR_NO_CARD`, `TERM_ERR_CARD_MUTE`, link codes.
   */
  powerOn(slot: number): Promise<Uint8Array>;
  powerOff(slot: number): Promise<void>;
  /** @throws TerminalError `TERM_ERR_READER_FAILED`, `TERM_ERR_NO_CARD`, link codes. */
  setParameters(slot: number, parameters: ProtocolParameters): Promise<void>;
  /**
   * One XfrBlock; resolves with the DataBlock response whatever its status (the caller maps
   * failures: removal, mute card). Time extensions are handled below.
   * @throws TerminalError link codes.
   */
  xfrBlock(slot: number, data: Uint8Array, opts: { readonly timeoutMs: number; readonly bBWI?: number }): Promise<Extract<CcidResponse, { type: 'RDR_to_PC_DataBlock' }>>;
  /** Card-movement notices (bmSlotICCState bits). */
  onNotice(listener: (bits: number) => void): () => void;
  /** Transport loss. */
  onClose(listener: (error: TerminalError | null) => void): () => void;
  close(): Promise<void>;
}

function expectType<T extends CcidResponse['type']>(r: CcidResponse, type: T): Extract<CcidResponse, { type: T }> {
  if (r.type !== type) throw new TerminalError('TERM_ERR_LINK_FRAME', `expected ${type}, got ${r.type}`, { type: r.type });
  return r as Extract<CcidResponse, { type: T }>;
}

class Reader implements CcidReader {
  readonly model: ReaderModel;
  readonly descriptor: SerialReaderDescriptor;
  readonly timeouts: ReaderTimeouts;
  readonly slots: number;
  firmware = '';
  readonly #t: ReaderTransport;
  readonly #link: CcidLink;
  readonly #log: Logger | undefined;

  constructor(o: CcidReaderOptions) {
    this.model = o.model ?? 'gempc-twin';
    this.descriptor = GEMPC_DESCRIPTORS[READER_MODELS[this.model]];
    this.slots = this.descriptor.bMaxSlotIndex + 1;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeouts };
    this.#t = o.transport;
    this.#log = o.logger;
    this.#link = createCcidLink({
      transport: o.transport,
      // [CCID serial §8.5] GemPC Twin echoes, the two-slot models do not; the HID link never does.
      framing: o.link === 'serial' ? { type: 'serial', echo: this.descriptor.echo } : { type: 'hid' },
      clock: o.clock,
      logger: o.logger,
    });
  }

  async init(): Promise<void> {
    const [fw, notify] = openProbeCommands(READER_MODELS[this.model]);
    // [CCID serial §8.4 step 1] firmware string under 2 s; failure = reader not connected.
    try {
      const r = expectType(await this.#transact(fw!, this.timeouts.firmwareProbe, true), 'RDR_to_PC_Escape');
      if (r.bStatus.commandStatus !== 'ok') throw new TerminalError('TERM_ERR_READER_PROBE', `firmware escape failed (bError ${r.bError})`);
      this.firmware = new TextDecoder('latin1').decode(r.abData).replace(/\0+$/, '');
    } catch (e) {
      throw new TerminalError('TERM_ERR_READER_PROBE', `${this.#t.path}: ${(e as Error).message}`, { path: this.#t.path }, { cause: e });
    }
    // [CCID serial §8.4 step 2] synchronous card-movement notices (not on SEC1210); failure closes the port.
    if (notify !== undefined) {
      const r = expectType(await this.#transact(notify, this.timeouts.default, true), 'RDR_to_PC_Escape');
      if (r.bStatus.commandStatus !== 'ok') throw new TerminalError('TERM_ERR_READER_PROBE', `notification mode refused (bError ${r.bError})`, { path: this.#t.path });
    }
    // [CCID serial §8.4 step 3] GET_FIRMWARE_FEATURES on Gemalto models: only an exact 21-byte reply counts.
    if (this.model !== 'sec1210') {
      try {
        const r = await this.#transact({ type: 'PC_to_RDR_Escape', bSlot: 0, abData: GEMPC_ESCAPE.GET_FIRMWARE_FEATURES.slice() }, this.timeouts.default, true);
        const ok = r.type === 'RDR_to_PC_Escape' && r.bStatus.commandStatus === 'ok' && r.abData.length === FIRMWARE_FEATURES_LENGTH;
        this.#log?.debug({ features: ok }, 'firmware features probe');
      } catch (e) {
        if (e instanceof TerminalError && (e.code === 'TERM_ERR_LINK_CLOSED' || e.code === 'TERM_ERR_LINK_IO')) throw e;
        this.#log?.debug({ err: e }, 'firmware features probe ignored');
      }
    }
  }

  #transact(cmd: UnsequencedCommand, timeoutMs: number, replayable: boolean): Promise<CcidResponse> {
    return this.#link.transact(cmd, { timeoutMs, replayable });
  }

  #slot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `slot ${slot} (reader has ${this.slots})`, { slot });
  }

  async slotStatus(slot: number): Promise<IccStatus> {
    this.#slot(slot);
    const r = await this.#transact({ type: 'PC_to_RDR_GetSlotStatus', bSlot: slot }, this.timeouts.default, true);
    return r.bStatus.iccStatus;
  }

  async powerOn(slot: number): Promise<Uint8Array> {
    this.#slot(slot);
    // Power-up is replayable: a second reset gives the same card a fresh ATR.
    const r = expectType(await this.#transact({ type: 'PC_to_RDR_IccPowerOn', bSlot: slot, bPowerSelect: 0 }, this.timeouts.powerUp, true), 'RDR_to_PC_DataBlock');
    if (r.bStatus.iccStatus === 'absent') throw new TerminalError('TERM_ERR_NO_CARD', `slot ${slot}`, { slot });
    if (r.bStatus.commandStatus !== 'ok' || r.abData.length < 2) throw new TerminalError('TERM_ERR_CARD_MUTE', `slot ${slot} (bError ${r.bError})`, { slot, bError: r.bError });
    return r.abData;
  }

  async powerOff(slot: number): Promise<void> {
    this.#slot(slot);
    await this.#transact({ type: 'PC_to_RDR_IccPowerOff', bSlot: slot }, this.timeouts.default, true);
  }

  async setParameters(slot: number, parameters: ProtocolParameters): Promise<void> {
    this.#slot(slot);
    const r = await this.#transact({ type: 'PC_to_RDR_SetParameters', bSlot: slot, parameters }, this.timeouts.default, true);
    if (r.bStatus.iccStatus === 'absent') throw new TerminalError('TERM_ERR_NO_CARD', `slot ${slot}`, { slot });
    if (r.bStatus.commandStatus !== 'ok') throw new TerminalError('TERM_ERR_READER_FAILED', `SetParameters (bError ${r.bError})`, { slot, bError: r.bError });
  }

  async xfrBlock(slot: number, data: Uint8Array, opts: { readonly timeoutMs: number; readonly bBWI?: number }) {
    this.#slot(slot);
    const r = await this.#transact({ type: 'PC_to_RDR_XfrBlock', bSlot: slot, bBWI: opts.bBWI ?? 0, wLevelParameter: 0, abData: data }, opts.timeoutMs, false);
    return expectType(r, 'RDR_to_PC_DataBlock');
  }

  onNotice(listener: (bits: number) => void): () => void {
    return this.#link.onNotice(listener);
  }

  onClose(listener: (error: TerminalError | null) => void): () => void {
    return this.#t.onClose(listener);
  }

  async close(): Promise<void> {
    await this.#t.close();
  }
}

/**
 * Opens the transport (when not open yet) and runs the open-time sequence of the model.
 * On failure the transport is closed again.
 * @throws TerminalError `TERM_ERR_LINK_OPEN`, `TERM_ERR_LINK_BUSY`, `TERM_ERR_READER_PROBE`, link codes.
 */
export async function openCcidReader(opts: CcidReaderOptions): Promise<CcidReader> {
  const reader = new Reader(opts);
  if (!opts.transport.isOpen) await opts.transport.open();
  try {
    await reader.init();
  } catch (e) {
    await opts.transport.close();
    throw e;
  }
  return reader;
}
