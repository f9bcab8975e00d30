/** Error codes of the terminal's api area (local API, runtime composition and CLI), composed into the package registry by `src/errors.ts`. */
export const API_ERRORS = {
  TERM_ERR_API_TOKEN: 'Local API token missing or wrong (header x-onecard-token or Authorization: Bearer)',
  TERM_ERR_API_SESSION: 'Page session or launch code unknown, used or expired (the launcher mints a new launch code)',
  TERM_ERR_API_CLIENT: 'Peer address not on the local API client allow-list',
  TERM_ERR_API_TOO_LARGE: 'Request body larger than the local API accepts',
  TERM_ERR_API_ORIGIN: 'Browser origin not allowed to use the local API',
  TERM_ERR_API_HOST: 'Host header not allowed (the local API answers only to localhost names)',
  TERM_ERR_API_NOT_CONFIGURED: 'This terminal is not configured for the requested service',
  TERM_ERR_API_TIMEOUT: 'Nothing happened before the timeout',
  TERM_ERR_ID_MISMATCH: 'The ID document number typed by staff is not the card holder’s',
  TERM_ERR_API_BAD_REQUEST: 'Request does not match the API schema',
  TERM_ERR_STAFF_REQUIRED: 'A member of staff must be signed in at the desk for this action',
  TERM_ERR_STAFF_REFUSED: 'The fleet server refused the staff credential (unknown, revoked or not valid at this terminal)',
  TERM_ERR_STAFF_UNCHECKED: 'The staff credential cannot be checked: the fleet server is unreachable',
  TERM_ERR_CONFIG: 'Terminal configuration file invalid',
  TERM_ERR_API_INTERNAL: 'Unexpected internal error (see the terminal log)',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
