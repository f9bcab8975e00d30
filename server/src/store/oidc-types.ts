/**
 * The card-login part of the store (docs/login.md): relying parties (department portals), login
 * transactions (the short code a login page shows and how it ended), the provider's signing keys
 * (sealed under the master key), which terminal groups may authenticate, the e-card key registry,
 * accounts (claims sealed under the master key) and the OpenID Provider's own artefacts (sessions,
 * grants, codes, interactions). Every backend implements it and runs `test/store/conformance-oidc.ts`.
 */
import type { AuditOf } from './types.ts';

export const LOGIN_CLAIMS = ['name', 'id_number'] as const;
export type LoginClaim = (typeof LOGIN_CLAIMS)[number];
export const LOGIN_METHODS = ['terminal', 'ecard'] as const;
export type LoginMethod = (typeof LOGIN_METHODS)[number];
export const ASSURANCE_LEVELS = ['substantial', 'high'] as const;
export type AssuranceLevel = (typeof ASSURANCE_LEVELS)[number];

export interface RelyingPartyRecord {
  /** The OAuth `client_id`. */
  readonly id: string;
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly allowedClaims: readonly LoginClaim[];
  readonly methods: readonly LoginMethod[];
  readonly minAcr: AssuranceLevel;
  /** A public client (PKCE alone, no secret). */
  readonly public: boolean;
  /** The client secret sealed under the master key; null for a public client. */
  readonly secretSealed: string | null;
  readonly status: 'active' | 'disabled';
  readonly createdAt: number;
  readonly createdBy: string;
  readonly updatedAt: number;
}

export type LoginStatus = 'pending' | 'done' | 'refused';

export interface LoginRecord {
  /** The 8-digit code the login page shows. */
  readonly code: string;
  /** The provider's interaction uid the login belongs to. */
  readonly uid: string;
  readonly clientId: string;
  readonly nonce: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly status: LoginStatus;
  readonly method: LoginMethod | null;
  readonly accountId: string | null;
  readonly acr: string | null;
  readonly amr: readonly string[] | null;
  /** Error code of a refused login. */
  readonly error: string | null;
  /** The terminal that asserted (or was refused). */
  readonly terminalId: string | null;
  readonly finishedAt: number | null;
  /**
   * While pending: the code of the last refused attempt that did not end the login (e.g. an e-card
   * confirmation under an unregistered key), so the waiting page can say what happened.
   */
  readonly notice?: string;
}

/** How a pending login ends ({@link OidcStore.finishLogin}). */
export type LoginOutcome =
  | { readonly status: 'done'; readonly method: LoginMethod; readonly accountId: string; readonly acr: string; readonly amr: readonly string[]; readonly terminalId: string | null }
  | { readonly status: 'refused'; readonly method: LoginMethod; readonly error: string; readonly terminalId: string | null };

export type ProviderKeyStatus = 'current' | 'retiring' | 'retired';

export interface ProviderKeyRecord {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly status: ProviderKeyStatus;
  /** The private JWK sealed under the master key. */
  readonly sealedJwk: string;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

export interface LoginGroupRecord {
  readonly groupId: string;
  readonly allowed: boolean;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

export interface EcardHolderRecord {
  /** The platform's opaque holder reference (hex). */
  readonly holderRef: string;
  /** SM2 public key `04‖x‖y`, hex. */
  readonly publicKey: string;
  /** `{cardNumber, idNumber, name}` sealed under the master key. */
  readonly sealedIdentity: string;
  readonly registeredAt: number;
  readonly registeredBy: string;
  readonly revokedAt: number | null;
}

/** One stored artefact of the OpenID Provider (its adapter's payload). */
export interface ProviderPayloadRecord {
  readonly payload: string;
  readonly expiresAt: number | null;
  readonly consumedAt: number | null;
}

export interface OidcStore {
  /** @throws ServerError `SRV_ERR_CONFLICT` when the id exists */
  createRelyingParty(rec: RelyingPartyRecord, audit?: AuditOf<void>): Promise<void>;
  /** Replaces a relying party. @throws ServerError `SRV_ERR_NOT_FOUND` */
  updateRelyingParty(rec: RelyingPartyRecord, audit?: AuditOf<void>): Promise<void>;
  getRelyingParty(id: string): Promise<RelyingPartyRecord | undefined>;
  /** By id ascending. */
  listRelyingParties(): Promise<RelyingPartyRecord[]>;

  /** @throws ServerError `SRV_ERR_CONFLICT` when the code exists */
  createLogin(rec: LoginRecord): Promise<void>;
  getLogin(code: string): Promise<LoginRecord | undefined>;
  /** The newest login of an interaction. */
  getLoginByUid(uid: string): Promise<LoginRecord | undefined>;
  /**
   * Ends a login that is still pending (once: a second call, or one for a finished login, changes
   * nothing and returns undefined); `audit`'s entries are written in the same transaction.
   */
  finishLogin(code: string, outcome: LoginOutcome, at: number, audit?: AuditOf<LoginRecord>): Promise<LoginRecord | undefined>;
  /**
   * Records on a login that is still pending the code of a refused attempt that does not end it
   * ({@link LoginRecord.notice}); `audit`'s entries in the same transaction. False (and nothing
   * written, no audit) when the login is unknown or no longer pending.
   */
  noteLoginAttempt(code: string, error: string, audit?: AuditOf<LoginRecord>): Promise<boolean>;
  /** Deletes logins that expired before `before`; returns how many. */
  purgeLogins(before: number): Promise<number>;

  /** Newest first. */
  listProviderKeys(): Promise<ProviderKeyRecord[]>;
  /**
   * In one transaction: `retiring` keys become `retired`, the `current` key becomes `retiring`,
   * `key` is added as `current`; with the audit entries.
   */
  rotateProviderKeys(key: ProviderKeyRecord, at: number, audit?: AuditOf<void>): Promise<void>;

  putLoginGroup(rec: LoginGroupRecord, audit?: AuditOf<void>): Promise<void>;
  getLoginGroup(groupId: string): Promise<LoginGroupRecord | undefined>;
  listLoginGroups(): Promise<LoginGroupRecord[]>;

  /** Inserts or replaces a holder (a re-registration clears a revocation). */
  putEcardHolder(rec: EcardHolderRecord, audit?: AuditOf<void>): Promise<void>;
  getEcardHolder(holderRef: string): Promise<EcardHolderRecord | undefined>;
  listEcardHolders(): Promise<EcardHolderRecord[]>;
  /** False when unknown or already revoked. */
  revokeEcardHolder(holderRef: string, at: number, audit?: AuditOf<boolean>): Promise<boolean>;

  /** The claims of an account, sealed under the master key. */
  putAccount(accountId: string, sealed: string, at: number): Promise<void>;
  getAccount(accountId: string): Promise<string | undefined>;

  upsertPayload(model: string, id: string, rec: { payload: string; grantId: string | null; uid: string | null; userCode: string | null; expiresAt: number | null }): Promise<void>;
  /** Undefined when absent or expired at `now`. */
  findPayload(model: string, id: string, now: number): Promise<ProviderPayloadRecord | undefined>;
  findPayloadBy(model: string, field: 'uid' | 'userCode', value: string, now: number): Promise<ProviderPayloadRecord | undefined>;
  consumePayload(model: string, id: string, at: number): Promise<void>;
  destroyPayload(model: string, id: string): Promise<void>;
  revokePayloadsByGrant(grantId: string): Promise<void>;
  /** Deletes artefacts expired before `now`; returns how many. */
  purgePayloads(now: number): Promise<number>;
}
