/** Error codes of the terminal's updater area, composed into the package registry by `src/errors.ts`. */
export const UPDATER_ERRORS = {
  TERM_ERR_UPDATE_PACKAGE: 'Update package malformed or outside its limits',
  TERM_ERR_UPDATE_HASH: 'Update package hash mismatch',
  TERM_ERR_UPDATE_SIGNATURE: 'Update package signature invalid or signed by a key not pinned here',
  TERM_ERR_UPDATE_DOWNLOAD: 'Update package download failed',
  TERM_ERR_UPDATE_VERSION: 'Update refused: downgrade, same version or below the minimum previous version',
  TERM_ERR_UPDATE_INSTALL: 'Update install or switch failed',
  TERM_ERR_UPDATE_HEALTH: 'Updated runtime failed its health check',
  TERM_ERR_UPDATE_STATE: 'Update state on disk is inconsistent or the step is out of order',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
