/**
 * The card-login part of the store conformance suite (SQLite and PostgreSQL): portals, login
 * transactions finished once with their audit entry, provider-key rotation in one transaction,
 * login groups, the e-card registry, accounts and the provider artefacts (expiry, consume, by uid,
 * revoke by grant).
 */
import type { Test } from 'tap';
import type { Store } from '../../src/store/types.ts';
import type { LoginRecord, ProviderKeyRecord, RelyingPartyRecord } from '../../src/store/oidc-types.ts';

const rp: RelyingPartyRecord = { id: 'rp_1', name: 'Portal', redirectUris: ['https://p.example/cb'], postLogoutRedirectUris: [], allowedClaims: ['name'], methods: ['terminal'], minAcr: 'high', public: false, secretSealed: 'v1.x', status: 'active', createdAt: 1, createdBy: 'adm', updatedAt: 1 };
const login = (code: string, uid: string, createdAt = 10): LoginRecord => ({ code, uid, clientId: 'rp_1', nonce: `n${code}`, createdAt, expiresAt: createdAt + 300, status: 'pending', method: null, accountId: null, acr: null, amr: null, error: null, terminalId: null, finishedAt: null });
const key = (kid: string, at: number): ProviderKeyRecord => ({ kid, alg: 'ES256', status: 'current', sealedJwk: `v1.${kid}`, createdAt: at, retiredAt: null });
const fail = () => { throw new Error('audit failed'); };

export function oidcConformance(t: Test, open: () => Promise<Store>): void {
  t.test('card login: portals created and changed with their audit entries or not at all', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await t.rejects(s.oidc.createRelyingParty(rp, fail));
    t.equal(await s.oidc.getRelyingParty('rp_1'), undefined);
    await s.oidc.createRelyingParty(rp, () => [{ ts: 1, actor: 'adm', action: 'relying-party.create', target: 'rp_1', ip: '', details: {} }]);
    t.same(await s.oidc.getRelyingParty('rp_1'), rp);
    await t.rejects(s.oidc.createRelyingParty(rp), { code: 'SRV_ERR_CONFLICT' });
    await t.rejects(s.oidc.updateRelyingParty({ ...rp, name: 'X' }, fail));
    t.equal((await s.oidc.getRelyingParty('rp_1'))!.name, 'Portal');
    await s.oidc.updateRelyingParty({ ...rp, name: 'X', updatedAt: 2 }, () => [{ ts: 2, actor: 'adm', action: 'relying-party.update', target: 'rp_1', ip: '', details: {} }]);
    await t.rejects(s.oidc.updateRelyingParty({ ...rp, id: 'rp_none' }), { code: 'SRV_ERR_NOT_FOUND' });
    t.same((await s.oidc.listRelyingParties()).map((r) => [r.id, r.name]), [['rp_1', 'X']]);
    t.same((await s.listAudit({ limit: 10 })).map((a) => a.action).sort(), ['relying-party.create', 'relying-party.update']);
  });

  t.test('card login: a login finishes once, with its audit entry; newest by uid; purge', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.oidc.createLogin(login('11111111', 'u1', 10));
    await s.oidc.createLogin(login('22222222', 'u1', 20));
    await t.rejects(s.oidc.createLogin(login('11111111', 'u2')), { code: 'SRV_ERR_CONFLICT' });
    t.equal((await s.oidc.getLoginByUid('u1'))!.code, '22222222', 'newest login of the interaction');
    const outcome = { status: 'done', method: 'terminal', accountId: 'acc_1', acr: 'urn:onecard:loa:high', amr: ['hwk', 'pin'], terminalId: 'T1' } as const;
    await t.rejects(s.oidc.finishLogin('22222222', outcome, 30, fail));
    t.equal((await s.oidc.getLogin('22222222'))!.status, 'pending', 'not finished without its audit entry');
    const done = await s.oidc.finishLogin('22222222', outcome, 30, (l) => [{ ts: 30, actor: 'terminal:T1', action: 'login.accepted', target: l.code, ip: '', details: {} }]);
    t.same({ ...done, nonce: undefined }, { ...login('22222222', 'u1', 20), nonce: undefined, status: 'done', method: 'terminal', accountId: 'acc_1', acr: 'urn:onecard:loa:high', amr: ['hwk', 'pin'], terminalId: 'T1', finishedAt: 30 });
    t.equal(await s.oidc.finishLogin('22222222', { status: 'refused', method: 'terminal', error: 'X', terminalId: null }, 31), undefined, 'once');
    t.same(await s.oidc.getLogin('22222222'), done);
    const refused = await s.oidc.finishLogin('11111111', { status: 'refused', method: 'ecard', error: 'SRV_ERR_LOGIN_HOTLISTED', terminalId: null }, 32);
    t.equal(refused!.error, 'SRV_ERR_LOGIN_HOTLISTED');
    t.equal(await s.oidc.purgeLogins(315), 1, 'the login that expired at 310 goes');
    t.equal(await s.oidc.getLogin('11111111'), undefined);
    t.ok(await s.oidc.getLogin('22222222'));
  });

  t.test('card login: a refused attempt is noted on a pending login only, with its audit entry', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.oidc.createLogin(login('33333333', 'u3', 10));
    await t.rejects(s.oidc.noteLoginAttempt('33333333', 'SRV_ERR_LOGIN_ECARD_HOLDER', fail));
    t.equal((await s.oidc.getLogin('33333333'))!.notice, undefined, 'not noted without its audit entry');
    t.equal(await s.oidc.noteLoginAttempt('33333333', 'SRV_ERR_LOGIN_ECARD_HOLDER', (l) => [{ ts: 11, actor: 'ecard', action: 'login.refused', target: l.code, ip: '', details: {} }]), true);
    const noted = (await s.oidc.getLogin('33333333'))!;
    t.equal(noted.notice, 'SRV_ERR_LOGIN_ECARD_HOLDER');
    t.equal(noted.status, 'pending', 'the login goes on');
    t.equal(await s.oidc.noteLoginAttempt('33333333', 'SRV_ERR_LOGIN_NONCE'), true, 'the latest attempt replaces the notice');
    t.equal((await s.oidc.getLogin('33333333'))!.notice, 'SRV_ERR_LOGIN_NONCE');
    await s.oidc.finishLogin('33333333', { status: 'refused', method: 'ecard', error: 'SRV_ERR_LOGIN_EXPIRED', terminalId: null }, 12);
    t.equal(await s.oidc.noteLoginAttempt('33333333', 'SRV_ERR_LOGIN_ECARD_HOLDER', () => [{ ts: 13, actor: 'ecard', action: 'login.refused', target: 'x', ip: '', details: {} }]), false, 'not on a finished login');
    t.equal(await s.oidc.noteLoginAttempt('44444444', 'SRV_ERR_LOGIN_ECARD_HOLDER'), false, 'nor on an unknown one');
    t.same((await s.listAudit({ limit: 10 })).map((a) => a.target), ['33333333'], 'one audit entry: the one written with the note');
  });

  t.test('card login: key rotation current → retiring → retired in one transaction', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.oidc.rotateProviderKeys(key('k1', 1), 1);
    await s.oidc.rotateProviderKeys(key('k2', 2), 2);
    await t.rejects(s.oidc.rotateProviderKeys(key('k3', 3), 3, fail));
    t.same((await s.oidc.listProviderKeys()).map((k) => [k.kid, k.status]), [['k2', 'current'], ['k1', 'retiring']], 'a failed audit undoes the rotation');
    await s.oidc.rotateProviderKeys(key('k3', 3), 3, () => [{ ts: 3, actor: 'adm', action: 'oidc-key.rotate', target: 'k3', ip: '', details: {} }]);
    t.same((await s.oidc.listProviderKeys()).map((k) => [k.kid, k.status, k.retiredAt]), [['k3', 'current', null], ['k2', 'retiring', null], ['k1', 'retired', 3]]);
  });

  t.test('card login: login groups, e-card registry, accounts', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.oidc.putLoginGroup({ groupId: 'hall', allowed: true, updatedAt: 1, updatedBy: 'a' });
    await s.oidc.putLoginGroup({ groupId: 'hall', allowed: false, updatedAt: 2, updatedBy: 'b' }, () => [{ ts: 2, actor: 'b', action: 'login-group.set', target: 'hall', ip: '', details: {} }]);
    t.same(await s.oidc.getLoginGroup('hall'), { groupId: 'hall', allowed: false, updatedAt: 2, updatedBy: 'b' });
    t.equal(await s.oidc.getLoginGroup('none'), undefined);
    t.equal((await s.oidc.listLoginGroups()).length, 1);
    const h = { holderRef: 'ab', publicKey: '04aa', sealedIdentity: 'v1.y', registeredAt: 1, registeredBy: 'a', revokedAt: null };
    await s.oidc.putEcardHolder(h);
    t.same(await s.oidc.getEcardHolder('ab'), h);
    await t.rejects(s.oidc.revokeEcardHolder('ab', 5, fail));
    t.equal((await s.oidc.getEcardHolder('ab'))!.revokedAt, null);
    t.equal(await s.oidc.revokeEcardHolder('ab', 5), true);
    t.equal(await s.oidc.revokeEcardHolder('ab', 6), false, 'already revoked');
    t.equal((await s.oidc.getEcardHolder('ab'))!.revokedAt, 5);
    await s.oidc.putEcardHolder(h);
    t.equal((await s.oidc.getEcardHolder('ab'))!.revokedAt, null, 're-registration clears the revocation');
    t.same((await s.oidc.listEcardHolders()).map((x) => x.holderRef), ['ab']);
    await s.oidc.putAccount('acc_1', 'v1.a', 1);
    await s.oidc.putAccount('acc_1', 'v1.b', 2);
    t.equal(await s.oidc.getAccount('acc_1'), 'v1.b');
    t.equal(await s.oidc.getAccount('acc_2'), undefined);
  });

  t.test('card login: provider artefacts (expiry, consume, by uid, revoke by grant, purge)', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.oidc.upsertPayload('Session', 's1', { payload: '{"a":1}', grantId: null, uid: 'u1', userCode: null, expiresAt: 100 });
    await s.oidc.upsertPayload('AuthorizationCode', 'c1', { payload: '{"c":1}', grantId: 'g1', uid: null, userCode: null, expiresAt: 100 });
    await s.oidc.upsertPayload('AccessToken', 'a1', { payload: '{"t":1}', grantId: 'g1', uid: null, userCode: null, expiresAt: null });
    await s.oidc.upsertPayload('Grant', 'g1', { payload: '{"g":1}', grantId: null, uid: null, userCode: null, expiresAt: 100 });
    t.same(await s.oidc.findPayload('Session', 's1', 50), { payload: '{"a":1}', expiresAt: 100, consumedAt: null });
    t.equal(await s.oidc.findPayload('Session', 's1', 100), undefined, 'expired');
    t.equal(await s.oidc.findPayload('Grant', 's1', 50), undefined, 'per model');
    t.same((await s.oidc.findPayloadBy('Session', 'uid', 'u1', 50))!.payload, '{"a":1}');
    await s.oidc.upsertPayload('Session', 's1', { payload: '{"a":2}', grantId: null, uid: 'u1', userCode: null, expiresAt: 200 });
    t.same((await s.oidc.findPayload('Session', 's1', 150))!.payload, '{"a":2}', 'upsert replaces');
    await s.oidc.consumePayload('AuthorizationCode', 'c1', 60);
    t.equal((await s.oidc.findPayload('AuthorizationCode', 'c1', 61))!.consumedAt, 60);
    await s.oidc.revokePayloadsByGrant('g1');
    t.equal(await s.oidc.findPayload('AuthorizationCode', 'c1', 61), undefined);
    t.equal(await s.oidc.findPayload('AccessToken', 'a1', 61), undefined);
    t.ok(await s.oidc.findPayload('Grant', 'g1', 61));
    await s.oidc.destroyPayload('Grant', 'g1');
    t.equal(await s.oidc.findPayload('Grant', 'g1', 61), undefined);
    t.equal(await s.oidc.purgePayloads(250), 1);
  });
}
