/** Error codes of the update package format, composed into the package registry by `src/errors.ts`. */
export const UPDATE_ERRORS = {
  PROTO_ERR_UPDATE_PACKAGE: 'Update package malformed or outside its limits',
  PROTO_ERR_UPDATE_HASH: 'Update package hash mismatch',
  PROTO_ERR_UPDATE_SIGNATURE: 'Update package signature file malformed',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
