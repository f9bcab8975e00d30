/** Staff credentials in the store conformance suite: hash lookup, list, revoke, and each mutation committed with its audit entry or not at all. */
import type { Test } from 'tap';
import type { Store } from '../../src/store/types.ts';

export function staffConformance(t: Test, open: () => Promise<Store>): void {
  t.test('staff credentials: create, find by hash, list, revoke; committed with their audit entry', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const rec = { id: 'stf_1', staffId: 'E1', name: 'A', groups: ['g1', 'g2'], createdAt: 5, createdBy: 'adm_1', credentialHash: 'h1' };
    await t.rejects(s.createStaffCredential(rec, () => { throw new Error('audit failed'); }));
    t.equal(await s.findStaffCredentialByHash('h1'), undefined, 'no credential without its audit entry');
    await s.createStaffCredential(rec, () => [{ ts: 5, actor: 'adm_1', action: 'staff-credential.create', target: 'stf_1', ip: '', details: {} }]);
    t.same(await s.findStaffCredentialByHash('h1'), { id: 'stf_1', staffId: 'E1', name: 'A', groups: ['g1', 'g2'], createdAt: 5, createdBy: 'adm_1', revokedAt: null });
    t.equal(await s.findStaffCredentialByHash('h2'), undefined);
    await t.rejects(s.revokeStaffCredential('stf_1', 9, () => { throw new Error('audit failed'); }));
    t.equal((await s.findStaffCredentialByHash('h1'))!.revokedAt, null, 'not revoked without its audit entry');
    t.equal(await s.revokeStaffCredential('stf_1', 9, () => [{ ts: 9, actor: 'adm_1', action: 'staff-credential.revoke', target: 'stf_1', ip: '', details: {} }]), true);
    t.equal(await s.revokeStaffCredential('stf_1', 10, () => []), false, 'already revoked');
    t.equal(await s.revokeStaffCredential('nope', 10, () => []), false, 'unknown');
    t.same((await s.listStaffCredentials()).map((c) => [c.id, c.revokedAt]), [['stf_1', 9]]);
    t.same((await s.listAudit({ limit: 10 })).map((a) => a.action).sort(), ['staff-credential.create', 'staff-credential.revoke']);
  });
}
