/** Error codes of ATR, historical-byte and compact-TLV decoding, composed into the package registry by `src/errors.ts`. */
export const ATR_ERRORS = {
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
