/**
 * Card services of the OneCard terminal: pure orchestration over {@link CardChannel}s (card and
 * PSAM) — basic information, PIN, transit purchase with its journal and recovery — plus the
 * national-interface result codes of their errors.
 */
export type { Clock, Device } from './common.ts';
export { systemClock, localDate, localDateTime } from './common.ts';
export type { BasicInfo, ReadBasicInfoOptions } from './basic-info.ts';
export { readBasicInfo, checkHotlist, checkValidity } from './basic-info.ts';
export type { PinContext, PinStatus, IssuerPinContext } from './pin.ts';
export { pinStatus, verifyPin, changePin, unblockPin, reloadPin } from './pin.ts';
export type { PurchaseOptions, PurchaseResult, RecoverOptions, RecoveryResult } from './purchase.ts';
export { purchase, recoverPurchase } from './purchase.ts';
export type { PurchaseJournal, PurchaseRecord, PurchaseDraft, PurchaseOutcome, PurchaseState, JournalOptions } from './journal.ts';
export { createMemoryJournal, openFileJournal } from './journal.ts';
export type { CardProfile } from './ssse.ts';
export type { KeyFamily } from './psam.ts';
export { NATIONAL_CODES, nationalErrorCode } from './national.ts';
export type { Hotlist, MutableHotlist, FileHotlist } from '../hotlist/index.ts';
export { createMemoryHotlist, openFileHotlist, parseHotlistFile } from '../hotlist/index.ts';
