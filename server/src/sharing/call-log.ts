/**
 * Group commit of the departments' calls: every call about a person is recorded in the access log
 * (the holder's data tracker) together with the quota it uses, durably, before its answer leaves
 * the server. Calls that arrive while the store is busy are committed together in ONE store
 * transaction ({@link RegistryStore.commitCalls}): one durable write (one WAL sync on SQLite, one
 * commit on PostgreSQL) serves all of them, and each waits for the commit that holds its record.
 * Up to `maxInFlight` groups commit at once (PostgreSQL overlaps commits on several connections;
 * SQLite commits one at a time anyway); when all are busy, arriving calls queue and the next free
 * slot takes them as one group, so groups grow with the load. A failed commit fails every call in
 * it (none of them is answered).
 */
import type { CallCommit, RegistryStore } from '../store/registry-types.ts';

/** Largest group in one transaction. */
export const CALL_GROUP_MAX = 512;

interface Pending {
  readonly call: CallCommit;
  readonly resolve: (recorded: boolean) => void;
  readonly reject: (err: unknown) => void;
}

export interface CallLogOptions {
  /** Largest group (default {@link CALL_GROUP_MAX}). */
  readonly maxGroup?: number;
  /** Groups committing at the same time (default 1). */
  readonly maxInFlight?: number;
}

export class CallLog {
  readonly #store: RegistryStore;
  readonly #maxGroup: number;
  readonly #maxInFlight: number;
  #queue: Pending[] = [];
  readonly #running = new Set<Promise<void>>();
  #scheduled: Promise<void> | undefined;

  constructor(store: RegistryStore, opts: CallLogOptions = {}) {
    this.#store = store;
    this.#maxGroup = opts.maxGroup ?? CALL_GROUP_MAX;
    this.#maxInFlight = opts.maxInFlight ?? 1;
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

  /** Resolves when every call handed in so far has been committed (or failed). */
  async idle(): Promise<void> {
    while (this.#scheduled !== undefined || this.#running.size > 0) {
      await this.#scheduled;
      await Promise.all([...this.#running]);
    }
  }

  #kick(): void {
    if (this.#scheduled !== undefined || this.#running.size >= this.#maxInFlight) return;
    // The first call of a group lets the calls of the same turn of the event loop join it.
    this.#scheduled = new Promise<void>((r) => setImmediate(r)).then(() => {
      this.#scheduled = undefined;
      while (this.#running.size < this.#maxInFlight && this.#queue.length > 0) this.#start(this.#queue.splice(0, this.#maxGroup));
    });
  }

  #start(group: Pending[]): void {
    const run = (async () => {
      try {
        const recorded = await this.#store.commitCalls(group.map((p) => p.call));
        group.forEach((p, i) => p.resolve(recorded[i] === true));
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    })().finally(() => {
      this.#running.delete(run);
      // Calls that queued while every slot was busy form the next group.
      if (this.#queue.length > 0) this.#kick();
    });
    this.#running.add(run);
  }
}
