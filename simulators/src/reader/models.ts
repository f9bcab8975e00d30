/**
 * Profiles of the serial readers of the GemPC family that the simulator can impersonate, with
 * what the serial driver expects from each at open time (reader-link.md §8.4, §8.5).
 */
import { TERMINAL_READER_MODELS, TERMINAL_READER_MODEL_KEYS, type TerminalReaderModel } from '@onecard/protocol/ccid';
import { SimulatorError } from '../errors.ts';

/** The models a terminal drives: the one table in `@onecard/protocol/ccid`. */
export const READER_MODELS = TERMINAL_READER_MODEL_KEYS;
export type ReaderModelName = TerminalReaderModel;

export interface ReaderModelProfile {
  readonly name: ReaderModelName;
  /** Number of card slots (slot 1, when present, holds the PSAM). */
  readonly slots: number;
  /** The reader echoes each host frame before answering [reader-link §8.3]. */
  readonly echo: boolean;
  /** Escape byte that reads the firmware string [reader-link §8.4 step 1]. */
  readonly firmwareEscape: number;
  readonly firmware: string;
  /** Reader name the driver configuration uses after `DEVICENAME <tty>:` [reader-link §8]. */
  readonly driverName: string;
}

const PROFILES: Record<ReaderModelName, ReaderModelProfile> = {
  'gempc-twin': { name: 'gempc-twin', slots: 1, echo: true, firmwareEscape: 0x02, firmware: 'GemTwin V1.00 OneCard-sim', driverName: TERMINAL_READER_MODELS['gempc-twin'] },
  'gemcore-sim-pro2': { name: 'gemcore-sim-pro2', slots: 2, echo: false, firmwareEscape: 0x02, firmware: 'GemCoreSIMPro2 V1.00 OneCard-sim', driverName: TERMINAL_READER_MODELS['gemcore-sim-pro2'] },
  sec1210: { name: 'sec1210', slots: 2, echo: false, firmwareEscape: 0x06, firmware: 'SEC1210 V1.00 OneCard-sim', driverName: TERMINAL_READER_MODELS.sec1210 },
};

/**
 * The profile of a model.
 * @throws SimulatorError SIM_ERR_READER_MODEL for an unknown name.
 */
export function readerModel(name: string): ReaderModelProfile {
  const p = (PROFILES as Record<string, ReaderModelProfile | undefined>)[name];
  if (p === undefined) throw new SimulatorError('SIM_ERR_READER_MODEL', `${name} (known: ${READER_MODELS.join(', ')})`, { model: name });
  return p;
}
