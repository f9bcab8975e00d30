/**
 * The error registry of `@onecard/server`. Every error this package throws on purpose is a
 * {@link ServerError} with a stable `code` from {@link SRV_ERRORS} and the HTTP status it maps to;
 * documented in `docs/errors.md` (kept in sync by `test/errors.test.ts`). Routes answer errors as
 * `{ error: { code, message } }`. Branch on `code`, never on `message`.
 */
import { UPDATES_ERRORS, UPDATES_ERROR_STATUS } from './updates/error-codes.ts';
import { KEYS_ERRORS, KEYS_ERROR_STATUS } from './keys/error-codes.ts';
import { SCALE_ERRORS } from './scale/error-codes.ts';
import { LOGIN_ERRORS, LOGIN_ERROR_STATUS } from './oidc/error-codes.ts';
import { REGISTRY_ERRORS, REGISTRY_ERROR_STATUS } from './registry/error-codes.ts';
import { VENUES_ERRORS, VENUES_ERROR_STATUS } from './venues/error-codes.ts';
import { formatErrorMessage } from '@onecard/protocol/errors';

export const SRV_ERRORS = {
  SRV_ERR_INVALID_ARGUMENT: 'Invalid argument',
  SRV_ERR_CONFIG: 'Invalid server configuration',
  SRV_ERR_VALIDATION: 'Request does not match its schema',
  SRV_ERR_UNAUTHENTICATED: 'Missing or invalid credentials',
  SRV_ERR_FORBIDDEN: 'The caller\'s role does not allow this',
  SRV_ERR_NOT_FOUND: 'No such resource',
  SRV_ERR_CONFLICT: 'The resource changed or already exists',
  SRV_ERR_VERSION_MISMATCH: 'Version precondition failed',
  SRV_ERR_RATE_LIMITED: 'Too many requests',
  SRV_ERR_ENROLMENT_TOKEN: 'Enrolment token is unknown, used or expired',
  SRV_ERR_TERMINAL_DISABLED: 'Terminal is disabled',
  SRV_ERR_PAYLOAD_TOO_LARGE: 'Payload too large',
  SRV_ERR_CONFIG_SCHEMA: 'Configuration document does not match the terminal configuration schema',
  SRV_ERR_CONFIG_SECRET: 'A configuration secret must be given as text, kept with {"set": true} or cleared with {"set": false}',
  SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY: 'No server master key (ONECARD_MASTER_KEY_FILE or ONECARD_MASTER_KEY): configuration secrets cannot be sealed or delivered',
  SRV_ERR_STORE: 'Store failure',
  SRV_ERR_MIGRATION: 'Store migration failed',
  SRV_ERR_STORE_CORRUPT: 'Store file is empty or corrupt; restore it from a backup (a fresh install needs the file to be absent)',
  SRV_ERR_LAST_ADMIN: 'The last active admin token cannot be revoked',
  SRV_ERR_UNSAFE_TEXT: 'Text contains control, NUL or bidirectional-override characters',
  SRV_ERR_UPDATE_DOWNGRADE: 'A rollout that can downgrade or reinstall needs an admin and allowDowngrade',
  SRV_ERR_STAFF_CREDENTIAL: 'Staff credential unknown or revoked',
  SRV_ERR_STAFF_GROUP: 'Staff credential not valid at terminals of this group',
  SRV_ERR_INTERNAL: 'Internal error',
  ...UPDATES_ERRORS,
  ...KEYS_ERRORS,
  ...SCALE_ERRORS,
  ...REGISTRY_ERRORS,
  ...VENUES_ERRORS,
  ...LOGIN_ERRORS,
} as const satisfies Record<`SRV_ERR_${string}`, string>;

export type ServerErrorCode = keyof typeof SRV_ERRORS;

/** HTTP status for each code that can reach a client. */
export const SRV_ERROR_STATUS: Partial<Record<ServerErrorCode, number>> = {
  SRV_ERR_INVALID_ARGUMENT: 400,
  SRV_ERR_VALIDATION: 400,
  SRV_ERR_UNAUTHENTICATED: 401,
  SRV_ERR_FORBIDDEN: 403,
  SRV_ERR_NOT_FOUND: 404,
  SRV_ERR_CONFLICT: 409,
  SRV_ERR_VERSION_MISMATCH: 409,
  SRV_ERR_PAYLOAD_TOO_LARGE: 413,
  SRV_ERR_CONFIG_SCHEMA: 400,
  SRV_ERR_RATE_LIMITED: 429,
  SRV_ERR_ENROLMENT_TOKEN: 403,
  SRV_ERR_TERMINAL_DISABLED: 403,
  SRV_ERR_LAST_ADMIN: 409,
  SRV_ERR_UNSAFE_TEXT: 400,
  SRV_ERR_UPDATE_DOWNGRADE: 403,
  SRV_ERR_CONFIG_SECRET: 400,
  SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY: 503,
  SRV_ERR_STAFF_CREDENTIAL: 401,
  SRV_ERR_STAFF_GROUP: 403,
  ...UPDATES_ERROR_STATUS,
  ...KEYS_ERROR_STATUS,
  ...REGISTRY_ERROR_STATUS,
  ...VENUES_ERROR_STATUS,
  ...LOGIN_ERROR_STATUS,
};

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ServerErrorCode, detail?: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    super(formatErrorMessage(SRV_ERRORS[code], details, detail), options);
    this.name = 'ServerError';
    this.code = code;
    this.details = details;
  }

  get statusCode(): number {
    return SRV_ERROR_STATUS[this.code] ?? 500;
  }
}
