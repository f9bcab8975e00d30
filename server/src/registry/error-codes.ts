/** Error codes of the card registry and the departments' data-sharing interface, composed into the package registry by `src/errors.ts`. */
export const REGISTRY_ERRORS = {
  SRV_ERR_REGISTRY_NO_MASTER_KEY: 'No server master key is configured (ONECARD_MASTER_KEY_FILE or ONECARD_MASTER_KEY); the card registry and data sharing are off',
  SRV_ERR_REGISTRY_INVALID_CARD: 'Card record refused (card number, ID number check character, name, region code, generation or dates)',
  SRV_ERR_REGISTRY_TRANSITION: 'This lifecycle change is not allowed in the card\'s current status',
  SRV_ERR_REGISTRY_IMPORT_FORMAT: 'Import body is not CSV with the expected header or JSON lines',
  SRV_ERR_SHARING_INVALID_CLIENT: 'Unknown department client, wrong secret or disabled department',
  SRV_ERR_SHARING_INVALID_TOKEN: 'Access token missing, unknown or expired',
  SRV_ERR_SHARING_PURPOSE_NOT_GRANTED: 'The department is not granted this purpose',
  SRV_ERR_SHARING_NO_CONSENT: 'The holder has not consented to this department for this purpose',
  SRV_ERR_SHARING_CONSENT_EXPIRED: 'The holder\'s consent for this department and purpose has expired',
  SRV_ERR_SHARING_CONSENT_REVOKED: 'The holder revoked the consent for this department and purpose',
  SRV_ERR_SHARING_QUOTA: 'The department\'s daily quota is used up',
  SRV_ERR_SHARING_BATCH_LIMIT: 'A batch verification holds 1 to 10,000 items',
  SRV_ERR_SHARING_JOB_PENDING: 'The batch verification is not finished yet',
  SRV_ERR_SHARING_HOLDER_SESSION: 'No holder session, or it expired: log in with the card again (consent pages)',
  SRV_ERR_SHARING_HOLDER_CSRF: 'The form does not belong to this holder session',
  SRV_ERR_SHARING_HOLDER_CARD: 'The card used to log in is not a usable card of this holder in the registry',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

/** HTTP status of each registry and sharing code. */
export const REGISTRY_ERROR_STATUS = {
  SRV_ERR_REGISTRY_NO_MASTER_KEY: 503,
  SRV_ERR_REGISTRY_INVALID_CARD: 400,
  SRV_ERR_REGISTRY_TRANSITION: 409,
  SRV_ERR_REGISTRY_IMPORT_FORMAT: 400,
  SRV_ERR_SHARING_INVALID_CLIENT: 401,
  SRV_ERR_SHARING_INVALID_TOKEN: 401,
  SRV_ERR_SHARING_PURPOSE_NOT_GRANTED: 403,
  SRV_ERR_SHARING_NO_CONSENT: 403,
  SRV_ERR_SHARING_CONSENT_EXPIRED: 403,
  SRV_ERR_SHARING_CONSENT_REVOKED: 403,
  SRV_ERR_SHARING_QUOTA: 429,
  SRV_ERR_SHARING_BATCH_LIMIT: 400,
  SRV_ERR_SHARING_JOB_PENDING: 409,
  SRV_ERR_SHARING_HOLDER_SESSION: 401,
  SRV_ERR_SHARING_HOLDER_CSRF: 403,
  SRV_ERR_SHARING_HOLDER_CARD: 403,
} as const;
