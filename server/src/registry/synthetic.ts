/**
 * Synthetic registry rows for tests and `bench/registry.ts`: valid card numbers and citizen ID
 * numbers (check characters computed, [SPEC V2 app. A] and [SPEC GB 11643-1999]) under real
 * region codes, with made-up names. Deterministic in the index; never a real person's data.
 */
import { cardCheckCharacter, idCheckCharacter, type CardInput } from './model.ts';

const SURNAMES = '赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨';
const GIVEN = '一二三四五六七八九十甲乙丙丁戊己庚辛壬癸';
const REGIONS = ['330102', '330106', '330108', '330110', '330203', '330302'] as const;

/** The `i`-th synthetic card number: a district letter, 7 digits, the check character. */
export function syntheticCardNumber(i: number): string {
  const first8 = `${String.fromCharCode(65 + (Math.floor(i / 10_000_000) % 26))}${String(i % 10_000_000).padStart(7, '0')}`;
  return first8 + cardCheckCharacter(first8);
}

/** The `i`-th synthetic citizen ID number (birth dates from 1950 on, valid check character). */
export function syntheticIdNumber(i: number): string {
  const region = REGIONS[i % REGIONS.length]!;
  const d = new Date(Date.UTC(1950, 0, 1) + (Math.floor(i / 1000) % 20_000) * 86_400_000);
  const date = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  const first17 = `${region}${date}${String(i % 1000).padStart(3, '0')}`;
  return first17 + idCheckCharacter(first17);
}

/** A made-up name for index `i`. */
export function syntheticName(i: number): string {
  return `${SURNAMES[i % SURNAMES.length]}${GIVEN[Math.floor(i / SURNAMES.length) % GIVEN.length]}${GIVEN[Math.floor(i / (SURNAMES.length * GIVEN.length)) % GIVEN.length]}`;
}

/** The `i`-th synthetic card, active, 3rd generation. */
export function syntheticCard(i: number): CardInput {
  const id = syntheticIdNumber(i);
  return { cardNumber: syntheticCardNumber(i), idNumber: id, name: syntheticName(i), region: id.slice(0, 6), generation: '3.0', issuedOn: '2024-03-01', expiresOn: '2034-03-01', status: 'active' };
}

/** One CSV line of a card (header: {@link SYNTHETIC_CSV_HEADER}). */
export const SYNTHETIC_CSV_HEADER = 'cardNumber,idNumber,name,region,generation,issuedOn,expiresOn,status';
export function csvLine(c: CardInput): string {
  return `${c.cardNumber},${c.idNumber},${c.name},${c.region},${c.generation},${c.issuedOn},${c.expiresOn},${c.status}`;
}
