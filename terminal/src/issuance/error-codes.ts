/** Error codes of the terminal's issuance service, composed into the package registry by `src/errors.ts`. */
export const ISSUANCE_ERRORS = {
  TERM_ERR_ISSUANCE_DEVICE: 'The card-issuing device refused a command',
  TERM_ERR_ISSUANCE_DEVICE_LINK: 'The card-issuing device does not answer on its line',
  TERM_ERR_ISSUANCE_CARD: 'The card refused a step of the issuance',
  TERM_ERR_ISSUANCE_READBACK: 'The card does not hold what was written (read back differs)',
  TERM_ERR_ISSUANCE_WRONG_CARD: 'The card in the device is not the card this job started with',
  TERM_ERR_ISSUANCE_BACK_OFFICE: 'The card-management system or HSM refused the request',
  TERM_ERR_ISSUANCE_JOB: 'No such issuance job, or the job is not in a state that allows this',
  TERM_ERR_ISSUANCE_BUSY: 'Another issuance job is running on this device',
  TERM_ERR_ISSUANCE_JOURNAL: 'The issuance journal cannot be read or written',
} as const satisfies Record<`TERM_ERR_${string}`, string>;
