/**
 * Check characters of the two holder identifiers on the card: the card number (卡号, EF05 `07`,
 * weighted mod 11 of V2 appendix A) and the citizen ID number used as the social security number
 * (EF06 `08`, GB 11643-1999 with ISO 7064 MOD 11-2).
 */
import { ProtocolError } from '../errors.ts';
import { isValidDate } from './bcd.ts';

const CARD_NUMBER_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;

function charValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  // [INFER ssc-card §3.2] letters A=10 … Z=35; the spec example fixes D=13.
  if (code >= 65 && code <= 90) return code - 55;
  return -1;
}

/**
 * Check character for the first 8 characters of a card number [V2 app. A]:
 * C9 = 11 − (Σ Ci·Wi mod 11), W = 3 7 9 10 5 8 4 2; 10 → `X`, 11 → `0`.
 * @throws ProtocolError `PROTO_ERR_SSC_CARD_NUMBER_FORMAT` unless the input is an upper-case letter
 * followed by 7 characters from `0-9A-Z`.
 */
export function cardNumberCheckChar(first8: string): string {
  if (!/^[A-Z][0-9A-Z]{7}$/.test(first8)) {
    throw new ProtocolError('PROTO_ERR_SSC_CARD_NUMBER_FORMAT', 'expected a letter and 7 sequence characters', { field: 'cardNumber' });
  }
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += charValue(first8[i]!) * CARD_NUMBER_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/**
 * Validates a 9-character card number including its check character [V2 app. A].
 * @throws ProtocolError `PROTO_ERR_SSC_CARD_NUMBER_FORMAT` on a bad shape,
 * `PROTO_ERR_SSC_CARD_NUMBER_CHECK` when the check character is wrong.
 */
export function validateCardNumber(cardNumber: string): void {
  if (!/^[A-Z][0-9A-Z]{7}[0-9X]$/.test(cardNumber)) {
    throw new ProtocolError('PROTO_ERR_SSC_CARD_NUMBER_FORMAT', 'expected 9 characters: letter, 7 sequence, check', { field: 'cardNumber' });
  }
  const expected = cardNumberCheckChar(cardNumber.slice(0, 8));
  if (cardNumber[8] !== expected) throw new ProtocolError('PROTO_ERR_SSC_CARD_NUMBER_CHECK', undefined, { field: 'cardNumber' });
}

/**
 * Checks a card number as read from a card (EF05 `07`) [V2 app. A; INFER ssc-card §3.2–3.3]: a
 * lower-case `x` check character is normalised to `X`, then the number must pass
 * {@link validateCardNumber}. Returns the normalised value.
 * @throws ProtocolError `PROTO_ERR_SSC_CARD_NUMBER_FORMAT` / `PROTO_ERR_SSC_CARD_NUMBER_CHECK`.
 */
export function checkCardNumber(cardNumber: string): string {
  const normalised = cardNumber.length === 9 && cardNumber[8] === 'x' ? `${cardNumber.slice(0, 8)}X` : cardNumber;
  validateCardNumber(normalised);
  return normalised;
}

/** Boolean form of {@link validateCardNumber}. */
export function isValidCardNumber(cardNumber: string): boolean {
  try {
    validateCardNumber(cardNumber);
    return true;
  } catch {
    return false;
  }
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK = '10X98765432';

/**
 * Check character of a citizen ID from its first 17 digits [GB 11643 §5.2, ISO 7064 MOD 11-2].
 * @throws ProtocolError `PROTO_ERR_SSC_SSN_FORMAT` unless the input is 17 decimal digits.
 */
export function citizenIdCheckChar(first17: string): string {
  if (!/^[0-9]{17}$/.test(first17)) throw new ProtocolError('PROTO_ERR_SSC_SSN_FORMAT', 'expected 17 digits', { field: 'ssn' });
  let s = 0;
  for (let i = 0; i < 17; i++) s += (first17.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[s % 11]!;
}

/** True when `ssn` has the shape of a citizen ID: 17 digits and `[0-9Xx]`. */
export function looksLikeCitizenId(ssn: string): boolean {
  return /^[0-9]{17}[0-9Xx]$/.test(ssn);
}

/** Normalises a citizen ID: lower-case `x` becomes `X` [INFER ssc-card §3.3]. */
export function normalizeCitizenId(ssn: string): string {
  return looksLikeCitizenId(ssn) ? ssn.toUpperCase() : ssn;
}

/** The parts of a validated citizen ID. */
export interface CitizenId {
  /** Normalised 18 characters. */
  readonly id: string;
  /** Address code (GB/T 2260), 6 digits. */
  readonly addressCode: string;
  /** Birth date `YYYYMMDD`. */
  readonly birthDate: string;
  /** Sequence code, 3 digits. */
  readonly sequence: string;
  /** Sex from the parity of the sequence: odd = male (`1`), even = female (`2`). */
  readonly sex: '1' | '2';
}

/**
 * Validates an 18-character citizen ID [GB 11643 §4–5] and returns its parts.
 * @throws ProtocolError `PROTO_ERR_SSC_SSN_FORMAT` on a bad shape or impossible birth date,
 * `PROTO_ERR_SSC_SSN_CHECK` when the check character is wrong.
 */
export function validateCitizenId(ssn: string): CitizenId {
  if (!looksLikeCitizenId(ssn)) throw new ProtocolError('PROTO_ERR_SSC_SSN_FORMAT', 'expected 17 digits and a check character', { field: 'ssn' });
  const id = ssn.toUpperCase();
  const birthDate = id.slice(6, 14);
  if (!isValidDate(birthDate)) throw new ProtocolError('PROTO_ERR_SSC_SSN_FORMAT', 'birth date is not a calendar day', { field: 'ssn' });
  if (citizenIdCheckChar(id.slice(0, 17)) !== id[17]) throw new ProtocolError('PROTO_ERR_SSC_SSN_CHECK', undefined, { field: 'ssn' });
  const sequence = id.slice(14, 17);
  return { id, addressCode: id.slice(0, 6), birthDate, sequence, sex: Number(sequence) % 2 === 1 ? '1' : '2' };
}

/**
 * Checks a social security number as found on a card: values shaped like a citizen ID must pass
 * {@link validateCitizenId}; any other value (a non-resident holder's number) is accepted as is
 * [INFER ssc-card §3.3]. Returns the normalised value.
 * @throws ProtocolError `PROTO_ERR_SSC_SSN_FORMAT` / `PROTO_ERR_SSC_SSN_CHECK` as {@link validateCitizenId}.
 */
export function checkSsn(ssn: string): string {
  return looksLikeCitizenId(ssn) ? validateCitizenId(ssn).id : ssn;
}
