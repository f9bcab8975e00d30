/** Error codes of the PIN pad seam (device driver and PIN entry), composed into the package registry by `src/errors.ts`. */
export const PINPAD_ERRORS = {
  TERM_ERR_PINPAD_UNAVAILABLE: 'The PIN pad is not connected or does not answer',
  TERM_ERR_PINPAD_BUSY: 'The PIN pad is already taking a PIN',
  TERM_ERR_PINPAD_CANCELLED: 'PIN entry on the PIN pad was cancelled',
  TERM_ERR_PINPAD_TIMEOUT: 'No PIN was entered on the PIN pad in time',
  TERM_ERR_PINPAD_PROTOCOL: 'The PIN pad sent a line the terminal does not understand',
  TERM_ERR_PIN_MISMATCH: 'The new PIN and its repetition differ',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
