/** Error codes of the library services and their SIP2 link, composed into the package registry by `src/errors.ts`. */
export const LIBRARY_ERRORS = {
  TERM_ERR_LIBRARY_UNAVAILABLE: 'The library system cannot be reached or did not answer',
  TERM_ERR_LIBRARY_LOGIN: 'The library system refused this terminal’s SIP2 login',
  TERM_ERR_LIBRARY_PROTOCOL: 'The library system’s answer is not valid SIP2 or answers another request',
  TERM_ERR_LIBRARY_NO_SCAN: 'No book barcode was scanned in time',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
