/** Error codes of the server's transit-keys area, composed into the package registry by `src/errors.ts`. */
export const KEYS_ERRORS = {
  SRV_ERR_KEYS_NO_MASTER_KEY: 'No server master key is configured (ONECARD_MASTER_KEY_FILE or ONECARD_MASTER_KEY); key routes are off',
  SRV_ERR_KEYS_MASTER_KEY: 'The server master key is malformed or does not match the one the key sets were stored under',
  SRV_ERR_KEYS_IMPORT: 'Wrapped key-set import refused (key block, wrapping or purse key convention)',
  SRV_ERR_KEYS_STATE: 'The key set or key job cannot do this in its current state',
  SRV_ERR_KEYS_NOT_APPROVED: 'No live key custodian approval for this terminal\'s key pair (none, revoked, expired, re-keyed, disabled or PSAM reported); no key blocks are delivered',
  SRV_ERR_KEYS_DUAL_CONTROL: 'Dual control: the admin who issued a terminal\'s enrolment or re-key token cannot approve its key delivery',
  SRV_ERR_KEYS_PSAM: 'The terminal reports a physical PSAM; purse roots are never delivered to it',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

/** HTTP status of each keys code. */
export const KEYS_ERROR_STATUS = {
  SRV_ERR_KEYS_NO_MASTER_KEY: 503,
  SRV_ERR_KEYS_MASTER_KEY: 500,
  SRV_ERR_KEYS_IMPORT: 400,
  SRV_ERR_KEYS_STATE: 409,
  SRV_ERR_KEYS_NOT_APPROVED: 403,
  SRV_ERR_KEYS_DUAL_CONTROL: 403,
  SRV_ERR_KEYS_PSAM: 409,
} as const;
