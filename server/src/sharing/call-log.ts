/**
 * Group commit of the departments' calls: every call about a person is recorded in the access log
 * (the holder's data tracker) together with the quota it uses, durably, before its answer leaves
 * the server. Calls that arrive while the store is busy are committed together in ONE store
 * transaction ({@link RegistryStore.commitCalls}): one durable write (one WAL sync on SQLite, one
 * commit on PostgreSQL) serves all of them, and each waits for the commit that holds its record.
 * A failed commit fails every call in it (none of them is answered).
 */
import type { CallCommit, RegistryStore } from '../store/registry-types.ts';

/** Largest group in one transaction. */
export const CALL_GROUP_MAX = 512;

interface Pending {
  readonly call: CallCommit;
  readonly resolve: (recorded: boolean) => void;
  readonly reject: (err: unknown) => void;
}

export class CallLog {
  readonly #store: RegistryStore;
  readonly #max: number;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;

  constructor(store: RegistryStore, maxGroup = CALL_GROUP_MAX) {
    this.#store = store;
    this.#max = maxGroup;
  }

  /**
   * Commits one call; resolves once its record (and quota use) is durable: true when recorded,
   * false when its quota would be exceeded (nothing written).
   */
  commit(call: CallCommit): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ call, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = (async () => {
      // The first call of a group lets the calls of the same turn of the event loop join it.
      await new Promise<void>((r) => setImmediate(r));
      try {
        await this.#drain();
      } finally {
        this.#running = undefined;
        // A call handed in between the last group and this point starts the next drain.
        if (this.#queue.length > 0) this.#kick();
      }
    })();
  }

  /** Resolves when every call handed in so far has been committed (or failed). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#max);
      try {
        const recorded = await this.#store.commitCalls(group.map((p) => p.call));
        group.forEach((p, i) => p.resolve(recorded[i] === true));
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
  }
}
