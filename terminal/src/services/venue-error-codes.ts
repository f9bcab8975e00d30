/** Error codes of the venue gate service (`venue.ts`, `api/venue.ts`), composed into the package registry by `src/errors.ts`. */
export const VENUE_ERRORS = {
  TERM_ERR_VENUE_NOT_CONFIGURED: 'This terminal has no venue rules (fleet configuration `venues`)',
  TERM_ERR_VENUE_REGISTRATION_REFUSED: 'The fleet server refused the registration ({serverCode})',
  TERM_ERR_VENUE_OFFLINE: 'The fleet server cannot be reached: registration needs it',
  TERM_ERR_VENUE_STATE_IO: 'The venue gate state file could not be read or written',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
