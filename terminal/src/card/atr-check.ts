/**
 * The one ATR verdict of the terminal: `onecard-terminal atr` prints it for a technician, and card
 * power-up refuses a card whose ATR it finds invalid before any protocol choice or APDU, so a
 * malformed ATR fails at power-up with the same findings the `atr` command reports, not later as
 * a confusing card-data error [7816-3 §8].
 */
import { decodeAtr, type Atr } from '@onecard/protocol/iso7816';
import { TerminalError } from '../errors.ts';

/** Decodes an ATR in the mode both the `atr` command and power-up use: every finding, no throw. */
export function analyseAtr(bytes: Uint8Array): Atr {
  return decodeAtr(bytes, { mode: 'lenient' });
}

/**
 * Analyses the ATR read at power-up and returns it when {@link analyseAtr} finds it valid.
 * @throws TerminalError `TERM_ERR_CARD_ATR` with `details.finding` (first error finding code, e.g.
 * `PROTO_ERR_ATR_TS`), `details.findings` (all error codes), `details.atr` (hex) and `details.slot`.
 */
export function checkPowerUpAtr(bytes: Uint8Array, slot: number): Atr {
  const atr = analyseAtr(bytes);
  if (atr.valid) return atr;
  const errors = atr.findings.filter((f) => f.severity === 'error');
  const first = errors[0]!;
  const hex = Buffer.from(bytes).toString('hex').toUpperCase();
  throw new TerminalError('TERM_ERR_CARD_ATR', `${first.message} (onecard-terminal atr ${hex || '""'} shows every finding)`, {
    slot, atr: hex, finding: first.code, findings: errors.map((f) => f.code).join(','),
  });
}
