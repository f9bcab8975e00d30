/**
 * Where the transit-keys feature keeps its records: the `keys` part of the one server store
 * (`Store.keys`, contract in `../store/types.ts`, SQLite and PostgreSQL implementations in
 * `../store/sqlite-keys.ts` and `../store/postgres-keys.ts`, tables in the numbered migrations,
 * both backends run `test/store/conformance.ts`). Key-set versions hold each key as a TR-31
 * version `D` block wrapped under the server master key — never a clear key, and never the master
 * key.
 */
import type { KeysStore, Store } from '../store/types.ts';

export type {
  KeyApprovalRecord, KeyAssignmentRecord, KeyJobRecord, KeyJobStatus, KeyJobTerminalRecord, KeyRef, KeySetVersionRecord, KeySetVersionStatus, KeysStore, StoredKey,
} from '../store/types.ts';

/** The keys part of the server store. */
export function keysStoreFor(store: Pick<Store, 'keys'>): KeysStore {
  return store.keys;
}
