/**
 * Admin routes of the card login (docs/login.md): portals (relying parties) registered by admins,
 * the terminal groups allowed to authenticate card holders, the e-card key registry and the
 * provider's signing-key rotation. Every change is audited in the same transaction. A portal's
 * client secret is shown once, in the response that creates it, and kept sealed under the master key.
 */
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { sm2ValidatePublicKey } from '@onecard/protocol/crypto';
import { ServerError } from '../errors.ts';
import { newId } from '../crypto-util.ts';
import { auditEntry } from './admin.ts';
import { ASSURANCE_LEVELS, LOGIN_CLAIMS, LOGIN_METHODS, type AssuranceLevel, type EcardHolderRecord, type LoginClaim, type LoginMethod, type RelyingPartyRecord } from '../store/oidc-types.ts';
import type { OidcLogin } from '../oidc/plugin.ts';
import { maskCard, parseCard } from '../oidc/logins.ts';
import { newProviderKey } from '../oidc/provider.ts';

const Uri = { type: 'string', minLength: 8, maxLength: 512 } as const;
const RpBody = {
  type: 'object', additionalProperties: false, required: ['name', 'redirectUris', 'allowedClaims', 'methods', 'minAcr'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 80 },
    redirectUris: { type: 'array', items: Uri, minItems: 1, maxItems: 10, uniqueItems: true },
    postLogoutRedirectUris: { type: 'array', items: Uri, maxItems: 10, uniqueItems: true },
    allowedClaims: { type: 'array', items: { type: 'string', enum: [...LOGIN_CLAIMS] }, uniqueItems: true },
    methods: { type: 'array', items: { type: 'string', enum: [...LOGIN_METHODS] }, minItems: 1, uniqueItems: true },
    minAcr: { type: 'string', enum: [...ASSURANCE_LEVELS] },
    public: { type: 'boolean' },
    status: { type: 'string', enum: ['active', 'disabled'] },
  },
} as const;

interface RpInput {
  name: string; redirectUris: string[]; postLogoutRedirectUris?: string[]; allowedClaims: LoginClaim[]; methods: LoginMethod[]; minAcr: AssuranceLevel; public?: boolean; status?: 'active' | 'disabled';
}

/**
 * Redirect URIs: absolute `https` (or `http` on a loopback host, for development), no fragment, all
 * on one host (the pairwise subject's sector).
 * @throws ServerError `SRV_ERR_VALIDATION`
 */
export function checkRedirectUris(uris: readonly string[], field: string): string | undefined {
  let host: string | undefined;
  for (const u of uris) {
    let url: URL;
    try { url = new URL(u); } catch { throw new ServerError('SRV_ERR_VALIDATION', `${field}: not an absolute URL`, { field }); }
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new ServerError('SRV_ERR_VALIDATION', `${field}: https required (http only on loopback)`, { field });
    if (url.hash !== '' || u.includes('#')) throw new ServerError('SRV_ERR_VALIDATION', `${field}: no fragment`, { field });
    if (host !== undefined && url.hostname !== host) throw new ServerError('SRV_ERR_VALIDATION', `${field}: all redirect URIs must be on one host`, { field });
    host = url.hostname;
  }
  return host;
}

/** A portal as the API shows it (never its secret). */
export function rpView(rp: RelyingPartyRecord): Omit<RelyingPartyRecord, 'secretSealed'> {
  const { secretSealed: _omit, ...rest } = rp;
  return rest;
}

export default async function relyingPartyRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;
  const login = (): OidcLogin => {
    if (app.oidcLogin === undefined) throw new ServerError('SRV_ERR_LOGIN_UNAVAILABLE');
    return app.oidcLogin;
  };

  app.get('/api/v1/relying-parties', { preHandler: app.requireRole('viewer', 'operator'), schema: { tags: ['login'], summary: 'Registered portals (no secrets)' } },
    async () => ({ relyingParties: (await store.oidc.listRelyingParties()).map(rpView) }));

  app.post<{ Body: RpInput }>('/api/v1/relying-parties', {
    preHandler: app.requireRole('admin'),
    schema: { tags: ['login'], summary: 'Register a portal (admin); a confidential portal\'s client secret is in this response only', body: RpBody },
  }, async (req, reply) => {
    const { keys } = login();
    const b = req.body;
    checkRedirectUris(b.redirectUris, 'redirectUris');
    checkRedirectUris(b.postLogoutRedirectUris ?? [], 'postLogoutRedirectUris');
    const id = newId('rp_');
    const secret = b.public === true ? undefined : randomBytes(32).toString('base64url');
    const now = clock.now();
    const rec: RelyingPartyRecord = {
      id, name: b.name, redirectUris: b.redirectUris, postLogoutRedirectUris: b.postLogoutRedirectUris ?? [], allowedClaims: b.allowedClaims, methods: b.methods, minAcr: b.minAcr,
      public: b.public === true, secretSealed: secret === undefined ? null : keys.seal('client-secret', secret, id), status: b.status ?? 'active', createdAt: now, createdBy: req.admin!.id, updatedAt: now,
    };
    await store.oidc.createRelyingParty(rec, () => [auditEntry(req, clock, 'relying-party.create', id, { name: b.name, redirectUris: b.redirectUris, allowedClaims: b.allowedClaims, methods: b.methods, minAcr: b.minAcr, public: rec.public })]);
    reply.code(201);
    return { ...rpView(rec), ...(secret !== undefined ? { clientSecret: secret } : {}) };
  });

  app.put<{ Params: { id: string }; Body: RpInput }>('/api/v1/relying-parties/:id', {
    preHandler: app.requireRole('admin'),
    schema: { tags: ['login'], summary: 'Change a portal (admin): URIs, claims, methods, assurance, status', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }, body: RpBody },
  }, async (req) => {
    login();
    const cur = await store.oidc.getRelyingParty(req.params.id);
    if (cur === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `relying party ${req.params.id}`);
    const b = req.body;
    if ((b.public === true) !== cur.public) throw new ServerError('SRV_ERR_VALIDATION', 'a portal cannot change between public and confidential; register a new one', { field: 'public' });
    checkRedirectUris(b.redirectUris, 'redirectUris');
    checkRedirectUris(b.postLogoutRedirectUris ?? [], 'postLogoutRedirectUris');
    const rec: RelyingPartyRecord = { ...cur, name: b.name, redirectUris: b.redirectUris, postLogoutRedirectUris: b.postLogoutRedirectUris ?? [], allowedClaims: b.allowedClaims, methods: b.methods, minAcr: b.minAcr, status: b.status ?? cur.status, updatedAt: clock.now() };
    await store.oidc.updateRelyingParty(rec, () => [auditEntry(req, clock, 'relying-party.update', rec.id, { name: b.name, redirectUris: b.redirectUris, allowedClaims: b.allowedClaims, methods: b.methods, minAcr: b.minAcr, status: rec.status })]);
    return rpView(rec);
  });

  app.get('/api/v1/login-groups', { preHandler: app.requireRole('viewer', 'operator'), schema: { tags: ['login'], summary: 'Terminal groups and whether they may authenticate card holders' } },
    async () => ({ groups: await store.oidc.listLoginGroups() }));

  app.put<{ Params: { groupId: string }; Body: { allowed: boolean } }>('/api/v1/login-groups/:groupId', {
    preHandler: app.requireRole('operator'),
    schema: { tags: ['login'], summary: 'Allow or forbid a terminal group to authenticate card holders', params: { type: 'object', required: ['groupId'], properties: { groupId: { type: 'string', maxLength: 64 } } }, body: { type: 'object', additionalProperties: false, required: ['allowed'], properties: { allowed: { type: 'boolean' } } } },
  }, async (req) => {
    if ((await store.getGroup(req.params.groupId)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `group ${req.params.groupId}`);
    const rec = { groupId: req.params.groupId, allowed: req.body.allowed, updatedAt: clock.now(), updatedBy: req.admin!.id };
    await store.oidc.putLoginGroup(rec, () => [auditEntry(req, clock, 'login-group.set', rec.groupId, { allowed: rec.allowed })]);
    return rec;
  });

  const holderView = (h: EcardHolderRecord, card: { cardNumber: string } | undefined) => ({ holderRef: h.holderRef, publicKey: h.publicKey, card: card === undefined ? null : maskCard(card.cardNumber), registeredAt: h.registeredAt, registeredBy: h.registeredBy, revokedAt: h.revokedAt });

  app.get('/api/v1/ecard-holders', { preHandler: app.requireRole('operator'), schema: { tags: ['login'], summary: 'The e-card key registry (card numbers masked, no names or ID numbers)' } }, async () => {
    const { keys } = login();
    return { holders: (await store.oidc.listEcardHolders()).map((h) => holderView(h, JSON.parse(keys.open('ecard-holder', h.sealedIdentity, h.holderRef)) as { cardNumber: string })) };
  });

  app.post<{ Body: { holderRef: string; publicKey: string; cardNumber: string; idNumber: string; name: string } }>('/api/v1/ecard-holders', {
    preHandler: app.requireRole('operator'),
    schema: {
      tags: ['login'], summary: 'Register (or re-register) an e-card holder\'s SM2 key with the holder\'s identity',
      body: { type: 'object', additionalProperties: false, required: ['holderRef', 'publicKey', 'cardNumber', 'idNumber', 'name'], properties: { holderRef: { type: 'string', pattern: '^[0-9a-fA-F]{2,64}$' }, publicKey: { type: 'string', pattern: '^04[0-9a-fA-F]{128}$' }, cardNumber: { type: 'string', maxLength: 20 }, idNumber: { type: 'string', maxLength: 18 }, name: { type: 'string', maxLength: 64 } } },
    },
  }, async (req, reply) => {
    const { keys } = login();
    const card = parseCard({ cardNumber: req.body.cardNumber, idNumber: req.body.idNumber, name: req.body.name });
    if (card === undefined) throw new ServerError('SRV_ERR_VALIDATION', 'cardNumber, idNumber (18 characters) and name', { field: 'card' });
    try { sm2ValidatePublicKey(Buffer.from(req.body.publicKey, 'hex')); } catch { throw new ServerError('SRV_ERR_VALIDATION', 'publicKey is not a point of the SM2 curve', { field: 'publicKey' }); }
    const holderRef = req.body.holderRef.toLowerCase();
    const rec: EcardHolderRecord = { holderRef, publicKey: req.body.publicKey.toLowerCase(), sealedIdentity: keys.seal('ecard-holder', JSON.stringify(card), holderRef), registeredAt: clock.now(), registeredBy: req.admin!.id, revokedAt: null };
    await store.oidc.putEcardHolder(rec, () => [auditEntry(req, clock, 'ecard-holder.register', holderRef, { card: maskCard(card.cardNumber) })]);
    reply.code(201);
    return holderView(rec, card);
  });

  app.delete<{ Params: { holderRef: string } }>('/api/v1/ecard-holders/:holderRef', {
    preHandler: app.requireRole('operator'),
    schema: { tags: ['login'], summary: 'Revoke an e-card holder key', params: { type: 'object', required: ['holderRef'], properties: { holderRef: { type: 'string', pattern: '^[0-9a-fA-F]{2,64}$' } } } },
  }, async (req, reply) => {
    const ref = req.params.holderRef.toLowerCase();
    if (!(await store.oidc.revokeEcardHolder(ref, clock.now(), () => [auditEntry(req, clock, 'ecard-holder.revoke', ref)]))) throw new ServerError('SRV_ERR_NOT_FOUND', `live e-card holder ${ref}`);
    reply.code(204);
  });

  app.get('/api/v1/oidc/keys', { preHandler: app.requireRole('viewer', 'operator'), schema: { tags: ['login'], summary: 'Provider signing keys: id, status, dates (never key material)' } },
    async () => ({ keys: (await store.oidc.listProviderKeys()).map((k) => ({ kid: k.kid, alg: k.alg, status: k.status, createdAt: k.createdAt, retiredAt: k.retiredAt })) }));

  app.post('/api/v1/oidc/keys/rotate', {
    preHandler: app.requireRole('admin'),
    schema: { tags: ['login'], summary: 'Rotate the provider signing key: a new current key; the old one stays published while retiring; the one before is retired' },
  }, async (req) => {
    const { keys, reload } = login();
    const now = clock.now();
    const key = newProviderKey(keys, now);
    await store.oidc.rotateProviderKeys(key, now, () => [auditEntry(req, clock, 'oidc-key.rotate', key.kid)]);
    reload();
    return { kid: key.kid, status: 'current' };
  });
}
