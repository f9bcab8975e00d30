/**
 * The contract every simulated card meets: an ATR and APDU in, response APDU (data ‖ SW) out.
 * Transport details (T=0 TPDUs, T=1 blocks) belong to the reader simulators; `t0.ts` offers a
 * T=0 TPDU adapter over this interface.
 */
export interface SimulatedCard {
  /** The ATR of the last reset (the same bytes every time for a given card). */
  readonly atr: Uint8Array;
  /** The protocol the ATR announces. */
  readonly protocol: 0 | 1;
  /** Cold/warm reset: volatile state (selection, security state, challenges) is cleared. Returns the ATR. */
  reset(): Uint8Array;
  /**
   * Processes one command APDU and returns data ‖ SW1 SW2. Status words are data.
   * @throws SimulatorError `SIM_ERR_CARD_MUTE` before the first reset or after a tear,
   *   `SIM_ERR_CARD_TORN` when an injected tear cuts this command.
   */
  transmit(apdu: Uint8Array): Uint8Array;
}
