/**
 * Where the updates feature keeps its records: the `updates` part of the one server store
 * (`Store.updates`, contract in `../store/types.ts`, SQLite and PostgreSQL implementations in
 * `../store/sqlite-updates.ts` and `../store/postgres-updates.ts`, tables in the numbered
 * migrations, both backends run `test/store/conformance.ts`): uploaded packages (metadata; the
 * archive and its signature are files in the package directory) and rollouts (the rollout
 * engine's state as JSON).
 */
import type { Store, UpdatesStore } from '../store/types.ts';

export type { PackageRecord, RolloutRecord, TargetSelector, UpdatesStore } from '../store/types.ts';

/** The updates part of the server store. */
export function updatesStoreFor(store: Pick<Store, 'updates'>): UpdatesStore {
  return store.updates;
}
