/** Error codes of the server's updates area, composed into the package registry by `src/errors.ts`. */
export const UPDATES_ERRORS = {
  SRV_ERR_UPDATE_PACKAGE: 'Update package malformed or outside its limits',
  SRV_ERR_UPDATE_HASH: 'Update package hash mismatch',
  SRV_ERR_UPDATE_SIGNATURE: 'Update package signature invalid or signed by an untrusted key',
  SRV_ERR_UPDATE_ROLLOUT_STATE: 'The rollout cannot do this in its current state',
  SRV_ERR_UPDATE_RANGE: 'Requested range not satisfiable',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

/** HTTP status of each updates code. */
export const UPDATES_ERROR_STATUS = {
  SRV_ERR_UPDATE_PACKAGE: 400,
  SRV_ERR_UPDATE_HASH: 400,
  SRV_ERR_UPDATE_SIGNATURE: 400,
  SRV_ERR_UPDATE_ROLLOUT_STATE: 409,
  SRV_ERR_UPDATE_RANGE: 416,
} as const;
