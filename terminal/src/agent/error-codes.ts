/** Error codes of the terminal's agent area, composed into the package registry by `src/errors.ts`. */
export const AGENT_ERRORS = {
} as const satisfies Record<`TERM_ERR_${string}`, string>;
