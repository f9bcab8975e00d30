/**
 * Chooses the store backend from the configuration: a `postgres://` (or `postgresql://`) URL opens
 * the PostgreSQL store, anything else (absent, `sqlite:` or `sqlite:<path>`) the SQLite file in the
 * data directory. The one place `server.ts` and the CLI tools open a store.
 */
import { ServerError } from '../errors.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

/** True for URLs the PostgreSQL backend takes. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Resolves `--store` / `ONECARD_STORE_URL` against the default SQLite path.
 * @throws ServerError `SRV_ERR_CONFIG` for an unsupported scheme.
 */
export function storeSpec(storeUrl: string | undefined, defaultSqlitePath: string): StoreSpec {
  if (storeUrl === undefined || storeUrl === '' || storeUrl === 'sqlite:') return { kind: 'sqlite', path: defaultSqlitePath };
  if (isPostgresUrl(storeUrl)) return { kind: 'postgres', url: storeUrl };
  if (storeUrl.startsWith('sqlite:')) return { kind: 'sqlite', path: storeUrl.slice('sqlite:'.length) };
  throw new ServerError('SRV_ERR_CONFIG', 'store must be a postgres:// URL or sqlite:<path>', { option: 'storeUrl' });
}

/** A URL safe to print: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/**
 * Opens (and migrates) the store a spec names.
 * @throws ServerError `SRV_ERR_STORE`, `SRV_ERR_MIGRATION`
 */
export async function openStore(spec: StoreSpec): Promise<Store> {
  return spec.kind === 'postgres' ? openPostgresStore(spec.url) : openSqliteStore(spec.path);
}
