/**
 * The error registry of `@onecard/simulators`. Every error this package throws on purpose is a
 * {@link SimulatorError} with a stable `code` from {@link SIM_ERRORS}, documented in `docs/errors.md`
 * (kept in sync by `test/errors.test.ts`). Branch on `code`, never on `message`.
 */
export const SIM_ERRORS = {
  SIM_ERR_INVALID_ARGUMENT: 'Invalid argument',
} as const satisfies Record<`SIM_ERR_${string}`, string>;

export type SimulatorErrorCode = keyof typeof SIM_ERRORS;

export class SimulatorError extends Error {
  readonly code: SimulatorErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SimulatorErrorCode, detail?: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    const base = SIM_ERRORS[code];
    super(detail === undefined ? base : `${base}: ${detail}`, options);
    this.name = 'SimulatorError';
    this.code = code;
    this.details = details;
  }
}
