/** Error codes of the terminal's card area (channels and sessions), composed into the package registry by `src/errors.ts`. */
export const CARD_ERRORS = {
  TERM_ERR_CARD_REMOVED: 'The card was removed',
  TERM_ERR_CARD_RESET: 'The card was reset by someone else',
  TERM_ERR_CARD_TIMEOUT: 'The card did not answer in time',
  TERM_ERR_CARD_PROTOCOL: 'The card broke the transmission protocol',
  TERM_ERR_CARD_ATR: 'The card\'s answer to reset is malformed ({finding})',
  TERM_ERR_CARD_MUTE: 'No answer to reset: the card is mute or inserted wrongly',
  TERM_ERR_NO_CARD: 'No card in the reader',
  TERM_ERR_SESSION_CLOSED: 'The card session is over',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
