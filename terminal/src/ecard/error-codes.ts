/** Error codes of the terminal's ecard area, composed into the package registry by `src/errors.ts`. */
export const ECARD_ERRORS = {
  TERM_ERR_ECARD_FORMAT: 'Not a OneCard e-card code (prefix or base32 text wrong)',
  TERM_ERR_ECARD_MALFORMED: 'E-card code field malformed',
  TERM_ERR_ECARD_VERSION: 'E-card code version or signature algorithm not supported',
  TERM_ERR_ECARD_UNKNOWN_KEY: 'E-card code signed by a key this terminal does not trust',
  TERM_ERR_ECARD_SIGNATURE: 'E-card code signature does not verify (forged or altered)',
  TERM_ERR_ECARD_NOT_YET_VALID: 'E-card code issued in the future (check the terminal clock)',
  TERM_ERR_ECARD_EXPIRED: 'E-card code expired: ask the holder to refresh it',
  TERM_ERR_ECARD_REPLAYED: 'E-card code already used',
  TERM_ERR_ECARD_REPLAY_STORE: 'E-card replay record could not be read or written; the code was refused',
  TERM_ERR_ECARD_REPLAY_CACHE_FULL: 'Too many e-card codes in the validity window; refused to keep replay protection',
  TERM_ERR_ECARD_ONLINE_REJECTED: 'The platform rejected the e-card code',
  TERM_ERR_ECARD_ONLINE_UNAVAILABLE: 'The platform verification service could not be reached',
  TERM_ERR_ECARD_SCANNER: 'Scanner sent data that is not a readable code',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
