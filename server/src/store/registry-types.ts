/**
 * The registry part of the store ({@link RegistryStore}): cards with their holders' sealed
 * personal data and keyed hashes, the history of every change, the status change feed; and the
 * departments' side: registered departments (secret hashes), access tokens (hashes), holder
 * consents, the access log behind the holder's data tracker, batch verification jobs and daily
 * quotas. Both backends run `test/store/registry-conformance.ts`. Plain ID numbers and names never
 * reach this interface: callers seal and hash them (`registry/pii.ts`).
 */
import type { CardStatus, Generation } from '../registry/model.ts';
import type { AuditOf } from './types.ts';

/** A card as stored. */
export interface CardRecord {
  readonly cardNumber: string;
  /** Keyed hash of the holder's ID number. */
  readonly idHash: string;
  /** Keyed hash of ID number + name (verification). */
  readonly holderHash: string;
  /** Sealed ID number and name. */
  readonly idSealed: string;
  readonly nameSealed: string;
  readonly region: string;
  readonly generation: Generation;
  readonly issuedOn: string;
  readonly expiresOn: string;
  readonly status: CardStatus;
  readonly replacedBy: string | null;
  /** Change-feed position of the last status change (0: never changed since import). */
  readonly feedSeq: number;
  /** Hash over the imported content (idempotent re-imports). */
  readonly contentHash: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

/** One entry of a card's history. */
export interface CardHistoryRecord {
  readonly id: number;
  readonly cardNumber: string;
  readonly at: number;
  /** Who: `admin:<token id>`, `terminal:<id>`, `import:<import id>`, … */
  readonly actor: string;
  /** `import`, `update`, or a lifecycle event (`activate`, `report-loss`, …). */
  readonly action: string;
  readonly fromStatus: CardStatus | null;
  readonly toStatus: CardStatus;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What an upsert of one imported card did. */
export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

/** A lifecycle change to apply: the caller computed `to` with `registry/model.ts` `step` from `from`. */
export interface CardTransition {
  readonly cardNumber: string;
  /** The status the change was computed from; the write fails with `SRV_ERR_CONFLICT` if it moved. */
  readonly from: CardStatus;
  readonly to: CardStatus;
  readonly replacedBy: string | null;
  readonly action: string;
  readonly actor: string;
  readonly at: number;
  readonly details: Readonly<Record<string, unknown>>;
}

/** One status change on the feed (the newest per card). */
export interface FeedEntry {
  readonly seq: number;
  readonly cardNumber: string;
  readonly status: CardStatus;
  readonly replacedBy: string | null;
  readonly at: number;
}

export interface DepartmentRecord {
  readonly id: string;
  readonly name: string;
  readonly clientId: string;
  readonly purposes: readonly string[];
  /** Calls per minute. */
  readonly ratePerMinute: number;
  /** Verifications and look-ups per UTC day (a batch counts its rows). */
  readonly dailyQuota: number;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly disabledAt: number | null;
}

export interface AccessTokenRecord {
  readonly departmentId: string;
  readonly expiresAt: number;
  readonly createdAt: number;
}

export interface ConsentRecord {
  readonly id: string;
  readonly cardNumber: string;
  /** Keyed hash of the holder's ID number (the consent follows the person to a replacement card). */
  readonly idHash: string;
  readonly departmentId: string;
  readonly purpose: string;
  readonly grantedAt: number;
  readonly expiresAt: number;
  /** `terminal:<id>` (kiosk or desk, card + PIN) or another channel. */
  readonly grantedVia: string;
  readonly revokedAt: number | null;
  readonly revokedVia: string | null;
}

/** One access to a person's data (the holder's data tracker). */
export interface AccessRecord {
  readonly id: number;
  readonly at: number;
  readonly departmentId: string;
  readonly purpose: string;
  /** `card-status`, `verify`, `basic-info`, `batch-verify`. */
  readonly call: string;
  /** Keyed hash of the person's ID number (null when the call named only an unknown card). */
  readonly subjectHash: string | null;
  readonly cardNumber: string | null;
  /** Field names released (never values), e.g. `["match"]`, `["name","idNumber",…]`. */
  readonly released: readonly string[];
  /** `released` or a refusal code. */
  readonly outcome: string;
  /** Batch job id, when the access was part of one. */
  readonly jobId: string | null;
}

export type NewAccess = Omit<AccessRecord, 'id'>;

/** A department call to commit: its access-log entry and, when it releases data, the quota it uses. */
export interface CallCommit {
  readonly access: NewAccess;
  /** Units of the department's daily quota the call uses on `day` within `limit` (absent: none, e.g. a refusal). */
  readonly quota?: { readonly day: string; readonly n: number; readonly limit: number };
}

export type BatchStatus = 'queued' | 'running' | 'done' | 'failed';

export interface BatchJobRecord {
  readonly id: string;
  readonly departmentId: string;
  readonly purpose: string;
  readonly status: BatchStatus;
  readonly total: number;
  readonly matched: number;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

export interface RegistryStore {
  /** Cards by number (one round trip); absent numbers are omitted. */
  getCards(cardNumbers: readonly string[]): Promise<CardRecord[]>;
  getCard(cardNumber: string): Promise<CardRecord | undefined>;
  /** Cards of a holder by the keyed hash of the ID number. */
  findCardsByIdHash(idHash: string): Promise<CardRecord[]>;
  /** Whether a card with this holder hash is in one of `statuses` (the verification lookup). */
  holderHasCardIn(holderHash: string, statuses: readonly CardStatus[]): Promise<boolean>;
  /**
   * Inserts or updates cards in ONE transaction with a history entry per created or changed card;
   * a card whose `contentHash` is unchanged is left alone (`unchanged`). The status of an existing
   * card is never changed by an upsert (lifecycle changes go through {@link transition}).
   * Returns one outcome per input, in order.
   */
  upsertCards(cards: readonly Omit<CardRecord, 'feedSeq' | 'updatedAt' | 'updatedBy' | 'createdAt' | 'replacedBy'>[], at: number, actor: string): Promise<UpsertOutcome[]>;
  /**
   * Applies lifecycle changes in ONE transaction: each card's status, a history entry, a new feed
   * position, and the card's hotlist membership (listed exactly in the hotlisted statuses) in one
   * new hotlist version for the whole call, with `audit`'s entries.
   * @throws ServerError `SRV_ERR_CONFLICT` when a card's status is no longer `from` (nothing written),
   *   `SRV_ERR_NOT_FOUND` when a card is absent
   */
  transition(changes: readonly CardTransition[], hotlisted: ReadonlySet<CardStatus>, audit?: AuditOf<{ hotlistVersion: number | null }>): Promise<{ hotlistVersion: number | null }>;
  /** Records a status already reflected on the hotlist (a terminal's report, applied at ingest): status, history, feed; no hotlist write. */
  followHotlist(changes: readonly CardTransition[]): Promise<void>;
  /**
   * Registry cards whose hotlist membership disagrees with their status (`listed` is the hotlist's
   * side): what a crash between a terminal record's ingest commit and the registry following it
   * leaves behind, or a hotlist write that bypassed the registry.
   */
  hotlistDisagreements(hotlisted: readonly CardStatus[]): Promise<{ card: CardRecord; listed: boolean }[]>;
  /** History of a card, oldest first. */
  cardHistory(cardNumber: string): Promise<CardHistoryRecord[]>;
  /** Status changes after `cursor` in feed order (the newest change per card). */
  feed(cursor: number, limit: number): Promise<FeedEntry[]>;
  countCards(): Promise<number>;

  createDepartment(rec: DepartmentRecord & { readonly secretHash: string }, audit?: AuditOf<void>): Promise<void>;
  getDepartment(id: string): Promise<DepartmentRecord | undefined>;
  /** The department and its secret hash by client id. */
  findDepartmentByClientId(clientId: string): Promise<(DepartmentRecord & { readonly secretHash: string }) | undefined>;
  listDepartments(): Promise<DepartmentRecord[]>;
  /** Updates purposes, limits or the disabled mark; returns the new record (undefined when unknown). */
  updateDepartment(id: string, patch: { purposes?: readonly string[]; ratePerMinute?: number; dailyQuota?: number; disabledAt?: number | null; secretHash?: string }, audit?: AuditOf<DepartmentRecord>): Promise<DepartmentRecord | undefined>;

  putAccessToken(tokenHash: string, rec: AccessTokenRecord): Promise<void>;
  getAccessToken(tokenHash: string): Promise<AccessTokenRecord | undefined>;
  /** A token with its department in one read (undefined when the token is unknown; expiry is the caller's check). */
  getAccessTokenWithDepartment(tokenHash: string): Promise<{ token: AccessTokenRecord; department: DepartmentRecord } | undefined>;
  /** Removes tokens expired at `now`; returns how many. */
  purgeAccessTokens(now: number): Promise<number>;

  putConsent(rec: ConsentRecord, audit?: AuditOf<void>): Promise<void>;
  /** Consents of a person (by ID hash) for a department, newest first. */
  listConsents(filter: { idHash?: string; departmentId?: string }): Promise<ConsentRecord[]>;
  /** Marks a live consent revoked; false when unknown or already revoked. */
  revokeConsent(id: string, at: number, via: string, audit?: AuditOf<boolean>): Promise<boolean>;

  /**
   * Commits department calls in ONE transaction (one durable write for all of them): for each, its
   * quota (when it has one) is consumed if the day's use stays within the limit, and its access is
   * recorded; a call over its quota writes nothing. Returns, per call in order, whether it was
   * recorded (false: over quota). Each call's quota and access commit together or not at all.
   */
  commitCalls(calls: readonly CallCommit[]): Promise<boolean[]>;
  /** Records accesses (one transaction). */
  recordAccesses(recs: readonly NewAccess[]): Promise<void>;
  /** A person's accesses (by ID hash), newest first. */
  listAccesses(filter: { subjectHash?: string; departmentId?: string; limit?: number; beforeId?: number }): Promise<AccessRecord[]>;

  /**
   * Adds `n` to the department's use on `day` if it stays within `quota`; returns whether it did
   * (atomic: concurrent callers never exceed the quota together).
   */
  consumeQuota(departmentId: string, day: string, n: number, quota: number): Promise<boolean>;

  putBatchJob(rec: BatchJobRecord, result?: string): Promise<void>;
  getBatchJob(id: string): Promise<BatchJobRecord | undefined>;
  /** The job's result document (JSON lines), when done. */
  getBatchResult(id: string): Promise<string | undefined>;
}
