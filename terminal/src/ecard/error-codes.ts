/** Error codes of the terminal's ecard area, composed into the package registry by `src/errors.ts`. */
export const ECARD_ERRORS = {
} as const satisfies Record<`TERM_ERR_${string}`, string>;
