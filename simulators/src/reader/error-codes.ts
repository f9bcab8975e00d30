/** Error codes of the simulated readers, composed into the package registry by `src/errors.ts`. */
export const READER_SIM_ERRORS = {
  SIM_ERR_READER_MODEL: 'Unknown simulated reader model',
  SIM_ERR_READER_SLOT: 'Slot index out of range for this reader model',
  SIM_ERR_READER_FAULT_SPEC: 'Malformed fault-injection specification',
  SIM_ERR_READER_LINK: 'Reader link not supported by this simulator',
  SIM_ERR_READER_PTY: 'Pseudo-terminal could not be created or linked',
  SIM_ERR_READER_CARD_FILE: 'Card file could not be loaded',
  SIM_ERR_READER_CLOSED: 'The simulated reader is closed (unplugged)',
  SIM_ERR_READER_CLI_USAGE: 'Invalid command-line usage',
  SIM_ERR_READER_CUT: 'Malformed card cut (INS not a byte or unknown point)',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
