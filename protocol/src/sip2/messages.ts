/**
 * The SIP2 messages this profile speaks and the layout of their fixed-length fields, as one table
 * [SIP2 2.00 §Messages]. A message is its two-digit code, its fixed fields in order, then
 * variable fields `IDvalue|` in any order. Field kinds say which values a fixed field allows.
 */

/** What a fixed-length field may hold. */
export type Sip2FixedKind =
  /** `Y` or `N` */
  | 'yn'
  /** `Y`, `N` or `U` (unknown) */
  | 'ynu'
  /** `0`/`1` style digits of the given length */
  | 'digits'
  /** `YYYYMMDDZZZZHHMMSS` (ZZZZ: time zone, blanks for local time) */
  | 'date'
  /** `YYYYMMDDZZZZHHMMSS` or 18 blanks (no date given) */
  | 'date-or-blank'
  /** each position `Y` or blank (the 14-position patron status) */
  | 'flags'
  /** any printable ASCII */
  | 'text';

export interface Sip2FixedField {
  readonly name: string;
  readonly length: number;
  readonly kind: Sip2FixedKind;
}

export interface Sip2MessageDef {
  readonly name: string;
  /** Sent by the self-check terminal (SC) or the library system (ACS). */
  readonly from: 'sc' | 'acs';
  readonly fixed: readonly Sip2FixedField[];
  /** The code of the answer (requests only). */
  readonly response?: string;
}

const f = (name: string, length: number, kind: Sip2FixedKind): Sip2FixedField => ({ name, length, kind });
const DATE = (name: string): Sip2FixedField => f(name, 18, 'date');

/** Every message of the profile by code [SIP2 2.00 §Messages]. */
export const SIP2_MESSAGES = {
  '93': { name: 'Login', from: 'sc', response: '94', fixed: [f('uidAlgorithm', 1, 'digits'), f('pwdAlgorithm', 1, 'digits')] },
  '94': { name: 'Login Response', from: 'acs', fixed: [f('ok', 1, 'digits')] },
  '99': { name: 'SC Status', from: 'sc', response: '98', fixed: [f('statusCode', 1, 'digits'), f('maxPrintWidth', 3, 'text'), f('protocolVersion', 4, 'text')] },
  '98': {
    name: 'ACS Status', from: 'acs', fixed: [
      f('onlineStatus', 1, 'yn'), f('checkinOk', 1, 'yn'), f('checkoutOk', 1, 'yn'), f('acsRenewalPolicy', 1, 'yn'),
      f('statusUpdateOk', 1, 'yn'), f('offlineOk', 1, 'yn'), f('timeoutPeriod', 3, 'digits'), f('retriesAllowed', 3, 'digits'),
      DATE('dateTimeSync'), f('protocolVersion', 4, 'text'),
    ],
  },
  '23': { name: 'Patron Status Request', from: 'sc', response: '24', fixed: [f('language', 3, 'digits'), DATE('transactionDate')] },
  '24': { name: 'Patron Status Response', from: 'acs', fixed: [f('patronStatus', 14, 'flags'), f('language', 3, 'digits'), DATE('transactionDate')] },
  '63': { name: 'Patron Information', from: 'sc', response: '64', fixed: [f('language', 3, 'digits'), DATE('transactionDate'), f('summary', 10, 'flags')] },
  '64': {
    name: 'Patron Information Response', from: 'acs', fixed: [
      f('patronStatus', 14, 'flags'), f('language', 3, 'digits'), DATE('transactionDate'),
      f('holdItemsCount', 4, 'digits'), f('overdueItemsCount', 4, 'digits'), f('chargedItemsCount', 4, 'digits'),
      f('fineItemsCount', 4, 'digits'), f('recallItemsCount', 4, 'digits'), f('unavailableHoldsCount', 4, 'digits'),
    ],
  },
  '11': { name: 'Checkout', from: 'sc', response: '12', fixed: [f('scRenewalPolicy', 1, 'yn'), f('noBlock', 1, 'yn'), DATE('transactionDate'), f('nbDueDate', 18, 'date-or-blank')] },
  '12': { name: 'Checkout Response', from: 'acs', fixed: [f('ok', 1, 'digits'), f('renewalOk', 1, 'yn'), f('magneticMedia', 1, 'ynu'), f('desensitize', 1, 'ynu'), DATE('transactionDate')] },
  '09': { name: 'Checkin', from: 'sc', response: '10', fixed: [f('noBlock', 1, 'yn'), DATE('transactionDate'), f('returnDate', 18, 'date-or-blank')] },
  '10': { name: 'Checkin Response', from: 'acs', fixed: [f('ok', 1, 'digits'), f('resensitize', 1, 'yn'), f('magneticMedia', 1, 'ynu'), f('alert', 1, 'yn'), DATE('transactionDate')] },
  '29': { name: 'Renew', from: 'sc', response: '30', fixed: [f('thirdPartyAllowed', 1, 'yn'), f('noBlock', 1, 'yn'), DATE('transactionDate'), f('nbDueDate', 18, 'date-or-blank')] },
  '30': { name: 'Renew Response', from: 'acs', fixed: [f('ok', 1, 'digits'), f('renewalOk', 1, 'yn'), f('magneticMedia', 1, 'ynu'), f('desensitize', 1, 'ynu'), DATE('transactionDate')] },
  // [SIP2 2.00 §Request ACS Resend / Request SC Resend]: no fields, a checksum but no sequence number.
  '97': { name: 'Request ACS Resend', from: 'sc', fixed: [] },
  '96': { name: 'Request SC Resend', from: 'acs', fixed: [] },
} as const satisfies Record<string, Sip2MessageDef>;

export type Sip2Code = keyof typeof SIP2_MESSAGES;

export function isSip2Code(code: string): code is Sip2Code {
  return Object.hasOwn(SIP2_MESSAGES, code);
}

/** The 14 positions of the patron status field, in order [SIP2 2.00 §Patron Status Response]. */
export const PATRON_STATUS_FLAGS = [
  'chargePrivilegesDenied', 'renewalPrivilegesDenied', 'recallPrivilegesDenied', 'holdPrivilegesDenied',
  'cardReportedLost', 'tooManyItemsCharged', 'tooManyItemsOverdue', 'tooManyRenewals',
  'tooManyClaimsOfItemsReturned', 'tooManyItemsLost', 'excessiveOutstandingFines', 'excessiveOutstandingFees',
  'recallOverdue', 'tooManyItemsBilled',
] as const;
export type PatronStatusFlag = (typeof PATRON_STATUS_FLAGS)[number];

/** The patron status string as named booleans (`Y` set, blank clear). */
export function parsePatronStatus(s: string): Record<PatronStatusFlag, boolean> {
  const out = {} as Record<PatronStatusFlag, boolean>;
  PATRON_STATUS_FLAGS.forEach((name, i) => { out[name] = s[i] === 'Y'; });
  return out;
}

/** The patron status string with the given flags set. */
export function formatPatronStatus(set: Partial<Record<PatronStatusFlag, boolean>>): string {
  return PATRON_STATUS_FLAGS.map((name) => (set[name] === true ? 'Y' : ' ')).join('');
}
