/** Error codes of the terminal's link area, composed into the package registry by `src/errors.ts`. */
export const LINK_ERRORS = {
  TERM_ERR_LINK_OPEN: 'The reader link could not be opened',
  TERM_ERR_LINK_BUSY: 'The reader link is already open (exclusive use)',
  TERM_ERR_LINK_CLOSED: 'The reader link is closed or the reader was unplugged',
  TERM_ERR_LINK_IO: 'Input/output error on the reader link',
  TERM_ERR_LINK_TIMEOUT: 'The reader did not answer in time',
  TERM_ERR_LINK_FRAME: 'The reader sent a corrupted or malformed frame',
  TERM_ERR_LINK_PCSC_UNAVAILABLE: 'pcscd is not running or its socket cannot be reached',
  TERM_ERR_LINK_PCSC_VERSION: 'pcscd speaks a message protocol version OneCard does not',
  TERM_ERR_LINK_PCSC_FAILED: 'pcscd refused the PC/SC call',
  TERM_ERR_READER_PROBE: 'The reader did not answer the open-time probe: reader not connected',
  TERM_ERR_READER_FAILED: 'The reader refused the command',
  TERM_ERR_READER_UNKNOWN: 'No such reader in the configuration',
  TERM_ERR_READER_UNAVAILABLE: 'The reader is not connected',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
