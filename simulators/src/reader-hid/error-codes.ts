/** Error codes of the simulated HID reader, composed into the package registry by `src/errors.ts`. */
export const READER_HID_SIM_ERRORS = {
  SIM_ERR_READER_HID: 'The simulated HID reader is unplugged, closed or already open',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
