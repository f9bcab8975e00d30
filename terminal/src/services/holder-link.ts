/**
 * The fleet server link of the kiosk's holder services (docs/kiosk.md): the events whose
 * registration window is open now, and the holder's own data tracker (departments' accesses and
 * consents) and consent withdrawal (docs/data-sharing.md). Every call is made with the terminal's
 * own credentials (HTTP Basic) and names the card number the terminal read from the genuine card
 * after its PIN was verified on it (`pinVerified: true`); the local API never takes a card number
 * from its caller for these. Answers are copied field by field into plain shapes (nothing else the
 * server might send reaches the page), card numbers masked.
 */
import { maskCardNumber } from '@onecard/protocol/ssc';
import { TerminalError } from '../errors.ts';

/** An event open for registration now. */
export interface OpenEvent {
  readonly eventId: string;
  readonly venueId: string;
  readonly name: string;
  readonly date: string;
  readonly capacity: number;
  readonly registered: number;
  readonly opensAt: number;
  readonly closesAt: number;
}

/** One access to the holder's data by a department. */
export interface TrackerAccess {
  readonly at: number;
  readonly department: string;
  /** The department's registered name (when the server has it). */
  readonly departmentName?: string;
  readonly purpose: string;
  readonly call: string;
  readonly released: readonly string[];
  readonly outcome: string;
}

/** One consent the holder gave. */
export interface TrackerConsent {
  readonly id: string;
  readonly department: string;
  readonly departmentName?: string;
  readonly purpose: string;
  readonly grantedAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly cardNumber: string;
}

export interface HolderTracker {
  readonly accesses: readonly TrackerAccess[];
  readonly consents: readonly TrackerConsent[];
}

/** What the holder services ask the fleet server. */
export interface HolderServerLink {
  /** Events of `venueId` (all venues without it) whose registration window is open now. */
  openEvents(venueId: string | undefined): Promise<readonly OpenEvent[]>;
  /** The holder's tracker: accesses (newest first, at most `limit`) and consents. */
  tracker(cardNumber: string, limit: number): Promise<HolderTracker>;
  /** Withdraws one consent of the holder; `false` when it was already withdrawn. */
  revokeConsent(consentId: string, cardNumber: string): Promise<boolean>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 256) : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const list = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v.slice(0, 500) : []);
const named = (v: unknown): { departmentName?: string } => (typeof v === 'string' && v !== '' ? { departmentName: v.slice(0, 128) } : {});
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

/**
 * The link over HTTP with the terminal's credentials. Unreachable server or a 5xx:
 * `TERM_ERR_HOLDER_OFFLINE`; a refusal (4xx with an `SRV_ERR_*` code): `TERM_ERR_HOLDER_REFUSED`
 * with `details.serverCode`.
 */
export function httpHolderServerLink(o: { readonly serverUrl: string; readonly terminalId: string; readonly password: string; readonly timeoutMs?: number; readonly fetch?: typeof fetch }): HolderServerLink {
  const authorization = `Basic ${Buffer.from(`${o.terminalId}:${o.password}`, 'utf8').toString('base64')}`;
  const call = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    let res: Response;
    try {
      res = await (o.fetch ?? fetch)(`${o.serverUrl}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
      });
    } catch (e) {
      throw new TerminalError('TERM_ERR_HOLDER_OFFLINE', 'fleet server unreachable', {}, { cause: e });
    }
    const text = (await res.text()).slice(0, 4 * 1024 * 1024);
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    const b = obj(parsed);
    if (res.status >= 200 && res.status < 300) return b;
    const code = obj(b['error'])['code'];
    if (res.status < 500 && typeof code === 'string' && /^SRV_ERR_[A-Z_]{1,60}$/.test(code)) throw new TerminalError('TERM_ERR_HOLDER_REFUSED', undefined, { serverCode: code });
    throw new TerminalError('TERM_ERR_HOLDER_OFFLINE', `fleet server answered HTTP ${res.status}`);
  };
  return {
    async openEvents(venueId) {
      const b = await call(`/api/v1/terminal/venue/events${venueId === undefined ? '' : `?venueId=${encodeURIComponent(venueId)}`}`);
      return list(b['events']).map((x) => {
        const e = obj(x);
        return { eventId: str(e['id']), venueId: str(e['venueId']), name: str(e['name']), date: str(e['date']), capacity: num(e['capacity']), registered: num(e['registered']), opensAt: num(e['opensAt']), closesAt: num(e['closesAt']) };
      }).filter((e) => e.eventId !== '');
    },
    async tracker(cardNumber, limit) {
      const b = await call('/api/v1/terminal/sharing/tracker', { cardNumber, pinVerified: true, limit });
      return {
        accesses: list(b['accesses']).map((x) => {
          const a = obj(x);
          return { at: num(a['at']), department: str(a['department']), ...named(a['departmentName']), purpose: str(a['purpose']), call: str(a['call']), released: list(a['released']).filter((r): r is string => typeof r === 'string').slice(0, 16), outcome: str(a['outcome']) };
        }),
        consents: list(b['consents']).map((x) => {
          const c = obj(x);
          return { id: str(c['id']), department: str(c['department']), ...named(c['departmentName']), purpose: str(c['purpose']), grantedAt: num(c['grantedAt']), expiresAt: num(c['expiresAt']), revokedAt: typeof c['revokedAt'] === 'number' ? c['revokedAt'] : null, cardNumber: maskCardNumber(str(c['cardNumber'])) };
        }),
      };
    },
    async revokeConsent(consentId, cardNumber) {
      const b = await call(`/api/v1/terminal/sharing/consents/${encodeURIComponent(consentId)}/revoke`, { cardNumber, pinVerified: true });
      return b['revoked'] === true;
    },
  };
}
