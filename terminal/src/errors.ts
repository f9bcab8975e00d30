/**
 * The error registry of `@onecard/terminal`. Every error this package throws on purpose is a
 * {@link TerminalError} with a stable `code` from {@link TERM_ERRORS}, documented in `docs/errors.md`
 * (kept in sync by `test/errors.test.ts`). Each area keeps its table in `<area>/error-codes.ts`.
 * Branch on `code`, never on `message`.
 */
import { LINK_ERRORS } from './link/error-codes.ts';
import { CARD_ERRORS } from './card/error-codes.ts';
import { SERVICES_ERRORS } from './services/error-codes.ts';
import { API_ERRORS } from './api/error-codes.ts';
import { ECARD_ERRORS } from './ecard/error-codes.ts';
import { AGENT_ERRORS } from './agent/error-codes.ts';
import { UPDATER_ERRORS } from './updater/error-codes.ts';
import { HOTLIST_ERRORS } from './hotlist/error-codes.ts';
import { RUNTIME_ERRORS } from './runtime/error-codes.ts';
import { PINPAD_ERRORS } from './pinpad/error-codes.ts';
import { LOGIN_ERRORS } from './login/error-codes.ts';
import { LIBRARY_ERRORS } from './services/library-error-codes.ts';
import { VENUE_ERRORS } from './services/venue-error-codes.ts';
import { ISSUANCE_ERRORS } from './issuance/error-codes.ts';
import { formatErrorMessage } from '@onecard/protocol/errors';

export const TERM_ERRORS = {
  TERM_ERR_INVALID_ARGUMENT: 'Invalid argument',
  TERM_ERR_USAGE: 'Invalid command line',
  ...LINK_ERRORS,
  ...CARD_ERRORS,
  ...SERVICES_ERRORS,
  ...API_ERRORS,
  ...ECARD_ERRORS,
  ...AGENT_ERRORS,
  ...UPDATER_ERRORS,
  ...HOTLIST_ERRORS,
  ...RUNTIME_ERRORS,
  ...PINPAD_ERRORS,
  ...LOGIN_ERRORS,
  ...LIBRARY_ERRORS,
  ...VENUE_ERRORS,
  ...ISSUANCE_ERRORS,
} as const;

export type TerminalErrorCode = keyof typeof TERM_ERRORS;

export class TerminalError extends Error {
  readonly code: TerminalErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: TerminalErrorCode, detail?: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    // Registry messages are templates: `{sw}` is filled from `details` [protocol error-message.ts].
    super(formatErrorMessage(TERM_ERRORS[code], details, detail), options);
    this.name = 'TerminalError';
    this.code = code;
    this.details = details;
  }
}
