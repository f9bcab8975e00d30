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

  appendAudit(rec: NewAuditRecord): Promise<number>;
  listAudit(opts?: { limit?: number; beforeId?: number; actor?: string; action?: string }): Promise<AuditRecord[]>;

  /** Whether the backend answers (for `/ready`). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
