/** Error codes of the simulated e-card issuer, service and scanners, composed into the package registry by `src/errors.ts`. */
export const ECARD_SIM_ERRORS = {
  SIM_ERR_ECARD_HOLDER: 'E-card holder data does not fit the OneCard token',
  SIM_ERR_ECARD_KEY: 'E-card issuer key is not a valid SM2 private key',
  SIM_ERR_ECARD_SCANNER: 'Text cannot be typed by the simulated keyboard-wedge scanner',
  SIM_ERR_ECARD_DEVICE: 'Simulated scanner device is closed',
  SIM_ERR_ECARD_LOGIN: 'The simulated e-card app could not complete the login (not a OneCard login QR code, or the server refused)',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
