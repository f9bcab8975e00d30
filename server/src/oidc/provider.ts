/**
 * Builds the OpenID Provider (`oidc-provider` v8) from the store: portals as clients, the signing
 * keys (ES256, sealed under the master key, the current one first and retiring ones still
 * published), the store-backed adapter for sessions, grants, codes and interactions, pairwise
 * subjects, the claims each portal may receive, `acr`/`amr`, PKCE required, RP-initiated logout.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { interactionPolicy, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { Store } from '../store/types.ts';
import type { ProviderKeyRecord, RelyingPartyRecord } from '../store/oidc-types.ts';
import type { LoginKeys } from './seal.ts';
import { ACR, type LoginService } from './logins.ts';
import { renderLogoutPage, renderPostLogoutPage, renderProviderError } from './pages.ts';

/** What a claim-bearing scope releases. */
export const SCOPE_CLAIMS = { name: ['name'], id_number: ['id_number'] } as const;
const ACR_RANK: Readonly<Record<string, number>> = { [ACR.substantial]: 1, [ACR.high]: 2 };

/** Client metadata of a portal, as the provider reads it. */
export function clientMetadata(rp: RelyingPartyRecord, secret: string | undefined): Record<string, unknown> {
  return {
    client_id: rp.id,
    client_name: rp.name,
    redirect_uris: [...rp.redirectUris],
    post_logout_redirect_uris: [...rp.postLogoutRedirectUris],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: ['openid', ...rp.allowedClaims].join(' '),
    subject_type: 'pairwise',
    id_token_signed_response_alg: 'ES256',
    default_acr_values: [rp.minAcr === 'high' ? ACR.high : ACR.substantial],
    ...(rp.public ? { token_endpoint_auth_method: 'none' } : { token_endpoint_auth_method: 'client_secret_basic', client_secret: secret }),
  };
}

/** A new sealed ES256 signing key. */
export function newProviderKey(keys: LoginKeys, now: number): ProviderKeyRecord {
  const kid = `k${now.toString(36)}${randomBytes(6).toString('hex')}`;
  const jwk = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  return { kid, alg: 'ES256', status: 'current', sealedJwk: keys.seal('provider-key', JSON.stringify(jwk), kid), createdAt: now, retiredAt: null };
}

export interface ProviderDeps {
  readonly store: Store;
  readonly keys: LoginKeys;
  readonly logins: LoginService;
  /** Audit entries of the provider's own events (claims released, errors). */
  readonly audit: (action: string, target: string, ip: string, details: Record<string, unknown>) => void;
  readonly mountPath: string;
  /**
   * Whether a trusted reverse proxy may sit in front (Koa's `proxy`): the plugin then hands the
   * provider only the `X-Forwarded-Proto/Host/For` values Fastify's `trustProxy` believed.
   */
  readonly proxy: boolean;
}

/** The adapter over the store's provider artefacts; `Client` reads the registered portals. */
function adapterFor(store: Store, keys: LoginKeys): new (model: string) => Adapter {
  return class StoreAdapter implements Adapter {
    readonly #model: string;
    constructor(model: string) { this.#model = model; }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await store.oidc.upsertPayload(this.#model, id, {
        payload: JSON.stringify(payload), grantId: payload.grantId ?? null, uid: payload.uid ?? null, userCode: payload.userCode ?? null,
        expiresAt: expiresIn > 0 ? Date.now() + expiresIn * 1000 : null,
      });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.#model === 'Client') {
        const rp = await store.oidc.getRelyingParty(id);
        if (rp === undefined || rp.status !== 'active') return undefined;
        return clientMetadata(rp, rp.secretSealed === null ? undefined : keys.open('client-secret', rp.secretSealed, rp.id));
      }
      return this.#out(await store.oidc.findPayload(this.#model, id, Date.now()));
    }
    #out(r: { payload: string; consumedAt: number | null } | undefined): AdapterPayload | undefined {
      if (r === undefined) return undefined;
      const p = JSON.parse(r.payload) as AdapterPayload;
      return r.consumedAt === null ? p : { ...p, consumed: Math.floor(r.consumedAt / 1000) };
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.#out(await store.oidc.findPayloadBy(this.#model, 'userCode', userCode, Date.now()));
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.#out(await store.oidc.findPayloadBy(this.#model, 'uid', uid, Date.now()));
    }
    async consume(id: string): Promise<void> { await store.oidc.consumePayload(this.#model, id, Date.now()); }
    async destroy(id: string): Promise<void> { await store.oidc.destroyPayload(this.#model, id); }
    async revokeByGrantId(grantId: string): Promise<void> { await store.oidc.revokePayloadsByGrant(grantId); }
  };
}

/** A published key set: the private JWKs (current first, then retiring) and the version it was read at. */
export interface ProviderKeySet {
  readonly jwks: Record<string, unknown>[];
  readonly version: string;
}

/**
 * The version of the stored key set: every key id with its status, newest first. Any rotation (on
 * any server sharing the store) changes it, so a server compares it with the one its provider was
 * built from before serving (docs/login.md §7).
 */
export function keySetVersion(list: readonly ProviderKeyRecord[]): string {
  return list.map((k) => `${k.kid}:${k.status}`).join(',');
}

/** Ensures a current signing key exists (creating the first one) and returns the published keys, current first. */
export async function providerJwks(store: Store, keys: LoginKeys, now: number): Promise<ProviderKeySet> {
  let list = await store.oidc.listProviderKeys();
  if (!list.some((k) => k.status === 'current')) {
    await store.oidc.rotateProviderKeys(newProviderKey(keys, now), now, () => [{ ts: now, actor: 'system', action: 'oidc-key.create', target: 'provider', ip: '', details: { first: true } }]);
    list = await store.oidc.listProviderKeys();
  }
  const published = [...list.filter((k) => k.status === 'current'), ...list.filter((k) => k.status === 'retiring')];
  return { jwks: published.map((k) => JSON.parse(keys.open('provider-key', k.sealedJwk, k.kid)) as Record<string, unknown>), version: keySetVersion(list) };
}

/** The provider over `deps.store`, signing with the key set read now; `version` is that key set's. */
export async function buildProvider(issuer: string, deps: ProviderDeps): Promise<{ provider: Provider; version: string }> {
  const { store, keys, logins } = deps;
  const { jwks, version } = await providerJwks(store, keys, Date.now());
  const policy = interactionPolicy.base();
  // A portal that needs `high` never rides on an SSO session of lower assurance (e-card): log in again.
  policy.get('login')!.checks.add(new interactionPolicy.Check('onecard_acr', 'the portal needs a higher assurance level', async (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc.client?.clientId;
    const rp = clientId === undefined ? undefined : await store.oidc.getRelyingParty(clientId);
    if (rp === undefined || ctx.oidc.session?.accountId === undefined) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const need = rp.minAcr === 'high' ? ACR.high : ACR.substantial;
    return (ACR_RANK[ctx.oidc.session.acr ?? ''] ?? 0) < ACR_RANK[need]! ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  }));

  const provider = new Provider(issuer, {
    adapter: adapterFor(store, keys),
    jwks: { keys: jwks },
    cookies: { keys: [keys.mac('cookie', 'provider cookies v1')], long: { signed: true, sameSite: 'lax' }, short: { signed: true, sameSite: 'lax' } },
    claims: { openid: ['sub', 'amr'], acr: null, auth_time: null, sid: null, ...SCOPE_CLAIMS },
    scopes: ['openid', 'name', 'id_number'],
    acrValues: [ACR.substantial, ACR.high],
    subjectTypes: ['pairwise'],
    pairwiseIdentifier: async (_ctx: unknown, accountId: string, client: { clientId: string }) => `p${keys.mac('pairwise', client.clientId, accountId).slice(0, 42)}`,
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'ES256', subject_type: 'pairwise' },
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource: renderLogoutPage, postLogoutSuccessSource: renderPostLogoutPage },
      claimsParameter: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: true },
    },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'], userinfoSigningAlgValues: ['ES256'] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
    interactions: { policy, url: (_ctx: unknown, interaction: { uid: string }) => `${deps.mountPath}/interaction/${interaction.uid}` },
    renderError: renderProviderError,
    findAccount: async (ctx: KoaContextWithOIDC, sub: string) => {
      const claims = await logins.accountClaims(sub);
      if (claims === undefined) return undefined;
      return {
        accountId: sub,
        async claims(use: string, scope: string) {
          const clientId = ctx.oidc.client?.clientId;
          const rp = clientId === undefined ? undefined : await store.oidc.getRelyingParty(clientId);
          const granted = new Set(scope.split(' '));
          const out: Record<string, string> = { sub };
          if (rp?.allowedClaims.includes('name') === true && granted.has('name')) out.name = claims.name;
          if (rp?.allowedClaims.includes('id_number') === true && granted.has('id_number')) out.id_number = claims.idNumber;
          const released = Object.keys(out).filter((k) => k !== 'sub');
          deps.audit('login.claims-release', clientId ?? '-', ctx.ip, { use, claims: released, accountId: sub });
          return out;
        },
      };
    },
  });
  provider.proxy = deps.proxy;
  const onError = (kind: string) => (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string }) => {
    deps.audit('oidc.refused', ctx.oidc?.client?.clientId ?? '-', ctx.ip, { kind, error: err.error ?? 'server_error', description: String(err.error_description ?? '').slice(0, 200) });
  };
  provider.on('authorization.error', onError('authorization'));
  provider.on('grant.error', onError('token'));
  provider.on('end_session.error', onError('end_session'));
  return { provider, version };
}
