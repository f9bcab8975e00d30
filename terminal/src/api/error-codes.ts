/** Error codes of the terminal's api area, composed into the package registry by `src/errors.ts`. */
export const API_ERRORS = {
} as const satisfies Record<`TERM_ERR_${string}`, string>;
