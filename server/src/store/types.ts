/**
 * The server store interface. Every backend (SQLite by default, PostgreSQL when scaled out)
 * implements it and runs the shared conformance suite in `test/store/conformance.ts`. Methods are
 * async even where SQLite is synchronous so that the backends are interchangeable. Secrets are
 * stored only as SHA-256 hashes of high-entropy random tokens; the clear values exist only in the
 * response that creates them.
 */

export const ROLES = ['viewer', 'operator', 'key-custodian', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
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
  /** Loss reports from this batch that changed the hotlist (new version), if any. */
  readonly hotlist: HotlistChangeResult | null;
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

  createAdminToken(rec: { id: string; name: string; role: Role; tokenHash: string; createdAt: number }): Promise<void>;
  findAdminTokenByHash(tokenHash: string): Promise<AdminTokenRecord | undefined>;
  listAdminTokens(): Promise<AdminTokenRecord[]>;
  countActiveAdminTokens(): Promise<number>;
  revokeAdminToken(id: string, at: number): Promise<boolean>;

  createGroup(rec: { id: string; name: string; createdAt: number }): Promise<void>;
  getGroup(id: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;

  createEnrolmentToken(rec: NewEnrolmentToken): Promise<void>;
  /**
   * Atomically marks the token used by `terminalId` if it exists, is unused and has not expired
   * at `now`; returns it, or `undefined` (never reveals which condition failed). A re-key token
   * (`forTerminal` set) is recorded as used by that terminal whatever `terminalId` says.
   */
  consumeEnrolmentToken(tokenHash: string, terminalId: string, now: number): Promise<EnrolmentTokenRecord | undefined>;
  listEnrolmentTokens(): Promise<EnrolmentTokenRecord[]>;

  createTerminal(rec: { id: string; groupId: string; tags: readonly string[]; kind: string; publicKey: string; credentialHash: string; createdAt: number }): Promise<void>;
  getTerminal(id: string): Promise<TerminalRecord | undefined>;
  listTerminals(filter?: TerminalFilter): Promise<TerminalRecord[]>;
  updateTerminal(id: string, patch: TerminalPatch): Promise<TerminalRecord | undefined>;
  /**
   * Applies a presence change unless it is stale: an update whose epoch is lower than the stored
   * one is ignored, and an offline update for an older epoch never overrides a newer online one.
   * Returns whether it was applied.
   */
  updatePresence(id: string, update: PresenceUpdate): Promise<boolean>;

  /** Looks a terminal up by the SHA-256 of its MQTT password (HTTP bearer authentication). */
  findTerminalByCredentialHash(credentialHash: string): Promise<TerminalRecord | undefined>;

  /**
   * Creates a document with its first version (a new fleet-wide version number).
   * @throws ServerError `SRV_ERR_CONFLICT` when the id exists
   */
  createConfigDoc(rec: { id: string; name: string; body: string; sha256: string; at: number; by: string }): Promise<ConfigDocRecord>;
  /**
   * Adds a version to a document. With `expectedVersion`, the write happens only if the
   * document's newest version is still that one.
   * @throws ServerError `SRV_ERR_NOT_FOUND`, `SRV_ERR_VERSION_MISMATCH` (details: expected, actual)
   */
  updateConfigDoc(id: string, rec: { body: string; sha256: string; at: number; by: string; expectedVersion?: number }): Promise<ConfigDocRecord>;
  getConfigDoc(id: string): Promise<ConfigDocRecord | undefined>;
  listConfigDocs(): Promise<ConfigDocRecord[]>;
  getConfigVersion(version: number): Promise<ConfigVersionRecord | undefined>;
  listConfigVersions(docId: string): Promise<Omit<ConfigVersionRecord, 'body'>[]>;
  /** Assigns `docId` to a group or terminal (replacing any previous assignment of that target). @throws ServerError `SRV_ERR_NOT_FOUND` */
  assignConfig(a: ConfigAssignment): Promise<void>;
  /** Removes an assignment; returns whether one existed. */
  unassignConfig(scope: ConfigScope, target: string): Promise<boolean>;
  listConfigAssignments(docId?: string): Promise<ConfigAssignment[]>;
  /**
   * Effective configurations in one query: of the given terminals, of every terminal whose
   * effective document is `docId`, of a group's terminals, or (no filter) of all terminals that
   * have one. Terminals without any assignment are omitted.
   */
  listEffectiveConfigs(filter: { terminalIds?: readonly string[]; docId?: string; groupId?: string }): Promise<EffectiveConfig[]>;
  /** Records an `applied`/`rejected` status; `applied` also sets the terminal's applied version. */
  recordConfigStatus(rec: ConfigStatusRecord): Promise<void>;
  getTerminalConfigState(terminalId: string): Promise<TerminalConfigState>;
  /** Counts of terminals by state for one document: in sync, pending, rejected. */
  configRolloutSummary(docId: string): Promise<{ terminals: number; applied: number; rejected: number; pending: number }>;

  /** Current hotlist version (0 when it never changed). */
  hotlistVersion(): Promise<number>;
  /** Adds cards in one new version (cards already listed are skipped; no change, no new version). */
  hotlistAdd(adds: readonly HotlistAdd[], at: number): Promise<HotlistChangeResult>;
  /** Cancels (removes) cards in one new version (unlisted ones are skipped). */
  hotlistRemove(cardNumbers: readonly string[], at: number, by: string): Promise<HotlistChangeResult>;
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
   * in `hotlistAdds` (keyed by the eventId that carried them) are applied in the same transaction,
   * and only for events inserted now (never again for a retransmitted duplicate).
   */
  ingestEvents(terminalId: string, records: readonly NewEvent[], receivedAt: number, hotlistAdds?: ReadonlyMap<string, HotlistAdd>): Promise<IngestResult>;
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
