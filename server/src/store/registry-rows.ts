/** Row shapes of the registry and sharing tables and their mapping to records (shared by both backends). */
import type { CardStatus, Generation } from '../registry/model.ts';
import type { AccessRecord, BatchJobRecord, BatchStatus, CardHistoryRecord, CardRecord, ConsentRecord, DepartmentRecord } from './registry-types.ts';

export interface CardRow {
  card_number: string; id_hash: string; holder_hash: string; id_sealed: string; name_sealed: string; region: string; generation: string;
  issued_on: string; expires_on: string; status: string; replaced_by: string | null; feed_seq: number; content_hash: string;
  created_at: number; updated_at: number; updated_by: string;
}
export const toCard = (r: CardRow): CardRecord => ({
  cardNumber: r.card_number, idHash: r.id_hash, holderHash: r.holder_hash, idSealed: r.id_sealed, nameSealed: r.name_sealed, region: r.region,
  generation: r.generation as Generation, issuedOn: r.issued_on, expiresOn: r.expires_on, status: r.status as CardStatus, replacedBy: r.replaced_by,
  feedSeq: Number(r.feed_seq), contentHash: r.content_hash, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), updatedBy: r.updated_by,
});

export interface HistoryRow { id: number; card_number: string; at: number; actor: string; action: string; from_status: string | null; to_status: string; details: string }
export const toHistory = (r: HistoryRow): CardHistoryRecord => ({
  id: Number(r.id), cardNumber: r.card_number, at: Number(r.at), actor: r.actor, action: r.action, fromStatus: r.from_status as CardStatus | null,
  toStatus: r.to_status as CardStatus, details: JSON.parse(r.details) as Record<string, unknown>,
});

export interface DepartmentRow { id: string; name: string; client_id: string; purposes: string; rate_per_minute: number; daily_quota: number; created_at: number; created_by: string; disabled_at: number | null }
export const toDepartment = (r: DepartmentRow): DepartmentRecord => ({
  id: r.id, name: r.name, clientId: r.client_id, purposes: JSON.parse(r.purposes) as string[], ratePerMinute: Number(r.rate_per_minute), dailyQuota: Number(r.daily_quota),
  createdAt: Number(r.created_at), createdBy: r.created_by, disabledAt: r.disabled_at === null ? null : Number(r.disabled_at),
});

export interface ConsentRow {
  id: string; card_number: string; id_hash: string; department_id: string; purpose: string; granted_at: number; expires_at: number; granted_via: string;
  revoked_at: number | null; revoked_via: string | null;
}
export const toConsent = (r: ConsentRow): ConsentRecord => ({
  id: r.id, cardNumber: r.card_number, idHash: r.id_hash, departmentId: r.department_id, purpose: r.purpose, grantedAt: Number(r.granted_at),
  expiresAt: Number(r.expires_at), grantedVia: r.granted_via, revokedAt: r.revoked_at === null ? null : Number(r.revoked_at), revokedVia: r.revoked_via,
});

export interface AccessRow {
  id: number; at: number; department_id: string; purpose: string; call: string; subject_hash: string | null; card_number: string | null; released: string;
  outcome: string; job_id: string | null;
}
export const toAccess = (r: AccessRow): AccessRecord => ({
  id: Number(r.id), at: Number(r.at), departmentId: r.department_id, purpose: r.purpose, call: r.call, subjectHash: r.subject_hash, cardNumber: r.card_number,
  released: JSON.parse(r.released) as string[], outcome: r.outcome, jobId: r.job_id,
});

export interface BatchRow { id: string; department_id: string; purpose: string; status: string; total: number; matched: number; created_at: number; finished_at: number | null }
export const toBatch = (r: BatchRow): BatchJobRecord => ({
  id: r.id, departmentId: r.department_id, purpose: r.purpose, status: r.status as BatchStatus, total: Number(r.total), matched: Number(r.matched),
  createdAt: Number(r.created_at), finishedAt: r.finished_at === null ? null : Number(r.finished_at),
});
