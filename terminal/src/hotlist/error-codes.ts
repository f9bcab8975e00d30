/** Error codes of the terminal's compact hotlist, composed into the package registry by `src/errors.ts`. */
export const HOTLIST_ERRORS = {
  TERM_ERR_HOTLIST_CORRUPT: 'Hotlist file corrupt (bad magic, length or checksum)',
  TERM_ERR_HOTLIST_DELTA: 'Hotlist delta does not apply to the current version',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
