/**
 * The configuration's secrets on the terminal (today the SIP2 login password, docs/sip2.md "The
 * SIP2 password"). The fleet document carries each one only as the server's sealed text, which
 * this terminal cannot open; before a document is applied the terminal fetches its own copy
 * (`GET /api/v1/terminal/config/{version}/secrets`), sealed for it under a key derived from its
 * KBPK (`@onecard/protocol/fleet` `openConfigSecret`), checks that it opens, and keeps that
 * sealed copy — never the clear text — in `secrets/config-secrets.json` (0600, atomic replace),
 * like the keystore keeps key blocks. The clear password exists only in memory, opened at each use
 * and never logged. Offline, the kept copy serves the document last applied.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isSealedRef, openConfigSecret, CONFIG_SECRET_NAMES, type ConfigSecretName, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { TerminalError } from '../errors.ts';
import { ensurePrivateDir, writeFileAtomic } from './secure-files.ts';

export const CONFIG_SECRETS_FILE = 'config-secrets.json';

/** Fetches the copies sealed for this terminal of a configuration version's secrets. */
export type FetchConfigSecrets = (version: number) => Promise<Partial<Record<ConfigSecretName, string>>>;

/** One kept copy: the document's sealed text it belongs to and the copy sealed for this terminal. */
interface KeptSecret { readonly ref: string; readonly sealed: string }

/** The fleet configuration's `library` section with its password opened. */
export type OpenedLibrarySettings = Omit<NonNullable<TerminalConfigDocument['library']>, 'password'> & { readonly password: string };

const refOf = (doc: TerminalConfigDocument, name: ConfigSecretName): string | undefined => {
  const v = name === 'library.password' ? doc.library?.password : undefined;
  return isSealedRef(v) ? v.sealed : undefined;
};

/** This terminal's kept secret copies; obtain with {@link openConfigSecrets}. */
export class ConfigSecrets {
  readonly #dir: string;
  readonly #kbpk: Uint8Array;
  readonly #terminalId: string;
  readonly #fetch: FetchConfigSecrets;
  /** Kept copies by name: the one of the document applied and, while a new one is applied, its successor. */
  #kept: Map<ConfigSecretName, KeptSecret[]>;

  /** @internal */
  constructor(dir: string, kbpk: Uint8Array, terminalId: string, fetchSecrets: FetchConfigSecrets, kept: Map<ConfigSecretName, KeptSecret[]>) {
    this.#dir = dir;
    this.#kbpk = kbpk.slice();
    this.#terminalId = terminalId;
    this.#fetch = fetchSecrets;
    this.#kept = kept;
  }

  #open(name: ConfigSecretName, ref: string, sealed: string): string {
    try {
      return openConfigSecret(this.#kbpk, this.#terminalId, name, ref, sealed);
    } catch (cause) {
      if (isProtocolError(cause)) throw new TerminalError('TERM_ERR_CONFIG_SECRET', `${name} does not open on this terminal`, { field: name, protocolCode: cause.code }, { cause });
      throw cause;
    }
  }

  /**
   * Makes sure this terminal holds its copy of every sealed secret of `doc` (version `version`):
   * fetched, checked to open, kept on disk. Run before the document is applied; a failure rejects it.
   * @throws TerminalError `TERM_ERR_CONFIG_SECRET` (missing from the answer, or does not open), `TERM_ERR_AGENT_FETCH`, `TERM_ERR_KEYSTORE_IO`
   */
  async prepare(doc: TerminalConfigDocument, version: number): Promise<void> {
    const wanted = CONFIG_SECRET_NAMES.flatMap((n) => { const ref = refOf(doc, n); return ref === undefined ? [] : [{ name: n, ref }]; });
    const missing = wanted.filter((w) => !(this.#kept.get(w.name) ?? []).some((k) => k.ref === w.ref));
    if (missing.length === 0) return;
    const got = await this.#fetch(version);
    const next = new Map(this.#kept);
    for (const { name, ref } of missing) {
      const sealed = got[name];
      if (typeof sealed !== 'string') throw new TerminalError('TERM_ERR_CONFIG_SECRET', `the server sent no ${name} for version ${version}`, { field: name });
      this.#open(name, ref, sealed);
      // The copy of the document in force stays until the new one is applied (a rejected document keeps the old one usable).
      next.set(name, [...(next.get(name) ?? []).slice(-1), { ref, sealed }]);
    }
    await this.#save(next);
    this.#kept = next;
  }

  async #save(kept: Map<ConfigSecretName, KeptSecret[]>): Promise<void> {
    try {
      await ensurePrivateDir(this.#dir);
      await writeFileAtomic(join(this.#dir, CONFIG_SECRETS_FILE), JSON.stringify({ v: 1, terminalId: this.#terminalId, secrets: Object.fromEntries(kept) }) + '\n', 0o600);
    } catch (cause) {
      throw new TerminalError('TERM_ERR_KEYSTORE_IO', `write ${CONFIG_SECRETS_FILE}`, {}, { cause });
    }
  }

  /**
   * The library section with its password opened for this use (sealed: from the kept copy; a
   * document saved before sealing: its text as is).
   * @throws TerminalError `TERM_ERR_CONFIG_SECRET` (no kept copy for this document, or it does not open)
   */
  library(section: TerminalConfigDocument['library']): OpenedLibrarySettings | undefined {
    if (section === undefined) return undefined;
    const p = section.password;
    if (typeof p === 'string') return { ...section, password: p };
    const kept = (this.#kept.get('library.password') ?? []).find((k) => k.ref === p.sealed);
    if (kept === undefined) throw new TerminalError('TERM_ERR_CONFIG_SECRET', 'no copy of library.password for the document in force', { field: 'library.password' });
    return { ...section, password: this.#open('library.password', p.sealed, kept.sealed) };
  }

  /** Forgets the KBPK copy held by this object. */
  close(): void {
    this.#kbpk.fill(0);
  }
}

/**
 * Opens the kept copies in `dir` (none when the file is absent).
 * @throws TerminalError `TERM_ERR_KEYSTORE_IO` (unreadable or malformed file)
 */
export async function openConfigSecrets(dir: string, kbpk: Uint8Array, terminalId: string, fetchSecrets: FetchConfigSecrets): Promise<ConfigSecrets> {
  let text: string | undefined;
  try { text = await fsp.readFile(join(dir, CONFIG_SECRETS_FILE), 'utf8'); } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw new TerminalError('TERM_ERR_KEYSTORE_IO', `read ${CONFIG_SECRETS_FILE}`, {}, { cause: e });
  }
  const kept = new Map<ConfigSecretName, KeptSecret[]>();
  if (text !== undefined) {
    let doc: { v?: unknown; terminalId?: unknown; secrets?: unknown };
    try { doc = JSON.parse(text) as typeof doc; } catch (cause) { throw new TerminalError('TERM_ERR_KEYSTORE_IO', `${CONFIG_SECRETS_FILE} is not JSON`, {}, { cause }); }
    if (doc.v !== 1 || doc.terminalId !== terminalId || typeof doc.secrets !== 'object' || doc.secrets === null) throw new TerminalError('TERM_ERR_KEYSTORE_IO', `${CONFIG_SECRETS_FILE} fields`);
    for (const name of CONFIG_SECRET_NAMES) {
      const list = (doc.secrets as Record<string, unknown>)[name];
      if (list === undefined) continue;
      if (!Array.isArray(list) || !list.every((k) => typeof (k as KeptSecret).ref === 'string' && typeof (k as KeptSecret).sealed === 'string')) throw new TerminalError('TERM_ERR_KEYSTORE_IO', `${CONFIG_SECRETS_FILE} ${name}`);
      kept.set(name, list as KeptSecret[]);
    }
  }
  return new ConfigSecrets(dir, kbpk, terminalId, fetchSecrets, kept);
}

/**
 * {@link FetchConfigSecrets} over the fleet server's `GET /api/v1/terminal/config/{version}/secrets`,
 * authenticated like the terminal's other fetches (`Basic base64(terminalId:password)`).
 * @throws TerminalError `TERM_ERR_AGENT_FETCH`
 */
export function httpConfigSecretsFetcher(o: { readonly serverUrl: string; readonly terminalId: string; readonly password: string; readonly fetch?: typeof fetch; readonly timeoutMs?: number }): FetchConfigSecrets {
  const authorization = `Basic ${Buffer.from(`${o.terminalId}:${o.password}`, 'utf8').toString('base64')}`;
  return async (version) => {
    const path = `/api/v1/terminal/config/${version}/secrets`;
    let status: number;
    let text: string;
    try {
      const res = await (o.fetch ?? fetch)(`${o.serverUrl}${path}`, { headers: { authorization, accept: 'application/json' }, signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) });
      status = res.status;
      text = (await res.text()).slice(0, 64 * 1024);
    } catch (cause) {
      throw new TerminalError('TERM_ERR_AGENT_FETCH', path, { path }, { cause });
    }
    if (status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `${path}: HTTP ${status}`, { path, status });
    let body: { secrets?: unknown };
    try { body = JSON.parse(text) as typeof body; } catch (cause) { throw new TerminalError('TERM_ERR_AGENT_FETCH', `${path}: not JSON`, { path }, { cause }); }
    const out: Partial<Record<ConfigSecretName, string>> = {};
    const s = body.secrets;
    if (typeof s === 'object' && s !== null) {
      for (const n of CONFIG_SECRET_NAMES) {
        const v = (s as Record<string, unknown>)[n];
        if (typeof v === 'string') out[n] = v;
      }
    }
    return out;
  };
}
