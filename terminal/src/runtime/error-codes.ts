/** Error codes of the terminal runtime (composition, fleet configuration apply), composed into the package registry by `src/errors.ts`. */
export const RUNTIME_ERRORS = {
  TERM_ERR_SERVICE_DISABLED: 'This service is disabled by the terminal configuration',
  TERM_ERR_CONFIG_APPLY: 'Fleet configuration cannot be applied on this terminal',
  TERM_ERR_RUNTIME_CLOSED: 'Terminal runtime is closing',
  TERM_ERR_HOTLIST_STALE: 'The hotlist was not confirmed current within the configured staleness; transit acceptance refused',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
