/**
 * The terminal's card area: the CardChannel seam, the CCID reader driver (serial GemPC framing or
 * the HID link), card sessions and the reader manager.
 */
export type { CardChannel } from './channel.ts';
export { openReaderManager } from './reader-manager.ts';
export type { ReaderManager, ReaderManagerOptions, ReaderConfig, ReaderStatus, CardInsertedEvent, CardRemovedEvent, ReaderStatusEvent } from './reader-manager.ts';
export { openCcidReader, READER_MODELS, DEFAULT_TIMEOUTS } from './ccid-reader.ts';
export type { CcidReader, CcidReaderOptions, ReaderModel, ReaderTimeouts } from './ccid-reader.ts';
export { createCcidLink } from './ccid-link.ts';
export type { CcidLink, CcidLinkOptions, TransactOptions, UnsequencedCommand } from './ccid-link.ts';
export { powerUpSession, createReaderChannel, t0TimeoutMs } from './reader-channel.ts';
export type { SlotSession, PowerUpOptions, ReaderChannelOptions } from './reader-channel.ts';
export { systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { listSerialPorts, listHidDevices } from '../link/index.ts';
