/**
 * The error registry of `@onecard/terminal`. Every error this package throws on purpose is a
 * {@link TerminalError} with a stable `code` from {@link TERM_ERRORS}, documented in `docs/errors.md`
 * (kept in sync by `test/errors.test.ts`). Branch on `code`, never on `message`.
 */
export const TERM_ERRORS = {
  TERM_ERR_INVALID_ARGUMENT: 'Invalid argument',
} as const satisfies Record<`TERM_ERR_${string}`, string>;

export type TerminalErrorCode = keyof typeof TERM_ERRORS;

export class TerminalError extends Error {
  readonly code: TerminalErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: TerminalErrorCode, detail?: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    const base = TERM_ERRORS[code];
    super(detail === undefined ? base : `${base}: ${detail}`, options);
    this.name = 'TerminalError';
    this.code = code;
    this.details = details;
  }
}
