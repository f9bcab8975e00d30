/**
 * Facts about the serial GemPC family that both the terminal and the reader simulator need: line
 * settings (reader-link.md §8.1), the open-time Escape probes (§8.4), descriptor defaults and the
 * per-model differences (§8.5), and the timeouts the host uses (§5). Data only, plus the builders
 * of the probe commands.
 */
import { CCID_FEATURES } from './messages.ts';
import type { CcidCommand } from './messages.ts';

/** Line settings of the serial link. [CCID serial §8.1] */
export const GEMPC_LINE_SETTINGS = Object.freeze({
  baudRate: 115200,
  dataBits: 8,
  stopBits: 2,
  parity: 'none',
  /** RTS driven low right after opening so the reader does not send its plug-and-play string. */
  rts: false,
  /** GemCore SIM Pro 2 starts at this rate and is switched to 115200 by Escape `01 10 20`. */
  simPro2InitialBaudRate: 9600,
} as const);

/** Host timeouts in milliseconds. [CCID §5, CCID serial §8.4] */
export const CCID_TIMEOUTS_MS = Object.freeze({
  default: 3000,
  powerUp: 60000,
  pinpad: 90000,
  firmwareProbe: 2000,
  /** GemCore SIM Pro 2 GetSlotStatus probe at 9600 baud. */
  simPro2Probe: 1000,
} as const);

/** Escape data of the open-time probes. [CCID serial §8.4, §8.1] */
export const GEMPC_ESCAPE = Object.freeze({
  /** Step 1: read the firmware string (2 s). */
  FIRMWARE: Uint8Array.of(0x02),
  /** Step 1 on SEC1210 readers. */
  FIRMWARE_SEC1210: Uint8Array.of(0x06),
  /** Step 2: card-movement notification in synchronous mode (not on SEC1210). */
  NOTIFICATION_SYNCHRONOUS: Uint8Array.of(0x01, 0x01, 0x01),
  /** Step 3: GET_FIRMWARE_FEATURES (Gemalto readers), reply accepted only when exactly 21 bytes. */
  GET_FIRMWARE_FEATURES: Uint8Array.of(0x6a),
  /** GemCore SIM Pro 2: switch the reader to 115200 baud. */
  SIM_PRO2_115200: Uint8Array.of(0x01, 0x10, 0x20),
} as const);

/** Length of the GET_FIRMWARE_FEATURES reply. [CCID serial §8.4] */
export const FIRMWARE_FEATURES_LENGTH = 21;

export type GemPcModel = 'GemPCTwin' | 'GemPCPinPad' | 'GemCorePOSPro' | 'GemCoreSIMPro' | 'GemCoreSIMPro2' | 'SEC1210';

/** The descriptor a serial GemPC reader is assumed to have (there is no USB descriptor to read). [CCID serial §8.5] */
export interface SerialReaderDescriptor {
  readonly model: GemPcModel;
  readonly dwMaxCCIDMessageLength: number;
  readonly dwMaxIFSD: number;
  readonly dwFeatures: number;
  /** kHz */
  readonly dwDefaultClock: number;
  readonly dwMaxDataRate: number;
  readonly bVoltageSupport: number;
  readonly bMaxSlotIndex: number;
  readonly bPINSupport: number;
  readonly echo: boolean;
  readonly readTimeoutMs: number;
}

const TWIN: SerialReaderDescriptor = {
  model: 'GemPCTwin',
  dwMaxCCIDMessageLength: 271,
  dwMaxIFSD: 254,
  // [CCID serial §8.5] 00010230: TPDU level, automatic baud and clock, NAD other than 00.
  dwFeatures: CCID_FEATURES.EXCHANGE_TPDU | CCID_FEATURES.NAD_OTHER_THAN_00 | CCID_FEATURES.AUTO_BAUD | CCID_FEATURES.AUTO_CLOCK,
  dwDefaultClock: 4000,
  dwMaxDataRate: 344086,
  bVoltageSupport: 0x07,
  bMaxSlotIndex: 0,
  bPINSupport: 0x00,
  echo: true,
  readTimeoutMs: CCID_TIMEOUTS_MS.default,
};

/** Descriptor defaults per model. [CCID serial §8.5] */
export const GEMPC_DESCRIPTORS: Readonly<Record<GemPcModel, SerialReaderDescriptor>> = Object.freeze({
  GemPCTwin: TWIN,
  GemPCPinPad: { ...TWIN, model: 'GemPCPinPad', dwMaxDataRate: 500000, bPINSupport: 0x03 },
  GemCorePOSPro: { ...TWIN, model: 'GemCorePOSPro', bMaxSlotIndex: 4, echo: false, dwMaxDataRate: 500000 },
  GemCoreSIMPro: { ...TWIN, model: 'GemCoreSIMPro', bMaxSlotIndex: 1, echo: false, dwMaxDataRate: 500000 },
  GemCoreSIMPro2: { ...TWIN, model: 'GemCoreSIMPro2', bMaxSlotIndex: 1, echo: false, dwMaxDataRate: 825806, dwDefaultClock: 4800 },
  SEC1210: { ...TWIN, model: 'SEC1210', bMaxSlotIndex: 1, echo: false, dwMaxDataRate: 826000, dwDefaultClock: 4800, dwFeatures: 0x000100b2 },
});

/**
 * The open-time Escape probes in order, as CCID commands for slot 0. [CCID serial §8.4]
 * Step 1 reads the firmware (2 s timeout, SEC1210 uses `06`); step 2 (not SEC1210) switches
 * card-movement notices to synchronous mode. `bSeq` starts at `firstSeq` and increments.
 */
export function openProbeCommands(model: GemPcModel, firstSeq = 0): CcidCommand[] {
  const sec = model === 'SEC1210';
  const out: CcidCommand[] = [
    { type: 'PC_to_RDR_Escape', bSlot: 0, bSeq: firstSeq & 0xff, abData: sec ? GEMPC_ESCAPE.FIRMWARE_SEC1210.slice() : GEMPC_ESCAPE.FIRMWARE.slice() },
  ];
  if (!sec) out.push({ type: 'PC_to_RDR_Escape', bSlot: 0, bSeq: (firstSeq + 1) & 0xff, abData: GEMPC_ESCAPE.NOTIFICATION_SYNCHRONOUS.slice() });
  return out;
}
