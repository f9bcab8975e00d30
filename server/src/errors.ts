/**
 * The error registry of `@onecard/server`. Every error this package throws on purpose is a
 * {@link ServerError} with a stable `code` from {@link SRV_ERRORS}, documented in `docs/errors.md`
 * (kept in sync by `test/errors.test.ts`). Branch on `code`, never on `message`.
 */
export const SRV_ERRORS = {
  SRV_ERR_INVALID_ARGUMENT: 'Invalid argument',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

export type ServerErrorCode = keyof typeof SRV_ERRORS;

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ServerErrorCode, detail?: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    const base = SRV_ERRORS[code];
    super(detail === undefined ? base : `${base}: ${detail}`, options);
    this.name = 'ServerError';
    this.code = code;
    this.details = details;
  }
}
