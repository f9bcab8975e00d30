/** Error codes of the card login (OpenID Provider, terminal assertions, e-card confirmations); merged into `SRV_ERRORS`. */
export const LOGIN_ERRORS = {
  SRV_ERR_LOGIN_UNKNOWN: 'No such login code, or it expired',
  SRV_ERR_LOGIN_REPLAYED: 'This login was already completed or refused; start again with a new code',
  SRV_ERR_LOGIN_NONCE: 'The assertion is bound to another login',
  SRV_ERR_LOGIN_EXPIRED: 'The login or the assertion expired (or is dated in the future)',
  SRV_ERR_LOGIN_TERMINAL_GROUP: 'Terminals of this group may not authenticate card holders',
  SRV_ERR_LOGIN_METHOD: 'The portal does not accept this way of logging in',
  SRV_ERR_LOGIN_ASSURANCE: 'The card was not shown genuine with its PIN verified',
  SRV_ERR_LOGIN_HOTLISTED: 'The card is reported lost or stolen',
  SRV_ERR_LOGIN_ASSERTION_FORMAT: 'The login assertion is malformed',
  SRV_ERR_LOGIN_ASSERTION_SIGNATURE: 'The login assertion signature does not verify',
  SRV_ERR_LOGIN_ECARD_HOLDER: 'The e-card holder is not registered or was revoked',
  SRV_ERR_LOGIN_UNAVAILABLE: 'Card login is not configured on this server (no master key)',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

export const LOGIN_ERROR_STATUS: Readonly<Record<keyof typeof LOGIN_ERRORS, number>> = {
  SRV_ERR_LOGIN_UNKNOWN: 404,
  SRV_ERR_LOGIN_REPLAYED: 409,
  SRV_ERR_LOGIN_NONCE: 409,
  SRV_ERR_LOGIN_EXPIRED: 410,
  SRV_ERR_LOGIN_TERMINAL_GROUP: 403,
  SRV_ERR_LOGIN_METHOD: 403,
  SRV_ERR_LOGIN_ASSURANCE: 403,
  SRV_ERR_LOGIN_HOTLISTED: 403,
  SRV_ERR_LOGIN_ASSERTION_FORMAT: 400,
  SRV_ERR_LOGIN_ASSERTION_SIGNATURE: 401,
  SRV_ERR_LOGIN_ECARD_HOLDER: 403,
  SRV_ERR_LOGIN_UNAVAILABLE: 503,
};
