/** Error codes of the simulated PIN pad, composed into the package registry by `src/errors.ts`. */
export const PINPAD_SIM_ERRORS = {
  SIM_ERR_PINPAD_KEY: 'Not a key of the simulated PIN pad (digits, B correction, E enter, C cancel)',
  SIM_ERR_PINPAD_PTY: 'Pseudo-terminal of the simulated PIN pad cannot be made',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
