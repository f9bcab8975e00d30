/** Error codes of the terminal's link area, composed into the package registry by `src/errors.ts`. */
export const LINK_ERRORS = {
} as const satisfies Record<`TERM_ERR_${string}`, string>;
