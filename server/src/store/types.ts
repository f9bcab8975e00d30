/**
 * The server store interface. Every backend (SQLite by default, PostgreSQL when scaled out)
 * implements it and runs the shared conformance suite in `test/store/conformance.ts`. Methods are
 * async even where SQLite is synchronous so that the backends are interchangeable. Secrets are
 * stored only as SHA-256 hashes of high-entropy random tokens; the clear values exist only in the
 * response that creates them.
 */
import type { JobStatus } from '../jobs/notifier.ts';
import type { RolloutState, RolloutStatus } from '../updates/rollout.ts';
import type { OidcStore } from './oidc-types.ts';
import type { RegistryStore } from './registry-types.ts';

export const ROLES = ['viewer', 'operator', 'key-custodian', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

/**
 * A staff credential for the counter desk: issued by an operator to one named member of staff,
 * valid at terminals of the listed groups, revocable. Only the credential's SHA-256 is stored.
 */
export interface StaffCredentialRecord {
  readonly id: string;
  /** The member of staff's own id (e.g. an employee number), named in audit entries. */
  readonly staffId: string;
  readonly name: string;
  /** Terminal groups whose desks accept the credential. */
  readonly groups: readonly string[];
  readonly createdAt: number;
  readonly createdBy: string;
  readonly revokedAt: number | null;
}

export interface GroupRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

export interface EnrolmentTokenRecord {
  readonly id: string;
  readonly groupId: string;
  readonly tags: readonly string[];
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly usedAt: number | null;
  readonly usedBy: string | null;
  /** Set for a re-key token: only this terminal may use it, and it keeps its id. */
  readonly forTerminal: string | null;
}

export interface NewEnrolmentToken {
  readonly id: string;
  readonly tokenHash: string;
  readonly groupId: string;
  readonly tags: readonly string[];
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly forTerminal?: string;
}

export type TerminalStatus = 'active' | 'disabled';

export interface TerminalRecord {
  readonly id: string;
  readonly groupId: string;
  readonly tags: readonly string[];
  readonly kind: string;
  /** Human name (enrolment `name` or an admin's PATCH), shown beside the id; null when none. */
  readonly name?: string | null;
  /** The terminal's public key (SPKI, base64) from enrolment or the last re-key. */
  readonly publicKey: string;
  readonly credentialHash: string;
  readonly status: TerminalStatus;
  readonly createdAt: number;
  readonly lastSeen: number | null;
  readonly online: boolean;
  /** Connection epoch from the last birth; presence updates from older epochs are ignored. */
  readonly epoch: number;
  readonly reported: Readonly<Record<string, unknown>>;
}

export interface AuditRecord {
  readonly id: number;
  readonly ts: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly ip: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export type NewAuditRecord = Omit<AuditRecord, 'id'>;

/**
 * Audit entries a mutation writes in its own transaction, built from its result: the mutation and
 * its audit entries commit together or not at all (an audit write that fails undoes the change).
 */
export type AuditOf<R> = (result: R) => readonly NewAuditRecord[];

/** What {@link Store.recoverAdminToken} did. */
export type AdminRecovery = 'created' | 'restored' | 'unchanged';

export interface TerminalFilter {
  readonly groupId?: string;
  readonly tag?: string;
  readonly status?: TerminalStatus;
  readonly online?: boolean;
  readonly limit?: number;
  readonly afterId?: string;
}

export interface TerminalPatch {
  readonly status?: TerminalStatus;
  readonly publicKey?: string;
  readonly credentialHash?: string;
  readonly groupId?: string;
  readonly tags?: readonly string[];
  /** Human name; null clears it. */
  readonly name?: string | null;
}

export interface PresenceUpdate {
  readonly online: boolean;
  readonly epoch: number;
  readonly at: number;
  readonly reported?: Readonly<Record<string, unknown>>;
}


/** A named configuration document; each edit creates a new fleet-wide version. */
export interface ConfigDocRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  /** The newest version of this document. */
  readonly version: number;
  readonly sha256: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

export interface ConfigVersionRecord {
  /** Fleet-wide, strictly increasing across all documents: a version number names one document body. */
  readonly version: number;
  readonly docId: string;
  readonly sha256: string;
  /** The canonical JSON the sha256 is computed over. */
  readonly body: string;
  readonly createdAt: number;
  readonly createdBy: string;
}

export type ConfigScope = 'group' | 'terminal';

export interface ConfigAssignment {
  readonly scope: ConfigScope;
  readonly target: string;
  readonly docId: string;
}

/** A terminal's effective (desired) configuration: terminal assignment, else its group's. */
export interface EffectiveConfig {
  readonly terminalId: string;
  readonly docId: string;
  readonly version: number;
  readonly sha256: string;
}

export interface ConfigStatusRecord {
  readonly terminalId: string;
  readonly version: number;
  readonly status: 'applied' | 'rejected';
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly at: number;
  /** Per changed field, what took effect and when (`at` absent while pending); absent when not reported. */
  readonly changes?: readonly ConfigFieldEffectRecord[];
}

/** One field of a configuration status report (`up/config/status` `changes`). */
export interface ConfigFieldEffectRecord {
  readonly field: string;
  readonly effect: 'live' | 'session-end' | 'restart' | 'pinned';
  readonly at?: number;
}

/** Desired vs reported configuration of one terminal. */
export interface TerminalConfigState {
  readonly terminalId: string;
  readonly desired: EffectiveConfig | null;
  /** The last status the terminal reported, for whatever version. */
  readonly reported: ConfigStatusRecord | null;
  /** The version the terminal runs (last `applied`), from status reports or births. */
  readonly appliedVersion: number | null;
}

export interface HotlistEntry {
  readonly cardNumber: string;
  /** Version at which the card was (last) added. */
  readonly version: number;
  readonly reportedAt: number;
  readonly reportedBy: string;
  readonly source: 'admin' | 'terminal';
  readonly reason: string;
}

export interface HotlistAdd {
  readonly cardNumber: string;
  readonly reportedBy: string;
  readonly source: 'admin' | 'terminal';
  readonly reason: string;
}

/** A loss report cancelled at a terminal (解挂, the holder's ID checked there): the card leaves the hotlist. */
export interface HotlistCancel {
  readonly cancel: true;
  readonly cardNumber: string;
  /** Who cancelled, e.g. `terminal:<id>` (the hotlist log's `by`). */
  readonly by: string;
}

/** A hotlist change carried by a terminal record: a loss report or its cancellation. */
export type HotlistChange = HotlistAdd | HotlistCancel;

/** Result of a hotlist mutation: the new version, or the unchanged one when nothing changed. */
export interface HotlistChangeResult {
  readonly version: number;
  /** Cards actually added or removed (already listed / not listed ones are skipped). */
  readonly changed: readonly string[];
}

export type HotlistDelta =
  | { readonly kind: 'delta'; readonly fromVersion: number; readonly version: number; readonly add: readonly string[]; readonly remove: readonly string[] }
  | { readonly kind: 'full'; readonly version: number; readonly cards: readonly string[] };

export interface EventRecord {
  readonly id: number;
  readonly terminalId: string;
  readonly eventId: string;
  readonly seq: number;
  readonly ts: number;
  readonly type: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly receivedAt: number;
}

export interface NewEvent {
  readonly eventId: string;
  readonly seq: number;
  readonly ts: number;
  readonly type: string;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface EventFilter {
  readonly terminalId?: string;
  readonly type?: string;
  /** Matches types starting with this (e.g. `txn.`). */
  readonly typePrefix?: string;
  /** Inclusive lower bound on the terminal's `ts`. */
  readonly from?: number;
  /** Exclusive upper bound on the terminal's `ts`. */
  readonly to?: number;
  /** Page: records with `id` greater than this, ascending. */
  readonly afterId?: number;
  readonly limit?: number;
}

export interface IngestResult {
  readonly inserted: number;
  readonly duplicates: number;
  /** Highest `seq` in the batch (what the ack carries). */
  readonly upToSeq: number;
  /** Loss reports and cancellations from this batch that changed the hotlist (new version), if any. */
  readonly hotlist: HotlistChangeResult | null;
  /** Each change of `hotlist.changed` in the order applied: a report (`add`) or a cancellation (`remove`). */
  readonly hotlistOps?: readonly { readonly cardNumber: string; readonly op: 'add' | 'remove' }[];
}

/** One terminal's outbox batch for {@link Store.ingestEventBatches}: the arguments of `ingestEvents`. */
export interface IngestBatch {
  readonly terminalId: string;
  readonly records: readonly NewEvent[];
  readonly receivedAt: number;
  readonly hotlistAdds?: ReadonlyMap<string, HotlistChange>;
  readonly audit?: AuditOf<IngestResult>;
}

export interface TelemetryRecord {
  readonly terminalId: string;
  readonly ts: number;
  readonly receivedAt: number;
  readonly epoch: number;
  readonly health: string;
  readonly readers: readonly Readonly<Record<string, unknown>>[];
  readonly counters: Readonly<Record<string, number>>;
  readonly outbox: Readonly<{ pending: number; full: boolean }> | null;
}

export interface Store {
  /** Backend name for `/ready` and metrics. */
  readonly kind: string;
  /** Transit key sets, assignments, key jobs and key-delivery approvals (docs/keys.md), in this store's numbered migrations. */
  readonly keys: KeysStore;
  /** Update packages and rollouts, in this store's numbered migrations. */
  readonly updates: UpdatesStore;
  /** Card registry and the departments' data sharing (docs/data-sharing.md), in this store's numbered migrations. */
  readonly registry: RegistryStore;
  /** Card login: relying parties, logins, provider keys and sessions (docs/login.md), in this store's numbered migrations. */
  readonly oidc: OidcStore;

  createAdminToken(rec: { id: string; name: string; role: Role; tokenHash: string; createdAt: number }, audit?: AuditOf<void>): Promise<void>;
  findAdminTokenByHash(tokenHash: string): Promise<AdminTokenRecord | undefined>;
  listAdminTokens(): Promise<AdminTokenRecord[]>;
  countActiveAdminTokens(): Promise<number>;
  /**
   * Revokes a token (false when unknown or already revoked). The last active `admin` token cannot
   * be revoked: nobody could manage tokens any more.
   * @throws ServerError `SRV_ERR_LAST_ADMIN`
   */
  revokeAdminToken(id: string, at: number, audit?: AuditOf<boolean>): Promise<boolean>;
  /**
   * Start-up recovery with `ONECARD_ADMIN_TOKEN`: makes the token of hash `rec.tokenHash` an
   * active `admin` token (re-activating and promoting it when it exists, else creating it).
   * Audit entries are written only when something changed.
   */
  recoverAdminToken(rec: { id: string; name: string; tokenHash: string; createdAt: number }, audit?: AuditOf<AdminRecovery>): Promise<AdminRecovery>;

  /** Stores a new staff credential (its hash) with its audit entries. */
  createStaffCredential(rec: Omit<StaffCredentialRecord, 'revokedAt'> & { readonly credentialHash: string }, audit?: AuditOf<void>): Promise<void>;
  findStaffCredentialByHash(credentialHash: string): Promise<StaffCredentialRecord | undefined>;
  listStaffCredentials(): Promise<StaffCredentialRecord[]>;
  /** Revokes a staff credential (false when unknown or already revoked). */
  revokeStaffCredential(id: string, at: number, audit?: AuditOf<boolean>): Promise<boolean>;

  createGroup(rec: { id: string; name: string; createdAt: number }, audit?: AuditOf<void>): Promise<void>;
  getGroup(id: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;

  createEnrolmentToken(rec: NewEnrolmentToken, audit?: AuditOf<void>): Promise<void>;
  /**
   * Revokes an unused token: it expires at once (`expiresAt` becomes 0), so it can no longer be
   * consumed. Returns false when unknown, used or already revoked.
   */
  revokeEnrolmentToken(id: string, audit?: AuditOf<boolean>): Promise<boolean>;
  /**
   * Atomically marks the token used by `terminalId` if it exists, is unused and has not expired
   * at `now`; returns it, or `undefined` (never reveals which condition failed). A re-key token
   * (`forTerminal` set) is recorded as used by that terminal whatever `terminalId` says.
   */
  consumeEnrolmentToken(tokenHash: string, terminalId: string, now: number): Promise<EnrolmentTokenRecord | undefined>;
  listEnrolmentTokens(): Promise<EnrolmentTokenRecord[]>;

  createTerminal(rec: { id: string; groupId: string; tags: readonly string[]; kind: string; publicKey: string; credentialHash: string; createdAt: number; name?: string }): Promise<void>;
  getTerminal(id: string): Promise<TerminalRecord | undefined>;
  listTerminals(filter?: TerminalFilter): Promise<TerminalRecord[]>;
  /** Applies `patch`; `audit`'s entries (built from the updated record) are written in the same transaction, only when the terminal exists. */
  updateTerminal(id: string, patch: TerminalPatch, audit?: AuditOf<TerminalRecord>): Promise<TerminalRecord | undefined>;
  /**
   * Applies a presence change unless it is stale: an update whose epoch is lower than the stored
   * one is ignored, and an offline update for an older epoch never overrides a newer online one.
   * Returns whether it was applied.
   */
  updatePresence(id: string, update: PresenceUpdate): Promise<boolean>;
  /** {@link Store.updatePresence} for several updates in one commit, in array order (births of a reconnecting fleet). */
  updatePresences(updates: readonly { readonly id: string; readonly update: PresenceUpdate }[]): Promise<boolean[]>;

  /** Looks a terminal up by the SHA-256 of its MQTT password (HTTP bearer authentication). */
  findTerminalByCredentialHash(credentialHash: string): Promise<TerminalRecord | undefined>;

  /**
   * Creates a document with its first version (a new fleet-wide version number).
   * @throws ServerError `SRV_ERR_CONFLICT` when the id exists
   */
  createConfigDoc(rec: { id: string; name: string; body: string; sha256: string; at: number; by: string }, audit?: AuditOf<ConfigDocRecord>): Promise<ConfigDocRecord>;
  /**
   * Adds a version to a document. With `expectedVersion`, the write happens only if the
   * document's newest version is still that one.
   * @throws ServerError `SRV_ERR_NOT_FOUND`, `SRV_ERR_VERSION_MISMATCH` (details: expected, actual)
   */
  updateConfigDoc(id: string, rec: { body: string; sha256: string; at: number; by: string; expectedVersion?: number }, audit?: AuditOf<ConfigDocRecord>): Promise<ConfigDocRecord>;
  getConfigDoc(id: string): Promise<ConfigDocRecord | undefined>;
  listConfigDocs(): Promise<ConfigDocRecord[]>;
  getConfigVersion(version: number): Promise<ConfigVersionRecord | undefined>;
  listConfigVersions(docId: string): Promise<Omit<ConfigVersionRecord, 'body'>[]>;
  /**
   * Replaces the body and digest of existing versions, in one commit with the audit entries: only
   * for sealing a secret a version held in clear (`routes/config-secrets.ts`). A version is
   * rewritten only while its digest is still `previousSha256` (servers sharing a database that seal
   * at the same start rewrite it once); others are skipped. Answers how many were rewritten.
   */
  rewriteConfigVersions(rows: readonly { readonly version: number; readonly body: string; readonly sha256: string; readonly previousSha256: string }[], audit?: AuditOf<number>): Promise<number>;
  /** Assigns `docId` to a group or terminal (replacing any previous assignment of that target). @throws ServerError `SRV_ERR_NOT_FOUND` */
  assignConfig(a: ConfigAssignment, audit?: AuditOf<void>): Promise<void>;
  /** Removes an assignment; returns whether one existed (`audit` is written only then, in the same transaction). */
  unassignConfig(scope: ConfigScope, target: string, audit?: AuditOf<boolean>): Promise<boolean>;
  listConfigAssignments(docId?: string): Promise<ConfigAssignment[]>;
  /**
   * Effective configurations in one query: of the given terminals, of every terminal whose
   * effective document is `docId`, of a group's terminals, or (no filter) of all terminals that
   * have one. Terminals without any assignment are omitted.
   */
  listEffectiveConfigs(filter: { terminalIds?: readonly string[]; docId?: string; groupId?: string }): Promise<EffectiveConfig[]>;
  /** Records an `applied`/`rejected` status; `applied` also sets the terminal's applied version. */
  recordConfigStatus(rec: ConfigStatusRecord): Promise<void>;
  /** {@link Store.recordConfigStatus} for several reports in one commit, applied in array order (a fleet's reports after a push). */
  recordConfigStatuses(recs: readonly ConfigStatusRecord[]): Promise<void>;
  getTerminalConfigState(terminalId: string): Promise<TerminalConfigState>;
  /** Counts of terminals by state for one document: in sync, pending, rejected. */
  configRolloutSummary(docId: string): Promise<{ terminals: number; applied: number; rejected: number; pending: number }>;

  /** Current hotlist version (0 when it never changed). */
  hotlistVersion(): Promise<number>;
  /** Adds cards in one new version (cards already listed are skipped; no change, no new version). */
  hotlistAdd(adds: readonly HotlistAdd[], at: number, audit?: AuditOf<HotlistChangeResult>): Promise<HotlistChangeResult>;
  /** Cancels (removes) cards in one new version (unlisted ones are skipped). */
  hotlistRemove(cardNumbers: readonly string[], at: number, by: string, audit?: AuditOf<HotlistChangeResult>): Promise<HotlistChangeResult>;
  getHotlistEntry(cardNumber: string): Promise<HotlistEntry | undefined>;
  /** Listed entries by card number; `prefix` filters, page with `afterCard`. */
  listHotlist(opts?: { prefix?: string; afterCard?: string; limit?: number }): Promise<HotlistEntry[]>;
  /**
   * What a terminal at `since` needs: a delta (set operations, idempotent) when `since` is known
   * and the change log still covers it, else the full sorted snapshot.
   */
  hotlistSince(since: number | undefined): Promise<HotlistDelta>;
  /**
   * Drops change-log entries up to and including `keepFromVersion`: deltas from any `since` ≥
   * `keepFromVersion` stay available, older ones become full snapshots.
   */
  compactHotlistLog(keepFromVersion: number): Promise<void>;

  /**
   * Stores a batch durably in one transaction, idempotent on (terminalId, eventId). Loss reports
   * and their cancellations in `hotlistAdds` (keyed by the eventId that carried them) are applied
   * in record order in the same transaction, and only for events inserted now (never again for a
   * retransmitted duplicate).
   */
  ingestEvents(terminalId: string, records: readonly NewEvent[], receivedAt: number, hotlistAdds?: ReadonlyMap<string, HotlistChange>, audit?: AuditOf<IngestResult>): Promise<IngestResult>;
  /**
   * Group commit: several batches (of different terminals) in ONE transaction, so one durable
   * commit covers them all; each is stored exactly as `ingestEvents` would store it, and all
   * commit or none. Results in the order of `batches`.
   */
  ingestEventBatches(batches: readonly IngestBatch[]): Promise<IngestResult[]>;
  listEvents(filter?: EventFilter): Promise<EventRecord[]>;
  /** Latest telemetry per terminal (replaces the previous one). */
  putTelemetry(rec: TelemetryRecord): Promise<void>;
  getTelemetry(terminalId: string): Promise<TelemetryRecord | undefined>;
  listTelemetry(opts?: { afterTerminalId?: string; limit?: number }): Promise<TelemetryRecord[]>;

  appendAudit(rec: NewAuditRecord): Promise<number>;
  listAudit(opts?: { limit?: number; beforeId?: number; actor?: string; action?: string }): Promise<AuditRecord[]>;

  /** Whether the backend answers (for `/ready`). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

// ── transit keys (docs/keys.md) ───────────────────────────────────────────────────────────────

/** One key of a key-set version, at rest. */
export interface StoredKey {
  /** TR-31 key usage: `61` purchase root (MPK), `62` TAC root (MTK). */
  readonly usage: string;
  /** Card key version byte (INITIALIZE FOR PURCHASE). */
  readonly keyVersion: number;
  /** Algorithm identifier byte (INITIALIZE FOR PURCHASE). */
  readonly algorithmId: number;
  /** Dispersion levels of the root (1 or 2). */
  readonly levels: number;
  /** Legacy 3-byte KCV, uppercase hex. */
  readonly kcv: string;
  /** The key wrapped under the master key (TR-31 `D`, key context 1 = storage); null once purged. */
  readonly block: string | null;
}

export type KeySetVersionStatus = 'active' | 'retiring' | 'purged';

export interface KeySetVersionRecord {
  readonly keySetId: string;
  readonly version: number;
  readonly description: string;
  readonly status: KeySetVersionStatus;
  /** When a retiring version is purged (ms), else null. */
  readonly deadline: number | null;
  /** CMAC KCV of the master key the blocks are wrapped under (detects a wrong master key). */
  readonly masterKcv: string;
  readonly keys: readonly StoredKey[];
  readonly createdAt: number;
  readonly createdBy: string;
}

export interface KeyAssignmentRecord {
  readonly groupId: string;
  readonly keySetId: string;
  readonly version: number;
  readonly assignedAt: number;
  readonly assignedBy: string;
}

/** Which stored key a job delivers. */
export interface KeyRef { readonly version: number; readonly index: number }

export type KeyJobStatus = 'active' | 'superseded';

export interface KeyJobRecord {
  readonly id: string;
  /** Fleet-wide increasing; the `version` of the job notification and of the terminal's keystore. */
  readonly seq: number;
  readonly groupId: string;
  readonly keySetId: string;
  /** The assigned version; `keys` may add keys of older versions still retiring. */
  readonly version: number;
  readonly keys: readonly KeyRef[];
  /** Key-set check value the terminals must report. */
  readonly expectedKcv: string;
  readonly status: KeyJobStatus;
  readonly createdAt: number;
  readonly createdBy: string;
}

export interface KeyJobTerminalRecord {
  readonly jobId: string;
  readonly terminalId: string;
  readonly status: JobStatus;
  readonly reportedKcv: string | null;
  /** Error code of a failed/rejected/timed-out job. */
  readonly error: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * A key custodian's approval for one terminal to hold a soft SAM (the purse roots of its group's
 * key set). It is bound to the terminal's public key at approval time: a re-key or re-enrolment
 * (new key pair, new KBPK) voids it, and so do revocation, expiry and disabling the terminal.
 */
export interface KeyApprovalRecord {
  readonly terminalId: string;
  /** The terminal's public key (SPKI, base64) the approval covers. */
  readonly publicKey: string;
  /** Admin token id of the approving key custodian. */
  readonly approvedBy: string;
  readonly approvedAt: number;
  /** The soft-SAM permission ends here (ms); the terminal erases its keys at this time. */
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
}

/** The transit-keys part of the store. */
export interface KeysStore {
  /** Nothing to do for the migrated backends (the tables come with the store's migrations). */
  init(): Promise<void>;
  /** @throws ServerError `SRV_ERR_CONFLICT` when (keySetId, version) exists */
  addKeySetVersion(rec: KeySetVersionRecord): Promise<void>;
  putKeySetVersion(rec: KeySetVersionRecord): Promise<void>;
  getKeySetVersion(keySetId: string, version: number): Promise<KeySetVersionRecord | undefined>;
  /** By key set id ascending, then version descending. */
  listKeySetVersions(keySetId?: string): Promise<KeySetVersionRecord[]>;
  putAssignment(rec: KeyAssignmentRecord): Promise<void>;
  getAssignment(groupId: string): Promise<KeyAssignmentRecord | undefined>;
  deleteAssignment(groupId: string): Promise<boolean>;
  /** By group id ascending. */
  listAssignments(keySetId?: string): Promise<KeyAssignmentRecord[]>;
  /** Stores a job, assigning `seq` (fleet-wide, increasing). @throws ServerError `SRV_ERR_CONFLICT` when the id exists */
  addJob(rec: Omit<KeyJobRecord, 'seq'>): Promise<KeyJobRecord>;
  /** Updates a job's status, keys and expected KCV. */
  putJob(rec: KeyJobRecord): Promise<void>;
  getJob(id: string): Promise<KeyJobRecord | undefined>;
  /** Newest first. */
  listJobs(filter?: { groupId?: string; keySetId?: string; status?: KeyJobStatus }): Promise<KeyJobRecord[]>;
  putJobTerminal(rec: KeyJobTerminalRecord): Promise<void>;
  getJobTerminal(jobId: string, terminalId: string): Promise<KeyJobTerminalRecord | undefined>;
  /** By terminal id ascending. */
  listJobTerminals(jobId: string): Promise<KeyJobTerminalRecord[]>;
  /** A terminal's entries (oldest first), optionally only those in `statuses`. */
  listTerminalEntries(terminalId: string, statuses?: readonly JobStatus[]): Promise<KeyJobTerminalRecord[]>;
  /** Inserts or replaces the approval of `rec.terminalId` (one per terminal). */
  putApproval(rec: KeyApprovalRecord): Promise<void>;
  getApproval(terminalId: string): Promise<KeyApprovalRecord | undefined>;
  /** By terminal id ascending. */
  listApprovals(): Promise<KeyApprovalRecord[]>;
  /**
   * Applies `writes` in order in ONE transaction together with `audit`'s entries (built from the
   * result): an admin key operation and its audit entries commit together or not at all.
   * @throws ServerError `SRV_ERR_CONFLICT` (an `addKeySetVersion`/`addJob` that exists),
   *   `SRV_ERR_NOT_FOUND` (a `deleteAssignment` of no assignment, a `revokeApproval` of no live
   *   approval) — nothing is written then.
   */
  commit(writes: readonly KeyWrite[], audit?: AuditOf<KeyCommitResult>): Promise<KeyCommitResult>;
}

/** One write of {@link KeysStore.commit}, with the meaning of the method of the same name. */
export type KeyWrite =
  | { readonly op: 'addKeySetVersion'; readonly rec: KeySetVersionRecord }
  | { readonly op: 'putKeySetVersion'; readonly rec: KeySetVersionRecord }
  | { readonly op: 'putAssignment'; readonly rec: KeyAssignmentRecord }
  /** Fails the commit when the group has no assignment. */
  | { readonly op: 'deleteAssignment'; readonly groupId: string }
  | { readonly op: 'addJob'; readonly rec: Omit<KeyJobRecord, 'seq'> }
  | { readonly op: 'putJob'; readonly rec: KeyJobRecord }
  | { readonly op: 'putJobTerminal'; readonly rec: KeyJobTerminalRecord }
  | { readonly op: 'putApproval'; readonly rec: KeyApprovalRecord }
  /** Marks the terminal's approval revoked; fails the commit when it has none or it is already revoked. */
  | { readonly op: 'revokeApproval'; readonly terminalId: string; readonly at: number; readonly by: string };

/** What {@link KeysStore.commit} did: the jobs it added, with their `seq`, in write order. */
export interface KeyCommitResult {
  readonly jobs: readonly KeyJobRecord[];
}

// ── software updates ──────────────────────────────────────────────────────────────────────────

export interface PackageRecord {
  readonly id: string;
  /** Upload order, strictly increasing; the `version` number of job notifications. */
  readonly seq: number;
  readonly name: string;
  readonly version: string;
  readonly minPreviousVersion: string;
  readonly size: number;
  readonly sha256: string;
  readonly manifestSha256: string;
  readonly fileCount: number;
  readonly keyId: string;
  readonly alg: string;
  /** The signature file's text, handed to terminals as is. */
  readonly signature: string;
  readonly uploadedAt: number;
  readonly uploadedBy: string;
}

export interface TargetSelector {
  readonly groups?: readonly string[];
  readonly tags?: readonly string[];
  readonly terminals?: readonly string[];
}

export interface RolloutRecord {
  readonly id: string;
  readonly packageId: string;
  readonly target: TargetSelector;
  readonly createdBy: string;
  readonly state: RolloutState;
}

/** The updates part of the store. */
export interface UpdatesStore {
  /** Nothing to do for the migrated backends (the tables come with the store's migrations). */
  init(): Promise<void>;
  /** Stores a package, assigning `seq`. @throws ServerError `SRV_ERR_CONFLICT` when id or name+version exists */
  addPackage(rec: Omit<PackageRecord, 'seq'>, audit?: AuditOf<PackageRecord>): Promise<PackageRecord>;
  getPackage(id: string): Promise<PackageRecord | undefined>;
  /** Newest first. */
  listPackages(): Promise<PackageRecord[]>;
  /** Inserts or replaces a rollout (with `audit`'s entries in the same transaction). */
  putRollout(rec: RolloutRecord, audit?: AuditOf<void>): Promise<void>;
  getRollout(id: string): Promise<RolloutRecord | undefined>;
  /** Rollouts, newest first; `status` filters. */
  listRollouts(status?: readonly RolloutStatus[]): Promise<RolloutRecord[]>;
}
