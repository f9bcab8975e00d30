/**
 * The protocol package's error registry. Every error thrown by `@onecard/protocol` is a
 * {@link ProtocolError} whose `code` is one of {@link PROTO_ERRORS}; codes are stable and
 * documented in `docs/errors.md` (kept in sync by `test/errors.test.ts`). Each area keeps its
 * own table in `<area>/error-codes.ts`; this file only composes them.
 */
import { ISO7816_ERRORS } from './iso7816/error-codes.ts';
import { ATR_ERRORS } from './iso7816/atr-error-codes.ts';
import { T1_ERRORS } from './iso7816/t1-error-codes.ts';
import { CCID_ERRORS } from './ccid/error-codes.ts';
import { PCSC_ERRORS } from './pcsc/error-codes.ts';
import { CRYPTO_ERRORS } from './crypto/error-codes.ts';
import { CARD_APP_ERRORS } from './ssc/error-codes.ts';
import { FLEET_ERRORS } from './fleet/error-codes.ts';
import { SIP2_ERRORS } from './sip2/error-codes.ts';
import { UPDATE_ERRORS } from './update/error-codes.ts';
import { ISSUANCE_ERRORS } from './issuance/error-codes.ts';
import { formatErrorMessage } from './error-message.ts';

export { formatErrorMessage } from './error-message.ts';

export const PROTO_ERRORS = {
  ...ISO7816_ERRORS,
  ...ATR_ERRORS,
  ...T1_ERRORS,
  ...CCID_ERRORS,
  ...PCSC_ERRORS,
  ...CRYPTO_ERRORS,
  ...CARD_APP_ERRORS,
  ...FLEET_ERRORS,
  ...SIP2_ERRORS,
  ...UPDATE_ERRORS,
  ...ISSUANCE_ERRORS,
} as const;

export type ProtocolErrorCode = keyof typeof PROTO_ERRORS;

/** Extra, machine-readable facts about a failure (field name, offset, expected value…). */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

/** The one error class of `@onecard/protocol`. Branch on `code`, never on `message`. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ProtocolErrorCode, detail?: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(formatErrorMessage(PROTO_ERRORS[code], details, detail), options);
    this.name = 'ProtocolError';
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a {@link ProtocolError}, optionally with the given code. */
export function isProtocolError(err: unknown, code?: ProtocolErrorCode): err is ProtocolError {
  return err instanceof ProtocolError && (code === undefined || err.code === code);
}
