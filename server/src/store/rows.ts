/**
 * Row shapes, row → record mappers and the selects written alike for both backends, shared by
 * the SQLite and PostgreSQL stores: both schemas have the same tables and columns (snake_case,
 * JSON documents as text, millisecond timestamps as integers that both drivers return as JS
 * numbers), so one mapper per table serves both.
 */
import type {
  AdminTokenRecord, AuditRecord, ConfigAssignment, ConfigDocRecord, ConfigScope, ConfigStatusRecord, ConfigVersionRecord, EffectiveConfig, EnrolmentTokenRecord, EventRecord, GroupRecord, HotlistEntry,
  KeyApprovalRecord, KeyAssignmentRecord, KeyJobRecord, KeyJobStatus, KeyJobTerminalRecord, KeyRef, KeySetVersionRecord, KeySetVersionStatus,
  PackageRecord, Role, RolloutRecord, StaffCredentialRecord, StoredKey, TargetSelector, TelemetryRecord, TerminalRecord, TerminalStatus,
} from './types.ts';
import type { JobStatus } from '../jobs/notifier.ts';
import type { RolloutState } from '../updates/rollout.ts';

export interface TerminalRow {
  id: string; group_id: string; tags: string; kind: string; public_key: string; credential_hash: string;
  status: string; created_at: number; last_seen: number | null; online: number; epoch: number; reported: string; name?: string | null;
}
export interface StaffRow { id: string; staff_id: string; name: string; groups: string; created_at: number; created_by: string; revoked_at: number | null }
export const toStaff = (r: StaffRow): StaffCredentialRecord => ({
  id: r.id, staffId: r.staff_id, name: r.name, groups: JSON.parse(r.groups) as string[], createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at,
});
export const STAFF_COLUMNS = 'id, staff_id, name, groups, created_at, created_by, revoked_at';
export interface TokenRow { id: string; name: string; role: string; created_at: number; revoked_at: number | null }
export interface EnrolRow { id: string; group_id: string; tags: string; expires_at: number; created_at: number; created_by: string; used_at: number | null; used_by: string | null; for_terminal: string | null }
export interface AuditRow { id: number; ts: number; actor: string; action: string; target: string; ip: string; details: string }
export interface DocRow { id: string; name: string; created_at: number; version: number; sha256: string; updated_at: number; updated_by: string }
export interface VersionRow { version: number; doc_id: string; sha256: string; body?: string; created_at: number; created_by: string }
export interface StatusRow { terminal_id: string; version: number; status: string; error_code: string | null; error_message: string | null; at: number; applied_version: number | null; changes?: string | null }
export interface HotlistRow { card_number: string; version: number; reported_at: number; reported_by: string; source: string; reason: string }
export interface EventRow { id: number; terminal_id: string; event_id: string; seq: number; ts: number; type: string; body: string; received_at: number }
export interface TeleRow { terminal_id: string; ts: number; received_at: number; epoch: number; health: string; readers: string; counters: string; outbox: string | null }
export interface EffRow { terminal_id: string; doc_id: string; version: number; sha256: string }

export const toTerminal = (r: TerminalRow): TerminalRecord => ({
  id: r.id, groupId: r.group_id, tags: JSON.parse(r.tags) as string[], kind: r.kind, name: r.name ?? null, publicKey: r.public_key,
  credentialHash: r.credential_hash, status: r.status as TerminalStatus, createdAt: r.created_at, lastSeen: r.last_seen,
  online: r.online === 1, epoch: r.epoch, reported: JSON.parse(r.reported) as Record<string, unknown>,
});
export const toToken = (r: TokenRow): AdminTokenRecord => ({ id: r.id, name: r.name, role: r.role as Role, createdAt: r.created_at, revokedAt: r.revoked_at });
export const toEnrol = (r: EnrolRow): EnrolmentTokenRecord => ({
  id: r.id, groupId: r.group_id, tags: JSON.parse(r.tags) as string[], expiresAt: r.expires_at, createdAt: r.created_at,
  createdBy: r.created_by, usedAt: r.used_at, usedBy: r.used_by, forTerminal: r.for_terminal,
});
export interface GroupRow { id: string; name: string; created_at: number }
export interface AssignmentRow { scope: ConfigScope; target: string; doc_id: string }
export const toGroup = (r: GroupRow): GroupRecord => ({ id: r.id, name: r.name, createdAt: r.created_at });
/** A version row selected with its body. */
export const toVersion = (r: VersionRow): ConfigVersionRecord => ({ version: r.version, docId: r.doc_id, sha256: r.sha256, body: r.body!, createdAt: r.created_at, createdBy: r.created_by });
/** A version row selected without its body (listings). */
export const toVersionMeta = (r: VersionRow): Omit<ConfigVersionRecord, 'body'> => ({ version: r.version, docId: r.doc_id, sha256: r.sha256, createdAt: r.created_at, createdBy: r.created_by });
export const toAssignment = (r: AssignmentRow): ConfigAssignment => ({ scope: r.scope, target: r.target, docId: r.doc_id });
/** A config document with its current version's digest (the select of {@link DocRow}). */
export const DOC_SELECT = 'SELECT d.id, d.name, d.created_at, d.version, v.sha256, d.updated_at, d.updated_by FROM config_docs d JOIN config_versions v ON v.version = d.version';
/** Effective document per terminal (the select of {@link EffRow}): its own assignment, else its group's. */
export const EFFECTIVE_SQL = `SELECT t.id AS terminal_id, d.id AS doc_id, d.version AS version, v.sha256 AS sha256
  FROM terminals t
  LEFT JOIN config_assignments ta ON ta.scope = 'terminal' AND ta.target = t.id
  LEFT JOIN config_assignments ga ON ga.scope = 'group' AND ga.target = t.group_id
  JOIN config_docs d ON d.id = coalesce(ta.doc_id, ga.doc_id)
  JOIN config_versions v ON v.version = d.version`;
export const toDoc = (r: DocRow): ConfigDocRecord => ({ id: r.id, name: r.name, createdAt: r.created_at, version: r.version, sha256: r.sha256, updatedAt: r.updated_at, updatedBy: r.updated_by });
export const toStatus = (r: StatusRow): ConfigStatusRecord => ({ terminalId: r.terminal_id, version: r.version, status: r.status as 'applied' | 'rejected', errorCode: r.error_code, errorMessage: r.error_message, at: r.at, ...(r.changes == null ? {} : { changes: JSON.parse(r.changes) as ConfigStatusRecord['changes'] & object }) });
export const toHot = (r: HotlistRow): HotlistEntry => ({ cardNumber: r.card_number, version: r.version, reportedAt: r.reported_at, reportedBy: r.reported_by, source: r.source as 'admin' | 'terminal', reason: r.reason });
export const toEvent = (r: EventRow): EventRecord => ({ id: r.id, terminalId: r.terminal_id, eventId: r.event_id, seq: r.seq, ts: r.ts, type: r.type, body: JSON.parse(r.body) as Record<string, unknown>, receivedAt: r.received_at });
export const toTele = (r: TeleRow): TelemetryRecord => ({
  terminalId: r.terminal_id, ts: r.ts, receivedAt: r.received_at, epoch: r.epoch, health: r.health,
  readers: JSON.parse(r.readers) as Record<string, unknown>[], counters: JSON.parse(r.counters) as Record<string, number>,
  outbox: r.outbox === null ? null : JSON.parse(r.outbox) as { pending: number; full: boolean },
});
export const toEff = (r: EffRow): EffectiveConfig => ({ terminalId: r.terminal_id, docId: r.doc_id, version: r.version, sha256: r.sha256 });
export const toAudit = (r: AuditRow): AuditRecord => ({ id: r.id, ts: r.ts, actor: r.actor, action: r.action, target: r.target, ip: r.ip, details: JSON.parse(r.details) as Record<string, unknown> });

// ── keys ──────────────────────────────────────────────────────────────────────────────────────

export interface KeyVersionRow { key_set_id: string; version: number; description: string; status: string; deadline: number | null; master_kcv: string; keys: string; created_at: number; created_by: string }
export const toKeyVersion = (r: KeyVersionRow): KeySetVersionRecord => ({
  keySetId: r.key_set_id, version: r.version, description: r.description, status: r.status as KeySetVersionStatus, deadline: r.deadline,
  masterKcv: r.master_kcv, keys: JSON.parse(r.keys) as StoredKey[], createdAt: r.created_at, createdBy: r.created_by,
});
export interface KeyAssignRow { group_id: string; key_set_id: string; version: number; assigned_at: number; assigned_by: string }
export const toKeyAssign = (r: KeyAssignRow): KeyAssignmentRecord => ({ groupId: r.group_id, keySetId: r.key_set_id, version: r.version, assignedAt: r.assigned_at, assignedBy: r.assigned_by });
export interface KeyJobRow { seq: number; id: string; group_id: string; key_set_id: string; version: number; keys: string; expected_kcv: string; status: string; created_at: number; created_by: string }
export const toKeyJob = (r: KeyJobRow): KeyJobRecord => ({
  id: r.id, seq: r.seq, groupId: r.group_id, keySetId: r.key_set_id, version: r.version, keys: JSON.parse(r.keys) as KeyRef[], expectedKcv: r.expected_kcv,
  status: r.status as KeyJobStatus, createdAt: r.created_at, createdBy: r.created_by,
});
export interface KeyEntryRow { job_id: string; terminal_id: string; status: string; reported_kcv: string | null; error: string | null; created_at: number; updated_at: number }
export const toKeyEntry = (r: KeyEntryRow): KeyJobTerminalRecord => ({ jobId: r.job_id, terminalId: r.terminal_id, status: r.status as JobStatus, reportedKcv: r.reported_kcv, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at });
export interface KeyApprovalRow { terminal_id: string; public_key: string; approved_by: string; approved_at: number; expires_at: number; revoked_at: number | null; revoked_by: string | null }
export const toKeyApproval = (r: KeyApprovalRow): KeyApprovalRecord => ({
  terminalId: r.terminal_id, publicKey: r.public_key, approvedBy: r.approved_by, approvedAt: r.approved_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, revokedBy: r.revoked_by,
});

// ── updates ───────────────────────────────────────────────────────────────────────────────────

export interface PackageRow {
  seq: number; id: string; name: string; version: string; min_previous_version: string; size: number; sha256: string; manifest_sha256: string;
  file_count: number; key_id: string; alg: string; signature: string; uploaded_at: number; uploaded_by: string;
}
export const toPackage = (r: PackageRow): PackageRecord => ({
  id: r.id, seq: r.seq, name: r.name, version: r.version, minPreviousVersion: r.min_previous_version, size: r.size, sha256: r.sha256,
  manifestSha256: r.manifest_sha256, fileCount: r.file_count, keyId: r.key_id, alg: r.alg, signature: r.signature, uploadedAt: r.uploaded_at, uploadedBy: r.uploaded_by,
});
export interface RolloutRow { id: string; package_id: string; target: string; created_by: string; state: string }
export const toRollout = (r: RolloutRow): RolloutRecord => ({ id: r.id, packageId: r.package_id, target: JSON.parse(r.target) as TargetSelector, createdBy: r.created_by, state: JSON.parse(r.state) as RolloutState });
