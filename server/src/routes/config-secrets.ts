/**
 * Secrets of configuration documents (the SIP2 login password, `library.password`; docs/sip2.md
 * "The SIP2 password"), kept the way key sets are: sealed at rest under the server's master key
 * (AES-256-GCM under a key derived from it, bound to the document id), never answered by any admin
 * API, never logged, and delivered to each terminal sealed for that terminal alone
 * (`@onecard/protocol/fleet` `sealConfigSecret`, under a key derived from its KBPK).
 *
 * - Admins write the password as text (sealed on arrival: the stored and pushed document holds
 *   `{"sealed": "v1.…"}`), keep the current one with `{"set": true}` or clear it with
 *   `{"set": false}`; every read shows only `{"set": true|false}` (`maskConfigDocument`).
 * - A terminal fetches its copy with `GET /api/v1/terminal/config/{version}/secrets`, only for a
 *   version of its own effective document; each delivery is audited (`config.secret-deliver`).
 * - At start, versions saved before sealing existed that still hold the password in clear are
 *   sealed in place (audited `config.secrets-sealed`) and the affected terminals get their pointer
 *   again; without a master key they are left as they are, masked on every read, and a warning
 *   says how many there are.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { canonicalJson, deriveKbpk, downTopic, encodeFleetMessage, isSealedRef, sealConfigSecret, CONFIG_SECRET_NAMES, type ConfigSecretName } from '@onecard/protocol/fleet';
import { ServerError } from '../errors.ts';
import type { NewAuditRecord } from '../store/types.ts';

export interface ConfigSecretsOptions {
  /** AES-256 master key (32 bytes); without it passwords cannot be set or delivered. */
  readonly masterKey?: Uint8Array | undefined;
}

/** HKDF `info` of the at-rest key derived from the master key. */
const AT_REST_INFO = 'OneCard config secret at rest v1 AES-256-GCM';
const SEALED_AT_REST = /^v1\.[A-Za-z0-9_-]{38,400}$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a secret's dotted path (`library.password`), and a copy of the document with it replaced. */
function secretAt(doc: Json, name: ConfigSecretName): unknown {
  const [section, field] = name.split('.') as [string, string];
  const s = doc[section];
  return isObject(s) ? s[field] : undefined;
}
function withSecret(doc: Json, name: ConfigSecretName, value: unknown): Json {
  const [section, field] = name.split('.') as [string, string];
  const s = doc[section];
  return isObject(s) ? { ...doc, [section]: { ...s, [field]: value } } : doc;
}

/** Whether a stored value still holds a secret in clear (documents saved before sealing). */
const isClear = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * A document as admins see it: every secret shown as `{"set": true}` or `{"set": false}`, never
 * its value, sealed or clear.
 */
export function maskConfigDocument(doc: unknown): unknown {
  if (!isObject(doc)) return doc;
  let out = doc;
  for (const name of CONFIG_SECRET_NAMES) {
    const v = secretAt(out, name);
    if (v === undefined) continue;
    out = withSecret(out, name, { set: isSealedRef(v) || isClear(v) });
  }
  return out;
}

/** Seals and opens configuration secrets at rest under a key derived from the master key. */
export class ConfigSecretVault {
  readonly #key: Buffer | undefined;
  constructor(masterKey: Uint8Array | undefined) {
    if (masterKey !== undefined && masterKey.length !== 32) throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', 'the master key must be 32 bytes (AES-256)');
    this.#key = masterKey === undefined ? undefined : Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), AT_REST_INFO, 32));
  }

  get available(): boolean { return this.#key !== undefined; }

  #need(): Buffer {
    if (this.#key === undefined) throw new ServerError('SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY');
    return this.#key;
  }

  static #aad(docId: string, name: ConfigSecretName): Buffer {
    return Buffer.from(`${AT_REST_INFO}\ndoc=${docId}\nname=${name}`, 'utf8');
  }

  /** @throws ServerError `SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY` */
  seal(docId: string, name: ConfigSecretName, secret: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#need(), iv);
    c.setAAD(ConfigSecretVault.#aad(docId, name));
    const ct = Buffer.concat([c.update(secret, 'utf8'), c.final()]);
    return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url')}`;
  }

  /** @throws ServerError `SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY`, `SRV_ERR_KEYS_MASTER_KEY` (sealed under another master key or for another document) */
  open(docId: string, name: ConfigSecretName, sealed: string): string {
    const key = this.#need();
    try {
      if (!SEALED_AT_REST.test(sealed)) throw new Error('not a sealed value');
      const raw = Buffer.from(sealed.slice(3), 'base64url');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAAD(ConfigSecretVault.#aad(docId, name));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch (cause) {
      throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', `the ${name} of config ${docId} does not open under this master key`, { docId, name }, { cause });
    }
  }

  /**
   * The document to store for an admin's `document`: each secret given as text is sealed,
   * `{"set": true}` keeps the one of `previous` (the document's current stored body), `{"set":
   * false}` clears it; `replaced` names the secrets that changed. Anything else is refused, a
   * sealed value included (those are the server's own, never an admin's input).
   * @throws ServerError `SRV_ERR_CONFIG_SECRET` (400, details.path), `SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY`
   */
  sealIncoming(docId: string, document: unknown, previous: unknown): { document: unknown; replaced: ConfigSecretName[] } {
    if (!isObject(document)) return { document, replaced: [] };
    let out = document;
    const replaced: ConfigSecretName[] = [];
    for (const name of CONFIG_SECRET_NAMES) {
      const v = secretAt(out, name);
      if (v === undefined) continue;
      const path = `/${name.replace('.', '/')}`;
      if (typeof v === 'string') {
        out = withSecret(out, name, v === '' ? '' : { sealed: this.seal(docId, name, v) });
        replaced.push(name);
      } else if (isObject(v) && Object.keys(v).length === 1 && v['set'] === false) {
        out = withSecret(out, name, '');
        replaced.push(name);
      } else if (isObject(v) && Object.keys(v).length === 1 && v['set'] === true) {
        const prev = isObject(previous) ? secretAt(previous, name) : undefined;
        if (isSealedRef(prev)) out = withSecret(out, name, prev);
        else if (isClear(prev)) out = withSecret(out, name, { sealed: this.seal(docId, name, prev) });
        else throw new ServerError('SRV_ERR_CONFIG_SECRET', `${path}: there is no ${name} to keep`, { path });
      } else {
        throw new ServerError('SRV_ERR_CONFIG_SECRET', `${path}: give the ${name} as text, or {"set": true} / {"set": false}`, { path });
      }
    }
    return { document: out, replaced };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Configuration secrets at rest (`routes/config-secrets.ts`). */
    configSecrets: ConfigSecretVault;
  }
}

const VersionParam = { type: 'object', required: ['version'], properties: { version: { type: 'integer', minimum: 1 } } } as const;

async function configSecretsPlugin(app: FastifyInstance, opts: ConfigSecretsOptions): Promise<void> {
  const { store, clock } = app.ctx;
  const vault = new ConfigSecretVault(opts.masterKey);
  app.decorate('configSecrets', vault);
  const systemEntry = (action: string, target: string, details: Json, actor = 'system'): NewAuditRecord => ({ ts: clock.now(), actor, action, target, ip: '', details });

  // A terminal that keeps asking is audited once per version and minute, so its credentials cannot
  // grow the audit table without bound (every answer is still given).
  const audited = new Map<string, number>();
  const auditOnce = async (key: string, entry: NewAuditRecord): Promise<void> => {
    const last = audited.get(key);
    if (last !== undefined && entry.ts - last < 60_000) return;
    if (audited.size >= 10_000) audited.clear();
    audited.set(key, entry.ts);
    await store.appendAudit(entry);
  };

  app.get<{ Params: { version: number } }>('/api/v1/terminal/config/:version/secrets', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'The secrets of a version of the caller\'s own configuration document, each sealed for the caller alone (AES-256-GCM under a key derived from its KBPK)',
      params: VersionParam, security: [{ terminalBasic: [] }],
    },
  }, async (req, reply) => {
    const t = req.terminal!;
    const [eff] = await store.listEffectiveConfigs({ terminalIds: [t.id] });
    const v = await store.getConfigVersion(req.params.version);
    // Only versions of the caller's own effective document: no other group's secrets.
    if (eff === undefined || v === undefined || v.docId !== eff.docId) {
      await auditOnce(`refused\u0000${t.id}`, systemEntry('config.secret-deliver-refused', `version:${req.params.version}`, { reason: 'not-own-document' }, `terminal:${t.id}`));
      throw new ServerError('SRV_ERR_NOT_FOUND', `config version ${req.params.version}`);
    }
    const doc = JSON.parse(v.body) as unknown;
    const names = CONFIG_SECRET_NAMES.filter((n) => isObject(doc) && isSealedRef(secretAt(doc, n)));
    const secrets: Partial<Record<ConfigSecretName, string>> = {};
    if (names.length > 0) {
      if (!vault.available) throw new ServerError('SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY');
      let kbpk: Uint8Array;
      try { kbpk = deriveKbpk(app.ctx.keys.privateKeyPkcs8, t.publicKey, t.id); } catch (cause) {
        throw new ServerError('SRV_ERR_INTERNAL', 'KBPK derivation failed', {}, { cause });
      }
      try {
        for (const n of names) {
          const ref = (secretAt(doc as Json, n) as { sealed: string }).sealed;
          secrets[n] = sealConfigSecret(kbpk, t.id, n, ref, vault.open(v.docId, n, ref));
        }
      } finally {
        kbpk.fill(0);
      }
      await auditOnce(`deliver\u0000${t.id}\u0000${v.version}`, systemEntry('config.secret-deliver', v.docId, { terminalId: t.id, version: v.version, names }, `terminal:${t.id}`));
    }
    reply.header('cache-control', 'no-store');
    return { v: 1, version: v.version, secrets };
  });

  // Versions saved before sealing existed: sealed in place at start, their terminals re-pointed.
  app.addHook('onReady', async () => {
    let clear = 0;
    for (const d of await store.listConfigDocs()) {
      const rows: { version: number; body: string; sha256: string; previousSha256: string }[] = [];
      for (const meta of await store.listConfigVersions(d.id)) {
        const v = await store.getConfigVersion(meta.version);
        const doc = v === undefined ? undefined : JSON.parse(v.body) as unknown;
        if (v === undefined || !isObject(doc) || !CONFIG_SECRET_NAMES.some((n) => isClear(secretAt(doc, n)))) continue;
        clear++;
        if (!vault.available) continue;
        let sealed: Json = doc;
        for (const n of CONFIG_SECRET_NAMES) {
          const s = secretAt(sealed, n);
          if (isClear(s)) sealed = withSecret(sealed, n, { sealed: vault.seal(d.id, n, s) });
        }
        const body = canonicalJson(sealed);
        rows.push({ version: v.version, body, sha256: createHash('sha256').update(body, 'utf8').digest('hex'), previousSha256: v.sha256 });
      }
      if (rows.length === 0) continue;
      // Another server sharing the database may seal the same versions at the same start: each is rewritten once.
      const n = await store.rewriteConfigVersions(rows, (count) => (count === 0 ? [] : [systemEntry('config.secrets-sealed', d.id, { versions: rows.map((r) => r.version), rewritten: count, names: [...CONFIG_SECRET_NAMES] })]));
      if (n === 0) continue;
      for (const e of await store.listEffectiveConfigs({ docId: d.id })) {
        await app.publishDown(downTopic(e.terminalId, 'config'), encodeFleetMessage('config', { v: 1, version: e.version, sha256: e.sha256 }), true);
      }
      app.log.info({ docId: d.id, versions: rows.length }, 'configuration secrets held in clear were sealed under the master key');
    }
    if (clear > 0 && !vault.available) app.log.warn({ versions: clear }, 'configuration versions hold a SIP2 password in clear: set a master key (ONECARD_MASTER_KEY_FILE) to seal them; reads mask it');
  });
}

export default fp(configSecretsPlugin, { name: 'onecard-config-secrets', dependencies: ['onecard-broker', 'onecard-auth'] });
