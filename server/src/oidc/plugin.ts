/**
 * The card-login plugin (docs/login.md): the OpenID Provider mounted at `/oidc` (Fastify does not
 * parse its bodies; its Koa callback gets the raw request with the mount path stripped), the login
 * and consent pages of its interactions, the terminal routes (login lookup, ES256 login assertions)
 * and the e-card routes (login lookup, SM2 confirmations). Registered only with a master key: the
 * provider's signing keys, the portals' secrets and the account claims are sealed under it.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type Provider from 'oidc-provider';
import { ServerError } from '../errors.ts';
import { LoginService, methodAllowed } from './logins.ts';
import { LoginKeys } from './seal.ts';
import { ecardLoginQrText, loginQrSvg } from './qr.ts';
import { buildProvider, keySetVersion, SCOPE_CLAIMS } from './provider.ts';
import { LANG_COOKIE, LOGIN_CSS, LOGIN_JS, PAGE_CSP, pickLang, refusalMessage, renderConsentPage, renderErrorPage, renderLoginPage, renderRefusalPage, usedLoginMessage, type Lang, type PageMethod } from './pages.ts';

export const MOUNT = '/oidc';

export interface OidcPluginOptions {
  readonly masterKey: Uint8Array;
  /** The issuer URL, e.g. `https://id.example.gov/oidc`; a function is read when the provider is first built (tests listening on port 0). */
  readonly issuer: string | (() => string);
  /**
   * Reverse proxies are configured (Fastify `trustProxy`): the provider then builds its URLs and
   * cookie flags from `X-Forwarded-Proto`/`X-Forwarded-Host`, but only as Fastify believed them
   * (from a trusted peer); the headers of any other peer are dropped before the provider sees them.
   */
  readonly proxy?: boolean;
}

/** What other plugins (the relying-party routes) use. */
export interface OidcLogin {
  readonly keys: LoginKeys;
  readonly logins: LoginService;
  /** Rebuilds the provider on its next use (a rotation through any server is also noticed by itself). */
  reload(): void;
  provider(): Promise<Provider>;
}

declare module 'fastify' {
  interface FastifyInstance {
    oidcLogin: OidcLogin | undefined;
  }
}

const Code = { type: 'string', pattern: '^[0-9]{8}$' } as const;

async function oidcPlugin(app: FastifyInstance, opts: OidcPluginOptions): Promise<void> {
  const { store, clock } = app.ctx;
  const keys = new LoginKeys(opts.masterKey);
  const logins = new LoginService({ store, clock, keys });
  const issuer = (): string => (typeof opts.issuer === 'string' ? opts.issuer : opts.issuer());
  const audit = (action: string, target: string, ip: string, details: Record<string, unknown>): void => {
    store.appendAudit({ ts: clock.now(), actor: 'oidc', action, target, ip, details }).catch((err: unknown) => app.log.error({ err }, 'audit write failed'));
  };
  // The provider is rebuilt whenever the stored key set changed (a rotation through this or any
  // other server sharing the store): every use first reads the key set's version, so a key rotated
  // on another server signs and is published here from the next request on, without a restart.
  let current: { version: string; provider: Promise<Provider> } | undefined;
  const provider = async (): Promise<Provider> => {
    const version = keySetVersion(await store.oidc.listProviderKeys());
    if (current === undefined || current.version !== version) {
      const entry: { version: string; provider: Promise<Provider> } = { version, provider: Promise.resolve(undefined as unknown as Provider) };
      entry.provider = buildProvider(issuer(), { store, keys, logins, audit, mountPath: MOUNT, proxy: opts.proxy === true }).then((b) => {
        // The first use creates the first key: remember the version the provider was built from.
        entry.version = b.version;
        return b.provider;
      });
      entry.provider.catch(() => { if (current === entry) current = undefined; });
      current = entry;
    }
    return current.provider;
  };
  const api: OidcLogin = { keys, logins, provider, reload: () => { current = undefined; } };
  app.decorate('oidcLogin', api);

  // Expired provider artefacts and day-old logins are deleted every 10 minutes.
  const purge = setInterval(() => {
    const now = clock.now();
    Promise.all([store.oidc.purgePayloads(Date.now()), store.oidc.purgeLogins(now - 24 * 3600_000)])
      .catch((err: unknown) => app.log.warn({ err }, 'card-login purge failed'));
  }, 10 * 60_000);
  purge.unref();
  app.addHook('onClose', async () => { clearInterval(purge); });

  // ── the provider itself: raw requests, no body parsing ─────────────────────────────────────
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req) => { forwardedAsTrusted(req, opts.proxy === true); });
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    const handle = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const p = await provider();
      reply.hijack();
      const raw = req.raw as IncomingMessage & { originalUrl?: string };
      raw.originalUrl = req.url;
      raw.url = (req.url).slice(MOUNT.length) || '/';
      p.callback()(raw, reply.raw);
    };
    scope.all(MOUNT, { schema: { hide: true } }, handle);
    scope.all(`${MOUNT}/*`, { schema: { hide: true } }, handle);
  });

  // ── interaction pages ─────────────────────────────────────────────────────────────────────
  await app.register(async (scope) => {
    // The interaction routes hand the raw request to the provider too (details, results).
    scope.addHook('onRequest', async (req) => { forwardedAsTrusted(req, opts.proxy === true); });
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, parseQuery(body as string)));
    const html = (reply: FastifyReply, status: number, body: string): FastifyReply =>
      reply.code(status).header('content-type', 'text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').send(body);
    const langOf = (req: FastifyRequest): Lang => pickLang(req.query as Record<string, unknown>, undefined, req.headers.cookie);
    const details = async (req: FastifyRequest, reply: FastifyReply) => {
      const p = await provider();
      try {
        return { p, d: await p.interactionDetails(req.raw, reply.raw) };
      } catch {
        return undefined;
      }
    };
    const expired = (req: FastifyRequest, reply: FastifyReply): FastifyReply =>
      html(reply, 400, renderErrorPage(langOf(req), 'SRV_ERR_LOGIN_EXPIRED', langOf(req) === 'zh' ? '登录会话已过期，请回到服务重新登录。' : 'The login session expired; go back to the service and log in again.'));

    scope.get(`${MOUNT}/assets/login.js`, { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(LOGIN_JS));
    scope.get(`${MOUNT}/assets/login.css`, { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'no-cache').send(LOGIN_CSS));

    scope.get<{ Params: { uid: string }; Querystring: { lang?: string; restart?: string; method?: string } }>(`${MOUNT}/interaction/:uid`, { schema: { hide: true } }, async (req, reply) => {
      const got = await details(req, reply);
      if (got === undefined) {
        // A completed login's page opened again (back button, a copied link): say it was used.
        const used = await store.oidc.getLoginByUid(req.params.uid);
        if (used?.status === 'done') return html(reply, 409, renderErrorPage(langOf(req), 'SRV_ERR_LOGIN_REPLAYED', usedLoginMessage(langOf(req))));
        return expired(req, reply);
      }
      const { d } = got;
      const lang = pickLang(req.query as Record<string, unknown>, d.params.ui_locales, req.headers.cookie);
      if (req.query.lang === 'en' || req.query.lang === 'zh') reply.header('set-cookie', LANG_COOKIE(req.query.lang, req.protocol === 'https'));
      const method = req.query.method === 'ecard' || req.query.method === 'terminal' ? req.query.method : undefined;
      const rp = await store.oidc.getRelyingParty(d.params.client_id);
      if (rp === undefined) return expired(req, reply);
      const requested = (d.params.scope ?? '').split(' ').filter((s): s is keyof typeof SCOPE_CLAIMS => s in SCOPE_CLAIMS);
      if (d.prompt.name === 'consent') {
        // The assurance of the session's login (the one this interaction completed, else the SSO session's).
        const acr = (await store.oidc.getLoginByUid(d.uid))?.acr ?? d.session?.acr ?? undefined;
        return html(reply, 200, renderConsentPage({ lang, uid: d.uid, clientName: rp.name, claims: requested, acr }));
      }
      let login = await store.oidc.getLoginByUid(d.uid);
      if (login !== undefined && login.status === 'refused' && req.query.restart === undefined) {
        return html(reply, 200, renderRefusalPage({ lang, uid: d.uid, code: login.error ?? 'SRV_ERR_LOGIN_REPLAYED', method }));
      }
      if (login === undefined || login.status !== 'pending' || login.expiresAt <= clock.now()) login = await logins.createLogin(d.uid, rp.id);
      const methods = (['terminal', 'ecard'] as const).filter((m) => methodAllowed(rp, m));
      return html(reply, 200, renderLoginPage({ lang, uid: d.uid, code: login.code, clientName: rp.name, claims: requested, methods, expiresAt: login.expiresAt, method: method as PageMethod | undefined }));
    });

    scope.get<{ Params: { uid: string } }>(`${MOUNT}/interaction/:uid/status`, { schema: { hide: true } }, async (req, reply) => {
      const login = await store.oidc.getLoginByUid(req.params.uid);
      reply.header('cache-control', 'no-store');
      if (login === undefined) return reply.code(404).send({ status: 'unknown' });
      if (login.status === 'pending' && login.expiresAt <= clock.now()) return { status: 'expired' };
      // A pending login with a refused attempt that did not end it: the code and the user's sentence.
      const notice = login.status === 'pending' ? login.notice : undefined;
      return {
        status: login.status, ...(login.error !== null ? { error: login.error } : {}),
        ...(notice !== undefined ? { notice, message: refusalMessage(langOf(req), notice) } : {}),
      };
    });

    scope.get<{ Params: { uid: string } }>(`${MOUNT}/interaction/:uid/qr.svg`, { schema: { hide: true } }, async (req, reply) => {
      const login = await store.oidc.getLoginByUid(req.params.uid);
      if (login === undefined || login.status !== 'pending') return reply.code(404).send({ error: { code: 'SRV_ERR_LOGIN_UNKNOWN', message: 'no pending login' } });
      const base = issuer().slice(0, -MOUNT.length);
      const svg = await loginQrSvg(ecardLoginQrText(base, login.code));
      return reply.header('content-type', 'image/svg+xml').header('cache-control', 'no-store').send(svg);
    });

    scope.get<{ Params: { uid: string } }>(`${MOUNT}/interaction/:uid/finish`, { schema: { hide: true } }, async (req, reply) => {
      const got = await details(req, reply);
      if (got === undefined) return expired(req, reply);
      const { p, d } = got;
      const login = await store.oidc.getLoginByUid(d.uid);
      if (d.prompt.name !== 'login' || login === undefined || login.status !== 'done' || login.clientId !== d.params.client_id || login.accountId === null) {
        return reply.redirect(`${MOUNT}/interaction/${encodeURIComponent(d.uid)}`);
      }
      const to = await p.interactionResult(req.raw, reply.raw, { login: { accountId: login.accountId, acr: login.acr, amr: login.amr, remember: true } }, { mergeWithLastSubmission: false });
      return reply.redirect(to);
    });

    scope.post<{ Params: { uid: string }; Body: Record<string, unknown> }>(`${MOUNT}/interaction/:uid/consent`, { schema: { hide: true } }, async (req, reply) => {
      const got = await details(req, reply);
      if (got === undefined) return expired(req, reply);
      const { p, d } = got;
      if (d.prompt.name !== 'consent' || d.session === undefined) return reply.redirect(`${MOUNT}/interaction/${encodeURIComponent(d.uid)}`);
      const rp = await store.oidc.getRelyingParty(d.params.client_id);
      const ip = req.ip;
      if (req.body?.decision !== 'allow' || rp === undefined) {
        audit('login.consent-denied', d.params.client_id, ip, { accountId: d.session.accountId });
        return reply.redirect(await p.interactionResult(req.raw, reply.raw, { error: 'access_denied', error_description: 'the holder declined' }, { mergeWithLastSubmission: false }));
      }
      const grant = (d.grantId !== undefined ? await p.Grant.find(d.grantId) : undefined) ?? new p.Grant({ accountId: d.session.accountId, clientId: d.params.client_id });
      const missing = d.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      const scopes = (missing.missingOIDCScope ?? []).filter((s) => s === 'openid' || (rp.allowedClaims as readonly string[]).includes(s));
      if (scopes.length > 0) grant.addOIDCScope(scopes.join(' '));
      if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims.filter((c) => (rp.allowedClaims as readonly string[]).includes(c)));
      const grantId = await grant.save();
      audit('login.consent', d.params.client_id, ip, { accountId: d.session.accountId, scopes });
      return reply.redirect(await p.interactionResult(req.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true }));
    });
  });

  // ── terminals ─────────────────────────────────────────────────────────────────────────────
  const terminalAuth = app.requireTerminal();
  /** Audits a refused lookup (terminal or e-card app) and rethrows it. */
  const lookupRefused = async (e: unknown, actor: string, code: string, ip: string, method: 'terminal' | 'ecard', terminalId?: string): Promise<never> => {
    if (e instanceof ServerError) {
      await store.appendAudit({ ts: clock.now(), actor, action: 'login.refused', target: code.slice(0, 16), ip, details: { code: e.code, method, step: 'lookup', ...(terminalId !== undefined ? { terminalId } : {}) } });
    }
    throw e;
  };
  app.get<{ Params: { code: string } }>('/api/v1/terminal/logins/:code', {
    preHandler: async function lookupTerminal(req, reply) {
      try {
        await terminalAuth.call(this, req, reply);
      } catch (e) {
        // A disabled terminal is refused and audited; wrong credentials are counted by the auth plugin.
        if (e instanceof ServerError && e.code === 'SRV_ERR_TERMINAL_DISABLED') await lookupRefused(e, 'terminal', (req.params as { code: string }).code, req.ip, 'terminal');
        throw e;
      }
    },
    schema: { tags: ['login'], summary: 'A pending login by its code: nonce, portal name, expiry (docs/login.md §3.1)', security: [{ terminalBasic: [] }], params: { type: 'object', required: ['code'], properties: { code: Code } } },
  }, async (req) => {
    const t = req.terminal!;
    try {
      if (!(await logins.groupAllowed(t.groupId))) throw new ServerError('SRV_ERR_LOGIN_TERMINAL_GROUP', t.groupId);
      const { login, rp } = await logins.lookup(req.params.code, 'terminal');
      return { login: login.code, nonce: login.nonce, clientName: rp.name, expires: Math.floor(login.expiresAt / 1000) };
    } catch (e) {
      return lookupRefused(e, `terminal:${t.id}`, req.params.code, req.ip, 'terminal', t.id);
    }
  });

  app.post<{ Body: { assertion: string } }>('/api/v1/terminal/login-assertions', {
    // The JWS is the credential; terminal credentials, when sent, must be valid and name the signer.
    preHandler: async function optionalTerminal(req, reply) {
      if (req.headers.authorization === undefined) return;
      try {
        await terminalAuth.call(this, req, reply);
      } catch (e) {
        // A disabled terminal's assertion is refused (and audited) by the assertion checks below.
        if (!(e instanceof ServerError && e.code === 'SRV_ERR_TERMINAL_DISABLED')) throw e;
      }
    },
    config: { rateLimit: { max: 120, timeWindow: 60_000 } },
    schema: {
      tags: ['login'], summary: 'Complete a login with a terminal-signed ES256 assertion (docs/login.md §3.2)',
      body: { type: 'object', additionalProperties: false, required: ['assertion'], properties: { assertion: { type: 'string', minLength: 10, maxLength: 8192 } } },
    },
  }, async (req) => {
    const ok = await logins.acceptTerminalAssertion(req.body.assertion, req.ip, req.terminal?.id);
    return { status: 'accepted', login: ok.login.code, clientName: ok.clientName, acr: ok.login.acr };
  });

  // ── e-card app ────────────────────────────────────────────────────────────────────────────
  app.get<{ Params: { code: string } }>('/api/v1/ecard/logins/:code', {
    config: { rateLimit: { max: 60, timeWindow: 60_000 } },
    schema: { tags: ['login'], summary: 'A pending login for the e-card app (docs/login.md §4)', security: [], params: { type: 'object', required: ['code'], properties: { code: Code } } },
  }, async (req) => {
    try {
      const { login, rp } = await logins.lookup(req.params.code, 'ecard');
      return { login: login.code, nonce: login.nonce, clientName: rp.name, claims: [...rp.allowedClaims], expires: Math.floor(login.expiresAt / 1000) };
    } catch (e) {
      return lookupRefused(e, 'ecard', req.params.code, req.ip, 'ecard');
    }
  });

  app.post<{ Body: { login: string; nonce: string; holderRef: string; iat: number; signature: string } }>('/api/v1/ecard/login-confirmations', {
    config: { rateLimit: { max: 60, timeWindow: 60_000 } },
    schema: {
      tags: ['login'], summary: 'Complete a login with the e-card app\'s SM2 confirmation (docs/login.md §4)', security: [],
      body: {
        type: 'object', additionalProperties: false, required: ['login', 'nonce', 'holderRef', 'iat', 'signature'],
        properties: { login: Code, nonce: { type: 'string', minLength: 16, maxLength: 128 }, holderRef: { type: 'string', pattern: '^[0-9a-fA-F]{2,64}$' }, iat: { type: 'integer', minimum: 0 }, signature: { type: 'string', pattern: '^[0-9a-fA-F]{128}$' } },
      },
    },
  }, async (req) => {
    const ok = await logins.acceptEcardConfirmation(req.body, req.ip);
    return { status: 'accepted', login: ok.login.code, clientName: ok.clientName, acr: ok.login.acr };
  });
}

/**
 * Makes the raw request's forwarding headers say what Fastify believed: with proxies configured,
 * `X-Forwarded-Proto`/`-Host`/`-For` become Fastify's `protocol`, `host` and `ip` (which honour
 * the headers only from a trusted peer, the client's address being the nearest untrusted hop);
 * without, they are removed. The provider (Koa, `proxy` on only with proxies) thus never reads a
 * header an untrusted client wrote.
 */
function forwardedAsTrusted(req: FastifyRequest, proxy: boolean): void {
  const h = req.raw.headers;
  const { protocol, host, ip } = req;
  delete h['x-forwarded-proto'];
  delete h['x-forwarded-host'];
  delete h['x-forwarded-for'];
  if (!proxy) return;
  h['x-forwarded-proto'] = protocol;
  h['x-forwarded-host'] = host;
  h['x-forwarded-for'] = ip;
}

export default fp(oidcPlugin, { name: 'onecard-oidc', dependencies: ['onecard-auth'] });
