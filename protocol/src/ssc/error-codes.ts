/** Error codes of the ssc area, composed into the package registry by `src/errors.ts`. */
export const CARD_APP_ERRORS = {
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
