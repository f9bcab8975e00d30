/** Error codes of the simulated cards, composed into the package registry by `src/errors.ts`. */
export const CARD_SIM_ERRORS = {
} as const satisfies Record<`SIM_ERR_${string}`, string>;
