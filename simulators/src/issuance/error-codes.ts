/** Error codes of the issuance simulators (blank card, card-issuing device, regional services), composed into the package registry by `src/errors.ts`. */
export const ISSUANCE_SIM_ERRORS = {
  SIM_ERR_ISSUANCE_PROFILE: 'Blank-card or PSAM profile for issuance is invalid',
  SIM_ERR_DEVICE_PTY: 'Pseudo-terminal of the simulated card-issuing device cannot be made',
  SIM_ERR_SERVICE_REFUSED: 'Simulated regional service refused the request',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
