/**
 * Personalisation files for the simulated cards: the JSON schema (by example in
 * `simulators/cards/*.json`), its validation, and the normalised profiles the card factories take.
 * Every rejection is a `SimulatorError` `SIM_ERR_CARD_FILE` whose `details.field` names the JSON
 * path that failed. Keys in these files are fixed TEST keys; a file must say so with
 * `"testKeys": true`, and the loader refuses anything else.
 */
import { readFileSync } from 'node:fs';
import { SimulatorError } from '../errors.ts';
import type { Family } from './crypto.ts';
import { encodeGbk, gbkFit } from './gbk.ts';

/** Level-1 (issuer root) keys of the SSSE, each 16 bytes, of the card's key family. */
export interface SsseRootKeys {
  readonly irk: Uint8Array;
  readonly rkssse: Uint8Array;
  readonly puk: Uint8Array;
  readonly stk: Uint8Array;
}

export interface TransitProfile {
  readonly issuerId: Uint8Array;
  readonly appType: number;
  readonly appVersion: number;
  /** 10 bytes BCD, the application serial; its rightmost 8 bytes disperse the purse keys. */
  readonly serial: Uint8Array;
  readonly startDate: string;
  readonly expiryDate: string;
  readonly balance: number;
  readonly overdraftLimit: number;
  readonly keyIndexes: readonly number[];
  readonly keyVersion: number;
  readonly algorithmId: number;
  readonly atc: number;
  /** ATC accepted by GET TRANSACTION PROVE: `next` = INITIALIZE's ATC + 1, `same` = INITIALIZE's ATC. */
  readonly proveAtc: 'next' | 'same' | 'either';
  /** Second dispersion factor (8 bytes) [ONECARD]: MPK root → issuer key → DPK. Defaults to the issuer ID. */
  readonly issuerFactor: Uint8Array;
  readonly mpk: Uint8Array;
  readonly mtk: Uint8Array;
}

export interface FinancialProfile {
  readonly aid: Uint8Array;
  readonly pan: string;
  readonly expiry: string;
  readonly label: string;
}

export interface SscProfile {
  readonly version: string;
  readonly algorithm: Family;
  readonly protocol: 0 | 1;
  readonly seed: number;
  readonly region: string;
  readonly cardSerial: Uint8Array;
  readonly cardAuthCode: Uint8Array;
  readonly cardType: string;
  readonly initOrg: string;
  readonly cardNumber: string;
  readonly ssn: string;
  readonly name: string;
  readonly nameGbk: Uint8Array;
  readonly nameExtension: boolean;
  readonly sex: string;
  readonly nation: string;
  readonly birthplace: string;
  readonly birthDate: string;
  readonly issueDate: string;
  readonly expiryDate: string;
  readonly pin: string | null;
  readonly pinTries: number;
  readonly extAuthTries: number;
  /** EF06 read needs external authentication with RKSSSE (`0A`) — default: version 3.x. */
  readonly ef06Protected: boolean;
  /** Include `86` (algorithm) in the SSSE FCI `9F0C`. */
  readonly fciAlgorithm: boolean;
  /** Level-2 factor rule: `sc-if` applies the Zhejiang (`33`) rule of SC-IF §10.3, `generic` never does. */
  readonly level2Rule: 'generic' | 'sc-if';
  /** Key checking the `8424` MAC and decrypting its PIN block (default STK, per the HSM trace). */
  readonly smKey: 'stk' | 'puk';
  readonly chipSupplier: Uint8Array;
  readonly cosData: Uint8Array;
  readonly manufacturer: Uint8Array;
  readonly keys: SsseRootKeys;
  readonly transit: TransitProfile | undefined;
  readonly financial: FinancialProfile | undefined;
}

export interface TransitCardProfile {
  readonly protocol: 0 | 1;
  readonly seed: number;
  readonly historicalBytes: Uint8Array;
  readonly transit: TransitProfile;
}

export interface PsamKeyProfile {
  readonly env: Family;
  readonly id: number;
  readonly usage: number;
  /** The key as stored in the PSAM (already dispersed down to its level). */
  readonly key: Uint8Array;
}

export interface PsamPurseKeyProfile {
  readonly version: number;
  readonly algorithmId: number;
  /** 2 = MOT/issuer root (factors serial ‖ issuer factor), 1 = issuer key (factor serial). */
  readonly levels: 1 | 2;
  readonly key: Uint8Array;
}

export interface PsamProfile {
  readonly protocol: 0 | 1;
  readonly seed: number;
  readonly terminalNumber: string;
  readonly serial: string;
  readonly issuerId: number;
  readonly purchaseKeyIndex: number;
  readonly transactionSerial: number;
  readonly historicalBytes: Uint8Array;
  readonly keys: readonly PsamKeyProfile[];
  readonly purseKeys: readonly PsamPurseKeyProfile[];
}

export type CardFile =
  | { readonly kind: 'ssc'; readonly profile: SscProfile }
  | { readonly kind: 'transit'; readonly profile: TransitCardProfile }
  | { readonly kind: 'psam'; readonly profile: PsamProfile };

// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function fail(field: string, why: string): never {
  throw new SimulatorError('SIM_ERR_CARD_FILE', `${field}: ${why}`, { field });
}

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'must be an object');
  return v as Obj;
}

function str(o: Obj, key: string, path: string, re?: RegExp, why?: string): string {
  const v = o[key];
  const field = path + key;
  if (typeof v !== 'string') fail(field, 'must be a string');
  if (re !== undefined && !re.test(v)) fail(field, why ?? `must match ${re}`);
  return v;
}

function optStr(o: Obj, key: string, path: string, dflt: string, re?: RegExp, why?: string): string {
  return o[key] === undefined ? dflt : str(o, key, path, re, why);
}

function int(o: Obj, key: string, path: string, min: number, max: number, dflt?: number): number {
  const v = o[key];
  const field = path + key;
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer ${min}..${max}`);
  return v;
}

function bool(o: Obj, key: string, path: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail(path + key, 'must be true or false');
  return v;
}

function hex(o: Obj, key: string, path: string, lengths: readonly number[]): Uint8Array {
  const s = str(o, key, path, /^(?:[0-9A-Fa-f]{2})*$/, 'must be hex');
  const b = Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
  if (!lengths.includes(b.length)) fail(path + key, `must be ${lengths.join(' or ')} bytes`);
  return b;
}

function optHex(o: Obj, key: string, path: string, lengths: readonly number[], dflt: string): Uint8Array {
  if (o[key] !== undefined) return hex(o, key, path, lengths);
  return Uint8Array.from(dflt.match(/../g) ?? [], (x) => parseInt(x, 16));
}

function oneOf<T extends string | number>(o: Obj, key: string, path: string, allowed: readonly T[], dflt?: T): T {
  const v = o[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (!allowed.includes(v as T)) fail(path + key, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function bcd(digits: string): Uint8Array {
  return Uint8Array.from(digits.match(/../g) ?? [], (x) => parseInt(x, 16));
}

const DATE = /^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/;

/** True when `yyyymmdd` (already matching {@link DATE}) names a day of the calendar: no 30 February. */
function isCalendarDay(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
  return d >= 1 && d <= days;
}

/** A `YYYYMMDD` item that must be a real calendar day [SPEC V2 table 10: cn dates]. */
function date(o: Obj, key: string, path: string): string {
  const v = str(o, key, path, DATE, 'must be a YYYYMMDD date');
  if (!isCalendarDay(v)) fail(path + key, `${v} is not a day of the calendar`);
  return v;
}

/** Card number check character [SPEC V2 app. A]: weights 3 7 9 10 5 8 4 2, A=10 … Z=35. */
export function cardNumberCheck(first8: string): string {
  const w = [3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 8; i++) s += parseInt(first8[i]!, 36) * w[i]!;
  const c = 11 - (s % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** Citizen-ID check character [GB 11643-1999], ISO 7064 MOD 11-2. */
export function citizenIdCheck(first17: string): string {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(first17[i]) * (2 ** (17 - i) % 11);
  return '10X98765432'[s % 11]!;
}

function testKeysFlag(root: Obj): void {
  if (root['testKeys'] !== true) fail('testKeys', 'must be true: simulators only take fixed test keys, never real ones');
}

function transitProfile(o: Obj, path: string): TransitProfile {
  const keys = obj(o['keys'], path + 'keys');
  const issuerId = hex(o, 'issuerId', path, [8]);
  const issuerFactor = o['issuerFactor'] === undefined ? issuerId : hex(o, 'issuerFactor', path, [8]);
  // The PSAM disperses the purse root with the issuer ID the card reports (INITIALIZE FOR PURCHASE
  // / the transit FCI), so a card keyed with any other factor fails every MAC1 with 9302.
  if (issuerFactor.some((b, i) => b !== issuerId[i])) fail(path + 'issuerFactor', 'must equal transit.issuerId: terminals and PSAMs disperse the purse keys with the issuer ID the card reports');
  const indexes = o['keyIndexes'] ?? [1];
  if (!Array.isArray(indexes) || indexes.length === 0 || !indexes.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) fail(path + 'keyIndexes', 'must be a non-empty array of bytes');
  return {
    issuerId,
    appType: int(o, 'appType', path, 0, 255, 2),
    appVersion: int(o, 'appVersion', path, 0, 255, 1),
    serial: bcd(str(o, 'serial', path, /^\d{20}$/, 'must be 20 digits')),
    startDate: date(o, 'startDate', path),
    expiryDate: date(o, 'expiryDate', path),
    balance: int(o, 'balance', path, 0, 0x7fffffff, 0),
    overdraftLimit: int(o, 'overdraftLimit', path, 0, 0xffffff, 0),
    keyIndexes: indexes as number[],
    keyVersion: int(o, 'keyVersion', path, 0, 255, 1),
    algorithmId: int(o, 'algorithmId', path, 0, 255, 0),
    atc: int(o, 'atc', path, 0, 0xffff, 0),
    proveAtc: oneOf(o, 'proveAtc', path, ['next', 'same', 'either'] as const, 'next'),
    issuerFactor,
    mpk: hex(keys, 'mpk', path + 'keys.', [16]),
    mtk: hex(keys, 'mtk', path + 'keys.', [16]),
  };
}

function financialProfile(o: Obj, path: string): FinancialProfile {
  return {
    aid: optHex(o, 'aid', path, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 'A000000333010101'),
    pan: str(o, 'pan', path, /^\d{12,19}$/, 'must be 12 to 19 digits'),
    expiry: str(o, 'expiry', path, /^\d\d(0[1-9]|1[0-2])$/, 'must be YYMM'),
    label: optStr(o, 'label', path, 'UnionPay Debit', /^[\x20-\x7e]{1,16}$/, 'must be 1-16 printable ASCII characters'),
  };
}

/** Validates an SSC personalisation object. @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function parseSscProfile(json: unknown): SscProfile {
  const o = obj(json, '(root)');
  testKeysFlag(o);
  const version = str(o, 'version', '', /^[123]\.\d\d$/, 'must look like 2.00 or 3.00');
  const algorithm = oneOf<Family>(o, 'algorithm', '', ['des', 'sm4'], version.startsWith('3') ? 'sm4' : 'des');
  const region = str(o, 'region', '', /^\d{6}$/, 'must be a 6-digit region code');
  let cardSerial: Uint8Array;
  let cardAuthCode: Uint8Array;
  if (o['cardIdentificationCode'] !== undefined) {
    const id = hex(o, 'cardIdentificationCode', '', [16]);
    const idHex = Array.from(id, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
    if (idHex.slice(0, 6) !== region) fail('cardIdentificationCode', `region ${idHex.slice(0, 6)} differs from region ${region}`);
    if (idHex.slice(6, 16) !== 'D156000005') fail('cardIdentificationCode', 'bytes 3..7 must be the SSC application ID D156000005');
    cardSerial = id.slice(8, 12);
    cardAuthCode = id.slice(12, 16);
  } else {
    cardSerial = hex(o, 'cardSerial', '', [4]);
    cardAuthCode = optHex(o, 'cardAuthCode', '', [4], 'FFFFFFFF');
  }
  const cardNumber = str(o, 'cardNumber', '', /^[A-Z][0-9A-Z]{7}[0-9X]$/, 'must be 1 upper-case letter, 7 characters and a check character');
  if (cardNumberCheck(cardNumber.slice(0, 8)) !== cardNumber[8]) fail('cardNumber', `check character should be ${cardNumberCheck(cardNumber.slice(0, 8))}`);
  const ssn = str(o, 'ssn', '', /^[\x20-\x7e]{1,18}$/, 'must be 1-18 printable ASCII characters');
  if (/^\d{17}[0-9Xx]$/.test(ssn) && citizenIdCheck(ssn) !== ssn[17]!.toUpperCase()) fail('ssn', `citizen ID check character should be ${citizenIdCheck(ssn)}`);
  const name = str(o, 'name', '');
  if (name.length === 0) fail('name', 'must not be empty');
  const nameGbk = encodeGbk(name);
  if (nameGbk === undefined) fail('name', 'has a character that GBK cannot encode');
  const nameExtension = bool(o, 'nameExtension', '', !version.startsWith('1'));
  const maxName = nameExtension ? 50 : 30;
  if (nameGbk.length > maxName) fail('name', `is ${nameGbk.length} GBK bytes; at most ${maxName} fit (tag 09${nameExtension ? ' + 4E' : ''})`);
  // The name spills from 09 into 4E at a character boundary; a 2-byte character straddling byte 30
  // moves whole into 4E, so 4E must still hold the rest without cutting its last character.
  if (nameExtension && nameGbk.length - gbkFit(nameGbk, 30) > 20) {
    fail('name', `is ${nameGbk.length} GBK bytes; split at a character boundary after byte ${gbkFit(nameGbk, 30)} the rest does not fit the 20 bytes of 4E`);
  }
  const pin = o['pin'] === null ? null : str(o, 'pin', '', /^\d{4,16}$/, 'must be 4 to 16 digits, or null');
  const atr = o['atr'] === undefined ? {} : obj(o['atr'], 'atr');
  const keys = obj(o['keys'], 'keys');
  const initOrgDefault = `9156000002${region}${region}01`;
  return {
    version,
    algorithm,
    protocol: oneOf(o, 'protocol', '', [0, 1] as const, 0),
    seed: int(o, 'seed', '', 0, 0xffffffff, 1),
    region,
    cardSerial,
    cardAuthCode,
    cardType: optStr(o, 'cardType', '', '3', /^[1-4]$/, 'must be 1, 2, 3 or 4'),
    initOrg: optStr(o, 'initOrg', '', initOrgDefault, /^\d{24}$/, 'must be 24 digits'),
    cardNumber,
    ssn,
    name,
    nameGbk,
    nameExtension,
    sex: str(o, 'sex', '', /^[129]$/, 'must be 1, 2 or 9'),
    nation: str(o, 'nation', '', /^\d\d$/, 'must be 2 digits (GB 3304)'),
    birthplace: str(o, 'birthplace', '', /^\d{6}$/, 'must be a 6-digit region code'),
    birthDate: date(o, 'birthDate', ''),
    issueDate: date(o, 'issueDate', ''),
    expiryDate: date(o, 'expiryDate', ''),
    pin,
    pinTries: int(o, 'pinTries', '', 1, 15, 3),
    extAuthTries: int(o, 'extAuthTries', '', 1, 15, 5),
    ef06Protected: bool(o, 'ef06Protected', '', version.startsWith('3')),
    fciAlgorithm: bool(o, 'fciAlgorithm', '', true),
    level2Rule: oneOf(o, 'level2Rule', '', ['generic', 'sc-if'] as const, 'sc-if'),
    smKey: oneOf(o, 'smKey', '', ['stk', 'puk'] as const, 'stk'),
    chipSupplier: optHex(atr, 'chipSupplier', 'atr.', [2], '0081'),
    cosData: optHex(atr, 'cosData', 'atr.', [3], '4F4E45'),
    manufacturer: optHex(atr, 'manufacturer', 'atr.', [2], '8697'),
    keys: {
      irk: hex(keys, 'irk', 'keys.', [16]),
      rkssse: hex(keys, 'rkssse', 'keys.', [16]),
      puk: hex(keys, 'puk', 'keys.', [16]),
      stk: hex(keys, 'stk', 'keys.', [16]),
    },
    transit: o['transit'] === undefined ? undefined : transitProfile(obj(o['transit'], 'transit'), 'transit.'),
    financial: o['financial'] === undefined ? undefined : financialProfile(obj(o['financial'], 'financial'), 'financial.'),
  };
}

/** Validates a transit-only card. @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function parseTransitCardProfile(json: unknown): TransitCardProfile {
  const o = obj(json, '(root)');
  testKeysFlag(o);
  return {
    protocol: oneOf(o, 'protocol', '', [0, 1] as const, 1),
    seed: int(o, 'seed', '', 0, 0xffffffff, 1),
    historicalBytes: o['historicalBytes'] === undefined ? new Uint8Array(0) : hex(o, 'historicalBytes', '', Array.from({ length: 16 }, (_, i) => i)),
    transit: transitProfile(obj(o['transit'], 'transit'), 'transit.'),
  };
}

/** Validates a PSAM file. @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function parsePsamProfile(json: unknown, disperseForLevel: (env: Family, root: Uint8Array, region: string, skip: number) => Uint8Array, disperseIssuer: (root: Uint8Array, factor: Uint8Array) => Uint8Array): PsamProfile {
  const o = obj(json, '(root)');
  testKeysFlag(o);
  const keysJson = o['keys'] ?? [];
  if (!Array.isArray(keysJson)) fail('keys', 'must be an array');
  const keys = keysJson.map((k: unknown, i: number): PsamKeyProfile => {
    const path = `keys[${i}].`;
    const e = obj(k, `keys[${i}]`);
    const env = oneOf<Family>(e, 'env', path, ['des', 'sm4']);
    const usage = hex(e, 'usage', path, [1])[0]!;
    const levels = usage >> 5;
    if (levels > 3) fail(path + 'usage', 'at most 3 dispersion levels');
    const root = hex(e, 'root', path, [16]);
    const skip = 3 - levels;
    const region = skip > 0 ? str(e, 'region', path, /^\d{6}$/, `must be the 6-digit region to disperse the root down ${skip} level(s)`) : '';
    return { env, id: hex(e, 'id', path, [1])[0]!, usage, key: skip > 0 ? disperseForLevel(env, root, region, skip) : root };
  });
  const purseJson = o['purseKeys'] ?? [];
  if (!Array.isArray(purseJson)) fail('purseKeys', 'must be an array');
  const purseKeys = purseJson.map((k: unknown, i: number): PsamPurseKeyProfile => {
    const path = `purseKeys[${i}].`;
    const e = obj(k, `purseKeys[${i}]`);
    const levels = oneOf(e, 'levels', path, [1, 2] as const, 2);
    const root = hex(e, 'root', path, [16]);
    return {
      version: int(e, 'version', path, 0, 255),
      algorithmId: int(e, 'algorithmId', path, 0, 255, 0),
      levels,
      key: levels === 1 ? disperseIssuer(root, hex(e, 'issuerFactor', path, [8])) : root,
    };
  });
  return {
    protocol: oneOf(o, 'protocol', '', [0, 1] as const, 0),
    seed: int(o, 'seed', '', 0, 0xffffffff, 1),
    terminalNumber: str(o, 'terminalNumber', '', /^\d{12}$/, 'must be 12 digits'),
    serial: str(o, 'serial', '', /^\d{20}$/, 'must be 20 digits'),
    issuerId: int(o, 'issuerId', '', 0, 255, 1),
    purchaseKeyIndex: int(o, 'purchaseKeyIndex', '', 0, 255, 1),
    transactionSerial: int(o, 'transactionSerial', '', 0, 0xffffffff, 0),
    historicalBytes: optHex(o, 'historicalBytes', '', Array.from({ length: 16 }, (_, i) => i), '5053414D'),
    keys,
    purseKeys,
  };
}

/** Reads and parses a JSON file (no validation). @throws SimulatorError `SIM_ERR_CARD_FILE`. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SimulatorError('SIM_ERR_CARD_FILE', `cannot read ${path}`, { field: '(file)', path }, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new SimulatorError('SIM_ERR_CARD_FILE', `${path} is not JSON`, { field: '(file)', path }, { cause });
  }
}

export { bcd as bcdDigits };
