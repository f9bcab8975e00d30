/**
 * Error bodies of the local API: every failure answers `{ error: { code, message, national,
 * details? } }` with `code` a stable `TERM_ERR_*`, `national` the national-interface code
 * (−1 … −52, −2201 …, −SW) for iReadCardBas-style clients, and an HTTP status chosen by code.
 */
import { TerminalError, type TerminalErrorCode } from '../errors.ts';
import { nationalErrorCode } from '../services/index.ts';

const STATUS_BY_CODE: Partial<Record<TerminalErrorCode, number>> = {
  TERM_ERR_INVALID_ARGUMENT: 400,
  TERM_ERR_API_BAD_REQUEST: 400,
  TERM_ERR_PIN_FORMAT: 400,
  TERM_ERR_API_TOKEN: 401,
  TERM_ERR_API_SESSION: 401,
  TERM_ERR_STAFF_REQUIRED: 401,
  TERM_ERR_STAFF_REFUSED: 403,
  TERM_ERR_STAFF_UNCHECKED: 503,
  TERM_ERR_API_CLIENT: 403,
  TERM_ERR_API_TOO_LARGE: 413,
  TERM_ERR_API_ORIGIN: 403,
  TERM_ERR_API_HOST: 403,
  TERM_ERR_API_TIMEOUT: 408,
  TERM_ERR_NO_CARD: 409,
  TERM_ERR_CARD_REMOVED: 409,
  TERM_ERR_CARD_MUTE: 409,
  TERM_ERR_PURCHASE_PENDING: 409,
  TERM_ERR_API_NOT_CONFIGURED: 501,
  TERM_ERR_API_INTERNAL: 500,
  TERM_ERR_READER_UNKNOWN: 503,
  TERM_ERR_READER_UNAVAILABLE: 503,
  TERM_ERR_READER_PROBE: 503,
  TERM_ERR_LINK_OPEN: 503,
  TERM_ERR_LINK_BUSY: 503,
  TERM_ERR_LINK_CLOSED: 503,
  TERM_ERR_LINK_IO: 503,
  TERM_ERR_LINK_TIMEOUT: 503,
  TERM_ERR_ECARD_ONLINE_UNAVAILABLE: 503,
  TERM_ERR_ECARD_REPLAY_STORE: 503,
  TERM_ERR_NO_PSAM: 503,
  TERM_ERR_PINPAD_UNAVAILABLE: 503,
  TERM_ERR_PINPAD_PROTOCOL: 503,
  TERM_ERR_PINPAD_BUSY: 409,
  TERM_ERR_PINPAD_CANCELLED: 409,
  TERM_ERR_PINPAD_TIMEOUT: 408,
  TERM_ERR_LOGIN_UNKNOWN: 404,
  TERM_ERR_LOGIN_REFUSED: 403,
  TERM_ERR_LOGIN_OFFLINE: 503,
  TERM_ERR_LIBRARY_UNAVAILABLE: 503,
  TERM_ERR_CONFIG_SECRET: 503,
  TERM_ERR_LIBRARY_LOGIN: 503,
  TERM_ERR_LIBRARY_PROTOCOL: 502,
  TERM_ERR_LIBRARY_NO_SCAN: 408,
  TERM_ERR_VENUE_NOT_CONFIGURED: 501,
  TERM_ERR_VENUE_REGISTRATION_REFUSED: 403,
  TERM_ERR_VENUE_OFFLINE: 503,
  TERM_ERR_HOLDER_UNVERIFIED: 403,
  TERM_ERR_HOLDER_OFFLINE: 503,
  TERM_ERR_HOLDER_REFUSED: 403,
  TERM_ERR_ISSUANCE_JOB: 404,
  TERM_ERR_ISSUANCE_BUSY: 409,
  TERM_ERR_ISSUANCE_DEVICE_LINK: 503,
  TERM_ERR_ISSUANCE_BACK_OFFICE: 502,
  TERM_ERR_ISSUANCE_JOURNAL: 500,
};

/** Detail keys that may reach a client (never PINs or keys; services put none in details anyway). */
const SAFE_DETAILS = new Set(['sw', 'triesLeft', 'field', 'offset', 'status', 'recordId', 'expiryDate', 'hotlistVersion', 'keyId', 'serverCode']);

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly national: number; readonly details?: Record<string, unknown> };
}

/** HTTP status and body for any thrown value. Unknown errors become `TERM_ERR_API_INTERNAL` (message hidden). */
export function toHttpError(err: unknown): { status: number; body: ApiErrorBody } {
  if (!(err instanceof TerminalError)) {
    const internal = new TerminalError('TERM_ERR_API_INTERNAL');
    return { status: 500, body: { error: { code: internal.code, message: internal.message, national: -13 } } };
  }
  const details: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err.details)) if (SAFE_DETAILS.has(k)) details[k] = v;
  const status = STATUS_BY_CODE[err.code] ?? 422;
  return {
    status,
    body: { error: { code: err.code, message: err.message, national: nationalErrorCode(err), ...(Object.keys(details).length > 0 ? { details } : {}) } },
  };
}
