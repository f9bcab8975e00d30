/** Error codes of the simulated cards, composed into the package registry by `src/errors.ts`. */
export const CARD_SIM_ERRORS = {
  SIM_ERR_CARD_FILE: 'Invalid card personalisation file',
  SIM_ERR_CARD_MUTE: 'Card does not answer (torn or not powered); reset it first',
  SIM_ERR_CARD_TORN: 'Card removed during the command; the response is lost',
  SIM_ERR_CARD_TPDU: 'Malformed T=0 TPDU',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
