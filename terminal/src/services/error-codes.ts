/** Error codes of the terminal's services area, composed into the package registry by `src/errors.ts`. */
export const SERVICES_ERRORS = {
} as const satisfies Record<`TERM_ERR_${string}`, string>;
