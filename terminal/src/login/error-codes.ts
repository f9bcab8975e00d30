/** Error codes of the terminal's login area (card login to government portals), composed into the package registry by `src/errors.ts`. */
export const LOGIN_ERRORS = {
  TERM_ERR_LOGIN_UNKNOWN: 'This login code is unknown, used or expired (start the login again on the portal)',
  TERM_ERR_LOGIN_OFFLINE: 'Logging in to a service needs the fleet server, which cannot be reached now',
  TERM_ERR_LOGIN_REFUSED: 'The fleet server refused this terminal’s login assertion',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
