/**
 * The seam between card services and everything below them. A {@link CardChannel} sends one
 * command APDU and returns the final response APDU, with the ISO 7816 exchange rules (61xx GET
 * RESPONSE, 6Cxx resend, chaining, T=0 case 4) already applied. Status words are data: only link,
 * protocol, timeout and card-movement failures reject (with a `TerminalError`). Implementations:
 * the reader-backed channel (CCID over serial or HID, T=0 or T=1) and the in-memory channel over a
 * simulated card used by service tests.
 */
import type { CommandApdu, ResponseApdu } from '@onecard/protocol/iso7816';

export interface CardChannel {
  /** ATR of the current card session. */
  readonly atr: Uint8Array;
  /** Transmission protocol in use. */
  readonly protocol: 0 | 1;
  /**
   * Exchanges one APDU.
   * Rejects with `TerminalError` codes `TERM_ERR_CARD_REMOVED`, `TERM_ERR_CARD_RESET`,
   * `TERM_ERR_CARD_TIMEOUT`, `TERM_ERR_CARD_PROTOCOL` or `TERM_ERR_LINK_*`.
   */
  transmit(apdu: CommandApdu): Promise<ResponseApdu>;
}
