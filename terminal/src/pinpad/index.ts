/** The PIN pad seam: device interface, PIN entry for the local API, and the serial line driver. */
export * from './pinpad.ts';
export * from './line-pinpad.ts';
export { PINPAD_ERRORS } from './error-codes.ts';
