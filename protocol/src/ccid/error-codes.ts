/** Error codes of the ccid area, composed into the package registry by `src/errors.ts`. */
export const CCID_ERRORS = {
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
