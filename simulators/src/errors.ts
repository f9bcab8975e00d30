/**
 * The error registry of `@onecard/simulators`. Every error this package throws on purpose is a
 * {@link SimulatorError} with a stable `code` from {@link SIM_ERRORS}, documented in
 * `docs/errors.md` (kept in sync by `test/errors.test.ts`). Each area keeps its own table in
 * `<area>/error-codes.ts`; this file composes them. Branch on `code`, never on `message`.
 */
import { CARD_SIM_ERRORS } from './card/error-codes.ts';
import { READER_SIM_ERRORS } from './reader/error-codes.ts';
import { ECARD_SIM_ERRORS } from './ecard/error-codes.ts';
import { READER_HID_SIM_ERRORS } from './reader-hid/error-codes.ts';
import { FLEET_SIM_ERRORS } from './fleet/error-codes.ts';
import { PINPAD_SIM_ERRORS } from './pinpad/error-codes.ts';
import { LIBRARY_SIM_ERRORS } from './library/error-codes.ts';
import { ISSUANCE_SIM_ERRORS } from './issuance/error-codes.ts';
import { formatErrorMessage } from '@onecard/protocol/errors';

export const SIM_ERRORS = {
  SIM_ERR_INVALID_ARGUMENT: 'Invalid argument',
  ...CARD_SIM_ERRORS,
  ...READER_SIM_ERRORS,
  ...ECARD_SIM_ERRORS,
  ...READER_HID_SIM_ERRORS,
  ...FLEET_SIM_ERRORS,
  ...LIBRARY_SIM_ERRORS,
  ...PINPAD_SIM_ERRORS,
  ...ISSUANCE_SIM_ERRORS,
} as const;

export type SimulatorErrorCode = keyof typeof SIM_ERRORS;

export class SimulatorError extends Error {
  readonly code: SimulatorErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SimulatorErrorCode, detail?: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    super(formatErrorMessage(SIM_ERRORS[code], details, detail), options);
    this.name = 'SimulatorError';
    this.code = code;
    this.details = details;
  }
}
