/** Error codes of the crypto area, composed into the package registry by `src/errors.ts`. */
export const CRYPTO_ERRORS = {
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
