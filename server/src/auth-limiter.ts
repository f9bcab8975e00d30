/**
 * Failure counting for authentication (admin bearer tokens and terminal HTTP credentials). A key
 * names what is limited: a client address (`addr:…`, the real client behind configured proxies) or
 * what is being guessed (`target:…`, e.g. one terminal id, or the admin token space). After `max`
 * failures of a key inside a sliding `windowMs` the key is limited until its oldest counted failure
 * leaves the window. The limiter only counts; `plugins/auth.ts` decides what a limit means — there,
 * a limit changes the answer to wrong credentials (429 instead of 401) and never refuses correct
 * ones. Bounded memory: at most `max` timestamps per key and `maxKeys` keys, oldest evicted first.
 */

export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #hits = new Map<string, number[]>();

  constructor(max: number, windowMs = 60_000, maxKeys = 10_000) {
    this.#max = Math.max(1, max);
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  /** True when `key` has used up its failures at `now`. */
  limited(key: string, now: number): boolean {
    return this.#recent(key, now).length >= this.#max;
  }

  /** Milliseconds until `key` is no longer limited (0 when it is not). */
  retryAfterMs(key: string, now: number): number {
    const list = this.#recent(key, now);
    if (list.length < this.#max) return 0;
    return Math.max(0, list[list.length - this.#max]! + this.#windowMs - now);
  }

  /** Records a failure of `key`; returns true when this failure is the one that starts the limit. */
  fail(key: string, now: number): boolean {
    const list = this.#recent(key, now);
    const wasLimited = list.length >= this.#max;
    list.push(now);
    // Only the newest `max` failures matter for the decision: older ones are dropped.
    if (list.length > this.#max) list.splice(0, list.length - this.#max);
    this.#hits.delete(key);
    this.#hits.set(key, list);
    if (this.#hits.size > this.#maxKeys) {
      const oldest = this.#hits.keys().next();
      if (oldest.done !== true) this.#hits.delete(oldest.value);
    }
    return !wasLimited && list.length >= this.#max;
  }

  #recent(key: string, now: number): number[] {
    const list = (this.#hits.get(key) ?? []).filter((t) => now - t < this.#windowMs);
    if (list.length === 0) this.#hits.delete(key);
    else this.#hits.set(key, list);
    return list;
  }
}
