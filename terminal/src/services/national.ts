/**
 * National-interface result codes for terminal errors [SC-IF app. A; national-interface §6]:
 * each `TerminalError` code of the card path maps to the interface table (−1 … −52, −2201 …);
 * a card status word carried in `details.sw` becomes −SW by the rule of §6.2 (with the table's
 * exceptions, and −51/−52 for PIN failures). Codes the table has no entry for are [ONECARD]
 * choices, documented in {@link NATIONAL_CODES}.
 */
import { nationalErrorCode as swCode } from '@onecard/protocol/ssc';
import { TerminalError, type TerminalErrorCode } from '../errors.ts';

/**
 * Fixed mapping of terminal codes to national codes. [ONECARD] choices where the table is silent:
 * hotlisted, expired and not-yet-valid cards are −1 ("wrong card type": this card cannot be used);
 * a purchase interrupted or left unknown is −4 ("card does not respond": the card left mid-DEBIT);
 * journal and hotlist-file faults are −5 (the local equivalent of "error loading a DLL").
 */
export const NATIONAL_CODES: Partial<Readonly<Record<TerminalErrorCode, number>>> = {
  TERM_ERR_INVALID_ARGUMENT: -14,
  TERM_ERR_USAGE: -14,
  TERM_ERR_NO_CARD: -2,
  TERM_ERR_CARD_REMOVED: -2,
  TERM_ERR_CARD_MUTE: -3,
  TERM_ERR_CARD_ATR: -3,
  TERM_ERR_CARD_RESET: -3,
  TERM_ERR_CARD_TIMEOUT: -4,
  TERM_ERR_CARD_PROTOCOL: -4,
  TERM_ERR_LINK_OPEN: -11,
  TERM_ERR_LINK_BUSY: -11,
  TERM_ERR_LINK_CLOSED: -12,
  TERM_ERR_LINK_IO: -11,
  TERM_ERR_LINK_TIMEOUT: -11,
  TERM_ERR_LINK_FRAME: -11,
  TERM_ERR_READER_PROBE: -11,
  TERM_ERR_READER_FAILED: -11,
  TERM_ERR_READER_UNKNOWN: -12,
  TERM_ERR_READER_UNAVAILABLE: -12,
  TERM_ERR_WRONG_CARD_TYPE: -1,
  TERM_ERR_CARD_DATA: -42,
  TERM_ERR_CARD_NOT_GENUINE: -21,
  TERM_ERR_CARD_HOTLISTED: -1,
  TERM_ERR_CARD_EXPIRED: -1,
  TERM_ERR_CARD_NOT_YET_VALID: -1,
  TERM_ERR_PIN_FORMAT: -33,
  TERM_ERR_PIN_WRONG: -51,
  TERM_ERR_PIN_LOCKED: -52,
  TERM_ERR_NO_PSAM: -2201,
  TERM_ERR_PSAM_NO_ALGORITHM: -2202,
  TERM_ERR_PSAM_NO_RKSSSE: -2203,
  TERM_ERR_PSAM_KEY_LEVEL: -24,
  TERM_ERR_INSUFFICIENT_FUNDS: -0x9401,
  TERM_ERR_PURCHASE_MAC2: -0x9302,
  TERM_ERR_PURCHASE_INTERRUPTED: -4,
  TERM_ERR_PURCHASE_UNKNOWN: -4,
  TERM_ERR_PURCHASE_PENDING: -4,
  TERM_ERR_JOURNAL_IO: -5,
  TERM_ERR_JOURNAL_STATE: -5,
  TERM_ERR_JOURNAL_CORRUPT: -5,
  TERM_ERR_HOTLIST_FILE: -5,
  TERM_ERR_HOTLIST_VERSION: -5,
};

/** Codes whose national value is the SW they carry in `details.sw`. */
const SW_CARRIERS = new Set<TerminalErrorCode>(['TERM_ERR_CARD_STATUS', 'TERM_ERR_PSAM_STATUS', 'TERM_ERR_EXTERNAL_AUTH_FAILED']);

/**
 * The national-interface code of an error: 0 is never returned. A `TerminalError` maps through
 * {@link NATIONAL_CODES}; `TERM_ERR_CARD_STATUS`, `TERM_ERR_PSAM_STATUS` and
 * `TERM_ERR_EXTERNAL_AUTH_FAILED` give −SW of `details.sw` [national-interface §6.2]; anything
 * else (not a `TerminalError`, or no entry) is −13 [ONECARD].
 */
export function nationalErrorCode(err: unknown): number {
  if (!(err instanceof TerminalError)) return -13;
  if (SW_CARRIERS.has(err.code)) {
    const sw = err.details['sw'];
    if (typeof sw === 'number' && Number.isInteger(sw) && sw > 0 && sw <= 0xffff && sw !== 0x9000) return swCode(sw);
    return -13;
  }
  return NATIONAL_CODES[err.code] ?? -13;
}
