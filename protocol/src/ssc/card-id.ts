/**
 * The card identification code (卡识别码, EF05 tag `01`, 16 bytes) [V2 §8.1.1.1, table 10]:
 * city code (BCD 3) ‖ SSC application ID `D156000005` ‖ card serial (4) ‖ card authentication code (4).
 * Its first 6 hex digits are the issuing region code returned by the national interface.
 */
import { ProtocolError } from '../errors.ts';
import { equalBytes, fromHex, toHex } from '../bytes.ts';

/** The SSC application identifier inside the card ID: RID of MOHRSS ‖ `05`. */
export const SSC_APPLICATION_ID = Uint8Array.of(0xd1, 0x56, 0x00, 0x00, 0x05);

/** A decoded card identification code. */
export interface CardIdentificationCode {
  /** Issuing region (应用城市代码), 6 digits, e.g. `639900`. */
  readonly regionCode: string;
  /** Card serial (卡流水号), 8 hex digits. */
  readonly serial: string;
  /** Card authentication code (卡认证码), 8 hex digits; `FFFFFFFF` on some cards. */
  readonly authCode: string;
  /** The whole code as 32 upper-case hex digits. */
  readonly hex: string;
}

/**
 * Decodes the 16-byte card identification code.
 * @throws ProtocolError `PROTO_ERR_SSC_CARD_ID` when it is not 16 bytes, the region is not 6 BCD
 * digits, or bytes 3–7 are not `D156000005`.
 */
export function decodeCardId(bytes: Uint8Array): CardIdentificationCode {
  if (bytes.length !== 16) throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'expected 16 bytes', { field: 'cardId', length: bytes.length });
  const hex = toHex(bytes);
  const regionCode = hex.slice(0, 6);
  if (!/^[0-9]{6}$/.test(regionCode)) throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'region code is not 6 BCD digits', { field: 'regionCode', offset: 0 });
  if (!equalBytes(bytes.subarray(3, 8), SSC_APPLICATION_ID)) {
    throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'application ID is not D156000005', { field: 'applicationId', offset: 3 });
  }
  return { regionCode, serial: hex.slice(16, 24), authCode: hex.slice(24, 32), hex };
}

/**
 * Decodes a card ID given as 32 hex digits (national-interface form).
 * @throws ProtocolError `PROTO_ERR_SSC_CARD_ID` as {@link decodeCardId}, also for non-hex input.
 */
export function parseCardIdHex(hex: string): CardIdentificationCode {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'expected 32 hex digits', { field: 'cardId' });
  return decodeCardId(fromHex(hex));
}

/**
 * Encodes a card ID from its parts.
 * @throws ProtocolError `PROTO_ERR_SSC_CARD_ID` when the region is not 6 digits or serial/authCode
 * are not 8 hex digits.
 */
export function encodeCardId(parts: { regionCode: string; serial: string; authCode: string }): Uint8Array {
  if (!/^[0-9]{6}$/.test(parts.regionCode)) throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'region code must be 6 digits', { field: 'regionCode' });
  if (!/^[0-9A-Fa-f]{8}$/.test(parts.serial)) throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'serial must be 8 hex digits', { field: 'serial' });
  if (!/^[0-9A-Fa-f]{8}$/.test(parts.authCode)) throw new ProtocolError('PROTO_ERR_SSC_CARD_ID', 'authentication code must be 8 hex digits', { field: 'authCode' });
  return fromHex(parts.regionCode + toHex(SSC_APPLICATION_ID) + parts.serial + parts.authCode);
}
