/** Error codes of the T=1 block protocol engine, composed into the package registry by `src/errors.ts`. */
export const T1_ERRORS = {
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
