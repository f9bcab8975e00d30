/** The holder's data tracker as shown to admins and to the holder: accesses (no hashes) and consents. */
import type { RegistryService } from './service.ts';
import type { AccessRecord } from '../store/registry-types.ts';

/** An access as shown to admins and holders: no hashes. */
export function accessView(a: AccessRecord): Record<string, unknown> {
  return { id: a.id, at: a.at, department: a.departmentId, purpose: a.purpose, call: a.call, cardNumber: a.cardNumber, released: a.released, outcome: a.outcome, ...(a.jobId !== null ? { jobId: a.jobId } : {}) };
}

/** A holder's tracker: accesses to their data and their consents (by the keyed hash of the ID number). */
export async function trackerOf(svc: RegistryService, idHash: string, limit: number, before?: number): Promise<{ accesses: Record<string, unknown>[]; consents: Record<string, unknown>[] }> {
  const accesses = await svc.store.listAccesses({ subjectHash: idHash, limit, ...(before !== undefined ? { beforeId: before } : {}) });
  const consents = await svc.store.listConsents({ idHash });
  return {
    accesses: accesses.map(accessView),
    consents: consents.map((c) => ({ id: c.id, department: c.departmentId, purpose: c.purpose, cardNumber: c.cardNumber, grantedAt: c.grantedAt, expiresAt: c.expiresAt, grantedVia: c.grantedVia, revokedAt: c.revokedAt })),
  };
}

