/** Error codes of the iso7816 area (and shared byte helpers), composed into the package registry by `src/errors.ts`. */
export const ISO7816_ERRORS = {
  PROTO_ERR_HEX: 'Malformed hex string',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
