/** Error codes of the simulated readers, composed into the package registry by `src/errors.ts`. */
export const READER_SIM_ERRORS = {
} as const satisfies Record<`SIM_ERR_${string}`, string>;
