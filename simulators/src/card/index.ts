/**
 * Simulated cards for OneCard: the social security card (2.00 / 3.00 profiles, T=0 or T=1), the
 * transit-only card, the PSAM, their personalisation files and the T=0 TPDU adapter. Factories take
 * validated profiles; `loadCardFile` / `createCardFromFile` read the JSON files of
 * `simulators/cards/`.
 */
import { buildAtr, sscHistoricalBytes } from './atr.ts';
import { tlv } from './apdu.ts';
import type { Family } from './crypto.ts';
import { type Df, type Ef, type RecordEf, FREE, addChild, df } from './fs.ts';
import { cardKey, psamStoredKey, purseIssuerKey } from './keys.ts';
import { type CardFile, type PsamProfile, type SscProfile, type TransitCardProfile, bcdDigits, parsePsamProfile, parseSscProfile, parseTransitCardProfile, readJsonFile } from './profile.ts';
import { Psam } from './psam.ts';
import { type RandomSource, seededRandom } from './random.ts';
import { TransitApp } from './transit.ts';
import type { SimulatedCard } from './types.ts';
import { SSSE_KEY, UserCard, financialDf, pinBytes } from './user-card.ts';
import { SimulatorError } from '../errors.ts';
import { gbkFit } from './gbk.ts';

export type { SimulatedCard } from './types.ts';
export type { RandomSource } from './random.ts';
export type { CardFile, SscProfile, TransitCardProfile, TransitProfile, PsamProfile, PsamKeyProfile, PsamPurseKeyProfile, FinancialProfile, SsseRootKeys } from './profile.ts';
export type { TearPoint } from './transit.ts';
export type { Family } from './crypto.ts';
export { seededRandom } from './random.ts';
export { t0Transmit } from './t0.ts';
export { UserCard, SSSE_KEY, pinBytes } from './user-card.ts';
export { Psam, PSAM_AID } from './psam.ts';
export { TransitApp, TRANSIT_AID } from './transit.ts';
export { buildAtr, sscHistoricalBytes } from './atr.ts';
export { parseSscProfile, parseTransitCardProfile, cardNumberCheck, citizenIdCheck } from './profile.ts';
export { provinceFactor, cityFactor, cardFactor, cardKey, purseCardKey, purseIssuerKey, psamStoredKey } from './keys.ts';
export { encodeGbk, decodeGbk } from './gbk.ts';
export * as simCrypto from './crypto.ts';

/** SSSE DF name `sx1.sh.社会保障` [SPEC P6 table 1]. */
export const SSSE_NAME = Uint8Array.of(0x73, 0x78, 0x31, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf);

/** Options shared by the factories. */
export interface CardOptions {
  /** Random source for challenges and card randoms; default: seeded from the profile's `seed`. */
  readonly random?: RandomSource;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** `an` item: left-aligned, `00`-padded to `len` [SPEC V2 §7]. */
function an(bytes: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(bytes.subarray(0, len), 0);
  return out;
}

/** `cn` item: BCD digits, right-padded with `F` nibbles to `len` bytes [SPEC V2 §7]. */
function cn(digits: string, len: number): Uint8Array {
  return bcdDigits(digits.padEnd(2 * len, 'F'));
}

function rec(tag: number, value: Uint8Array): Uint8Array {
  return Uint8Array.of(tag, value.length, ...value);
}

function recordEf(fid: number, sfi: number, read: Ef['read'], records: Uint8Array[]): RecordEf {
  return { kind: 'record', fid, sfi, read, records, cyclic: false, maxRecords: 254 };
}

/** Builds an SSC card from a validated profile (see {@link parseSscProfile}). */
export function createSscCard(p: SscProfile, opts: CardOptions = {}): UserCard {
  const random = opts.random ?? seededRandom(p.seed);
  const hist = sscHistoricalBytes(p.chipSupplier, p.cosData, p.manufacturer, p.region, p.cardSerial);
  const cardId = Uint8Array.of(...bcdDigits(p.region), 0xd1, 0x56, 0x00, 0x00, 0x05, ...p.cardSerial, ...p.cardAuthCode);
  // EF05 [SPEC V2 table 10], record order 01..07.
  const ef05 = recordEf(0xef05, 0x05, FREE, [
    rec(0x01, cardId),
    rec(0x02, an(ascii(p.cardType), 1)),
    rec(0x03, an(ascii(p.version), 4)),
    rec(0x04, cn(p.initOrg, 12)),
    rec(0x05, cn(p.issueDate, 4)),
    rec(0x06, cn(p.expiryDate, 4)),
    rec(0x07, an(ascii(p.cardNumber), 9)),
  ]);
  // EF06: 08, 09, 4E, 0A–0D [ssc-card §5.2 item 4]; the name spills from 09 (30) into 4E (20).
  const cut = gbkFit(p.nameGbk, 30);
  const ef06Records = [rec(0x08, an(ascii(p.ssn), 18)), rec(0x09, an(p.nameGbk.subarray(0, cut), 30))];
  if (p.nameExtension) ef06Records.push(rec(0x4e, an(p.nameGbk.subarray(cut), 20)));
  ef06Records.push(rec(0x0a, an(ascii(p.sex), 1)), rec(0x0b, cn(p.nation, 1)), rec(0x0c, cn(p.birthplace, 3)), rec(0x0d, cn(p.birthDate, 4)));
  const ef06 = recordEf(0xef06, 0x06, p.ef06Protected ? { kind: 'extAuth', keyId: SSSE_KEY.RKSSSE } : FREE, ef06Records);
  const ef07: Ef = { kind: 'binary', fid: 0xef07, sfi: 0x07, read: FREE, data: new Uint8Array(0x300) };
  const ef08: Ef = { kind: 'binary', fid: 0xef08, sfi: 0x08, read: FREE, data: new Uint8Array(0x1000) };
  const dir = recordEf(0xef1e, 0x1e, FREE, []);
  const alg = p.algorithm === 'sm4' ? 0x03 : 0x01;
  const fci = (): Uint8Array => {
    const a5 = Uint8Array.of(...tlv(0x88, Uint8Array.of(0x1e)), ...tlv(0x9f0c, p.fciAlgorithm ? tlv(0x86, Uint8Array.of(alg)) : new Uint8Array(0)));
    return tlv(0x6f, Uint8Array.of(...tlv(0x84, SSSE_NAME), ...tlv(0xa5, a5)));
  };
  const ssseDf = df(0xddf1, SSSE_NAME, 'ssse', fci, [ef05, ef06, ef07, ef08, dir]);
  const mf = df(0x3f00, undefined, 'mf', () => tlv(0x6f, tlv(0x84, ascii('MF'))), [ssseDf]);
  const k = (root: Uint8Array): Uint8Array => cardKey(p.algorithm, root, p.region, hist, p.level2Rule);
  const keys = new Map<number, Uint8Array>([
    [SSSE_KEY.IRK, k(p.keys.irk)],
    [SSSE_KEY.STK, k(p.keys.stk)],
    [SSSE_KEY.PUK, k(p.keys.puk)],
    [SSSE_KEY.RKSSSE, k(p.keys.rkssse)],
  ]);
  const transit = p.transit === undefined ? undefined : new TransitApp(p.transit, random);
  if (transit !== undefined) addChild(mf, transit.df);
  let financial;
  if (p.financial !== undefined) {
    const f = p.financial;
    const panBcd = cn(p.financial.pan, Math.ceil(f.pan.length / 2));
    const track2 = cn(`${f.pan}D${f.expiry}2200000000`, Math.ceil((f.pan.length + 15) / 2));
    const record = tlv(0x70, Uint8Array.of(...tlv(0x57, track2), ...tlv(0x5a, panBcd), ...tlv(0x5f24, bcdDigits(`${f.expiry}${lastDay(f.expiry)}`)), ...tlv(0x5f34, Uint8Array.of(1))));
    financial = financialDf(f.aid, f.label, [recordEf(0x0001, 0x01, FREE, [record])]);
    const pseName = ascii('1PAY.SYS.DDF01');
    const pseDir = recordEf(0x0001, 0x01, FREE, [tlv(0x70, tlv(0x61, Uint8Array.of(...tlv(0x4f, f.aid), ...tlv(0x50, ascii(f.label)), ...tlv(0x87, Uint8Array.of(1)))))]);
    const pse: Df = df(0x1003, pseName, 'pse', () => tlv(0x6f, Uint8Array.of(...tlv(0x84, pseName), ...tlv(0xa5, tlv(0x88, Uint8Array.of(1))))), [pseDir]);
    addChild(mf, pse);
    addChild(mf, financial.df);
  }
  return new UserCard({
    atr: buildAtr(p.protocol, hist),
    protocol: p.protocol,
    random,
    mf,
    ssse: {
      df: ssseDf,
      security: {
        family: p.algorithm,
        keys,
        smKeyId: p.smKey === 'stk' ? SSSE_KEY.STK : SSSE_KEY.PUK,
        extAuthTries: p.extAuthTries,
        pin: p.pin === null ? null : pinBytes(p.pin),
        pinTries: p.pinTries,
      },
    },
    transit,
    financial,
  });
}

function lastDay(yymm: string): string {
  const y = 2000 + Number(yymm.slice(0, 2));
  const m = Number(yymm.slice(2, 4));
  return String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0');
}

/** Builds a transit-only card (MF with the T-Union ADF). */
export function createTransitCard(p: TransitCardProfile, opts: CardOptions = {}): UserCard {
  const random = opts.random ?? seededRandom(p.seed);
  const transit = new TransitApp(p.transit, random);
  const mf = df(0x3f00, undefined, 'mf', () => tlv(0x6f, tlv(0x84, ascii('MF'))), [transit.df]);
  return new UserCard({ atr: buildAtr(p.protocol, p.historicalBytes), protocol: p.protocol, random, mf, ssse: undefined, transit, financial: undefined });
}

/** Builds a PSAM from a validated profile. */
export function createPsam(p: PsamProfile, opts: CardOptions = {}): Psam {
  return new Psam(p, buildAtr(p.protocol, p.historicalBytes), opts.random ?? seededRandom(p.seed));
}

/** Validates a PSAM JSON object. @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function parsePsamProfileJson(json: unknown): PsamProfile {
  return parsePsamProfile(json, (env: Family, root, region, skip) => psamStoredKey(env, root, region, skip), purseIssuerKey);
}

/** Validates any card file by its `kind` (`ssc`, `transit`, `psam`). @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function parseCardFile(json: unknown): CardFile {
  const kind = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['kind'] : undefined;
  if (kind === 'ssc') return { kind, profile: parseSscProfile(json) };
  if (kind === 'transit') return { kind, profile: parseTransitCardProfile(json) };
  if (kind === 'psam') return { kind, profile: parsePsamProfileJson(json) };
  throw new SimulatorError('SIM_ERR_CARD_FILE', 'kind: must be ssc, transit or psam', { field: 'kind' });
}

/** Reads and validates a card file. @throws SimulatorError `SIM_ERR_CARD_FILE` (details.field names the field). */
export function loadCardFile(path: string): CardFile {
  return parseCardFile(readJsonFile(path));
}

/** Builds the card a parsed file describes. */
export function createCard(file: CardFile, opts: CardOptions = {}): SimulatedCard {
  switch (file.kind) {
    case 'ssc':
      return createSscCard(file.profile, opts);
    case 'transit':
      return createTransitCard(file.profile, opts);
    case 'psam':
      return createPsam(file.profile, opts);
  }
}

/** `createCard(loadCardFile(path))`. @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function createCardFromFile(path: string, opts: CardOptions = {}): SimulatedCard {
  return createCard(loadCardFile(path), opts);
}

/** Test-support: a card's own SSSE key, as the issuer would compute it (for checks in tests). */
export function sscCardKey(p: SscProfile, root: Uint8Array): Uint8Array {
  return cardKey(p.algorithm, root, p.region, sscHistoricalBytes(p.chipSupplier, p.cosData, p.manufacturer, p.region, p.cardSerial), p.level2Rule);
}

