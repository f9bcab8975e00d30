/** The holder's data tracker as shown to admins and to the holder: accesses (no hashes) and consents. */
import type { RegistryService } from './service.ts';
import type { AccessRecord } from '../store/registry-types.ts';

/** An access as shown to admins and holders: no hashes. */
export function accessView(a: AccessRecord): Record<string, unknown> {
  return { id: a.id, at: a.at, department: a.departmentId, purpose: a.purpose, call: a.call, cardNumber: a.cardNumber, released: a.released, outcome: a.outcome, ...(a.jobId !== null ? { jobId: a.jobId } : {}) };
}

/** A holder's tracker: accesses to their data and their consents (by the keyed hash of the ID number), with the departments' names. */
export async function trackerOf(svc: RegistryService, idHash: string, limit: number, before?: number): Promise<{ accesses: Record<string, unknown>[]; consents: Record<string, unknown>[] }> {
  const accesses = await svc.store.listAccesses({ subjectHash: idHash, limit, ...(before !== undefined ? { beforeId: before } : {}) });
  const consents = await svc.store.listConsents({ idHash });
  // The departments' registered names, so the holder reads who asked (a removed department keeps its id only).
  const names = new Map<string, string>();
  for (const id of new Set([...accesses.map((a) => a.departmentId), ...consents.map((c) => c.departmentId)])) {
    const d = await svc.store.getDepartment(id);
    if (d !== undefined) names.set(id, d.name);
  }
  const named = (id: string): Record<string, string> => (names.has(id) ? { departmentName: names.get(id)! } : {});
  return {
    accesses: accesses.map((a) => ({ ...accessView(a), ...named(a.departmentId) })),
    consents: consents.map((c) => ({ id: c.id, department: c.departmentId, ...named(c.departmentId), purpose: c.purpose, cardNumber: c.cardNumber, grantedAt: c.grantedAt, expiresAt: c.expiresAt, grantedVia: c.grantedVia, revokedAt: c.revokedAt })),
  };
}

