/** Error codes of the simulated library system, composed into the package registry by `src/errors.ts`. */
export const LIBRARY_SIM_ERRORS = {
  SIM_ERR_LIBRARY_DATA: 'Simulated library data is invalid (patron, item or rule)',
  SIM_ERR_LIBRARY_LISTEN: 'Simulated library system cannot listen on 127.0.0.1',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
