/**
 * Masking of personal data for logs and telemetry [architecture "Security model"]: SSN keeps its
 * first 3 and last 2 characters, the name its first character, the card number its first and last
 * character, the card ID its region code; birth data is hidden. Full values stay with the services
 * that need them.
 */
import { parseReadCardBas } from './national-interface.ts';

function keep(value: string, head: number, tail: number): string {
  const chars = Array.from(value);
  if (chars.length <= head + tail) return '*'.repeat(chars.length);
  return chars.slice(0, head).join('') + '*'.repeat(chars.length - head - tail) + chars.slice(chars.length - tail).join('');
}

/** `110101199003071234` → `110*************34`. */
export function maskSsn(ssn: string): string {
  return keep(ssn, 3, 2);
}

/** `张三丰` → `张**`; a one-character name becomes `*`. */
export function maskName(name: string): string {
  return keep(name, 1, 0);
}

/** `X00000019` → `X*******9`. */
export function maskCardNumber(cardNumber: string): string {
  return keep(cardNumber, 1, 1);
}

/** Card ID: the 6-digit region stays, the rest is masked. */
export function maskCardId(cardId: string): string {
  return keep(cardId, 6, 0);
}

/**
 * The one table of personal-data fields of a card-holder record and how each is masked; used by
 * {@link maskPersonalData} and by the terminal logger's redaction. Masking is idempotent: a masked
 * value masks to itself.
 */
export const PERSONAL_FIELD_MASKERS: Readonly<Record<string, (v: string) => string>> = {
  ssn: maskSsn,
  name: maskName,
  cardNumber: maskCardNumber,
  cardId: maskCardId,
  birthDate: (v) => '*'.repeat(v.length),
  birthplace: (v) => '*'.repeat(v.length),
  resetInfo: (v) => keep(v, 18, 0), // the historical bytes end with the card serial
};

/**
 * Every personal-data field a log record can carry: the record fields of
 * {@link PERSONAL_FIELD_MASKERS} plus the whole `iReadCardBas` string (`readCardBas`, masked by
 * {@link maskReadCardBas}, which is applied once: a masked string no longer parses).
 */
export const PERSONAL_DATA_MASKERS: Readonly<Record<string, (v: string) => string>> = {
  ...PERSONAL_FIELD_MASKERS,
  readCardBas: (v) => maskReadCardBas(v),
};

const MASKERS = PERSONAL_FIELD_MASKERS;

/**
 * Copy of `record` with the personal fields masked (`ssn`, `name`, `cardNumber`, `cardId`,
 * `birthDate`, `birthplace`, `resetInfo`); other properties are copied unchanged.
 */
export function maskPersonalData<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const m = MASKERS[k];
    out[k] = m !== undefined && typeof v === 'string' ? m(v) : v;
  }
  return out as T;
}

/**
 * Masks an `iReadCardBas` output string field by field; a string that does not parse is replaced
 * entirely by `***` (it may still hold personal data).
 */
export function maskReadCardBas(text: string): string {
  let info;
  try {
    info = parseReadCardBas(text);
  } catch {
    return '***';
  }
  const m = maskPersonalData(info);
  return [m.regionCode, m.ssn, m.cardNumber, m.cardId, m.name, m.resetInfo, m.specVersion, m.issueDate, m.expiryDate, m.terminalNumber, m.deviceNumber].map((f) => `${f}|`).join('');
}
