/**
 * Builders for the requests a OneCard terminal sends and readers for the answers it uses, on top
 * of the generic message model. The patron identifier (`AA`) is the social security card number;
 * the institution id (`AO`) and terminal password (`AC`) come from the configuration.
 */
import type { Sip2Message } from './codec.ts';
import { sip2Field, sip2Fields } from './codec.ts';
import { parsePatronStatus, type PatronStatusFlag } from './messages.ts';

type Request = Pick<Sip2Message, 'code' | 'fixed' | 'fields'>;

/** Common request context: institution, terminal password, transaction date (`formatSip2Date`). */
export interface Sip2RequestContext {
  readonly institutionId: string;
  readonly terminalPassword: string;
  readonly date: string;
}

const opt = (id: string, v: string | undefined): [string, string][] => (v === undefined ? [] : [[id, v]]);
const BLANK_DATE = ' '.repeat(18);

/** Login (93): CN user, CO password, CP location; plain-text algorithms (`0`). */
export function loginRequest(p: { user: string; password: string; location?: string }): Request {
  return { code: '93', fixed: { uidAlgorithm: '0', pwdAlgorithm: '0' }, fields: [['CN', p.user], ['CO', p.password], ...opt('CP', p.location)] };
}

/** SC Status (99): status 0 (OK), print width, protocol version 2.00. */
export function scStatusRequest(p: { maxPrintWidth?: number } = {}): Request {
  return { code: '99', fixed: { statusCode: '0', maxPrintWidth: String(p.maxPrintWidth ?? 80).padStart(3, '0'), protocolVersion: '2.00' }, fields: [] };
}

/** Patron Status Request (23); language 000 (unknown/default). */
export function patronStatusRequest(c: Sip2RequestContext, patron: string, patronPassword?: string): Request {
  return { code: '23', fixed: { language: '000', transactionDate: c.date }, fields: [['AO', c.institutionId], ['AA', patron], ['AC', c.terminalPassword], ['AD', patronPassword ?? '']] };
}

/** Patron Information (63) with no item summary requested. */
export function patronInformationRequest(c: Sip2RequestContext, patron: string, patronPassword?: string): Request {
  return { code: '63', fixed: { language: '000', transactionDate: c.date, summary: ' '.repeat(10) }, fields: [['AO', c.institutionId], ['AA', patron], ['AC', c.terminalPassword], ...opt('AD', patronPassword)] };
}

/** Checkout (11): no renewal policy, not a no-block transaction. */
export function checkoutRequest(c: Sip2RequestContext, patron: string, item: string): Request {
  return { code: '11', fixed: { scRenewalPolicy: 'N', noBlock: 'N', transactionDate: c.date, nbDueDate: BLANK_DATE }, fields: [['AO', c.institutionId], ['AA', patron], ['AB', item], ['AC', c.terminalPassword]] };
}

/** Checkin (09): return date = now. `location` is the current location (AP). */
export function checkinRequest(c: Sip2RequestContext, item: string, location: string): Request {
  return { code: '09', fixed: { noBlock: 'N', transactionDate: c.date, returnDate: c.date }, fields: [['AP', location], ['AO', c.institutionId], ['AB', item], ['AC', c.terminalPassword]] };
}

/** Renew (29) of one item for one patron. */
export function renewRequest(c: Sip2RequestContext, patron: string, item: string): Request {
  return { code: '29', fixed: { thirdPartyAllowed: 'N', noBlock: 'N', transactionDate: c.date, nbDueDate: BLANK_DATE }, fields: [['AO', c.institutionId], ['AA', patron], ['AB', item], ['AC', c.terminalPassword]] };
}

/** What a patron status (24) or patron information (64) answer says about the patron. */
export interface Sip2PatronView {
  readonly status: Record<PatronStatusFlag, boolean>;
  /** BL: the library knows this patron (absent: not said). */
  readonly valid: boolean | undefined;
  /** CQ: the password given was right (absent: not said). */
  readonly passwordValid: boolean | undefined;
  readonly name: string | undefined;
  /** BV fee amount, as sent (currency BH). */
  readonly feeAmount: string | undefined;
  readonly currency: string | undefined;
  readonly chargedItems: number | undefined;
  readonly overdueItems: number | undefined;
  readonly fineItems: number | undefined;
  /** PA (expiration date, an extension most Chinese systems send). */
  readonly expires: string | undefined;
  readonly screenMessages: readonly string[];
}

const yn = (v: string | undefined): boolean | undefined => (v === undefined ? undefined : v === 'Y');
const count = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

export function readPatron(msg: Sip2Message): Sip2PatronView {
  return {
    status: parsePatronStatus(msg.fixed['patronStatus'] ?? ''),
    valid: yn(sip2Field(msg, 'BL')),
    passwordValid: yn(sip2Field(msg, 'CQ')),
    name: sip2Field(msg, 'AE'),
    feeAmount: sip2Field(msg, 'BV'),
    currency: sip2Field(msg, 'BH'),
    chargedItems: count(msg.fixed['chargedItemsCount']),
    overdueItems: count(msg.fixed['overdueItemsCount']),
    fineItems: count(msg.fixed['fineItemsCount']),
    expires: sip2Field(msg, 'PA'),
    screenMessages: sip2Fields(msg, 'AF'),
  };
}

/** What a checkout (12), renew (30) or checkin (10) answer says. */
export interface Sip2ItemResult {
  readonly ok: boolean;
  readonly item: string | undefined;
  readonly title: string | undefined;
  /** AH due date (checkout, renew), as sent. */
  readonly dueDate: string | undefined;
  readonly feeAmount: string | undefined;
  readonly screenMessages: readonly string[];
}

export function readItemResult(msg: Sip2Message): Sip2ItemResult {
  return {
    ok: msg.fixed['ok'] === '1',
    item: sip2Field(msg, 'AB'),
    title: sip2Field(msg, 'AJ'),
    dueDate: sip2Field(msg, 'AH'),
    feeAmount: sip2Field(msg, 'BV'),
    screenMessages: sip2Fields(msg, 'AF'),
  };
}
