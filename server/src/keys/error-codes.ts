/** Error codes of the server's transit-keys area, composed into the package registry by `src/errors.ts`. */
export const KEYS_ERRORS = {
  SRV_ERR_KEYS_NO_MASTER_KEY: 'No server master key is configured (ONECARD_MASTER_KEY_FILE or ONECARD_MASTER_KEY); key routes are off',
  SRV_ERR_KEYS_MASTER_KEY: 'The server master key is malformed or does not match the one the key sets were stored under',
  SRV_ERR_KEYS_IMPORT: 'Wrapped key-set import refused (key block, wrapping or purse key convention)',
  SRV_ERR_KEYS_STATE: 'The key set or key job cannot do this in its current state',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

/** HTTP status of each keys code. */
export const KEYS_ERROR_STATUS = {
  SRV_ERR_KEYS_NO_MASTER_KEY: 503,
  SRV_ERR_KEYS_MASTER_KEY: 500,
  SRV_ERR_KEYS_IMPORT: 400,
  SRV_ERR_KEYS_STATE: 409,
} as const;
