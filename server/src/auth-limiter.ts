/**
 * Per-address limiter for failed authentications (admin bearer tokens and terminal HTTP
 * credentials). After `max` failures inside a sliding `windowMs`, every further attempt from that
 * address is refused with 429 until the window has passed, whether its credentials are right or
 * not, so guessing tokens costs a full window per `max` tries. Bounded memory: at most
 * `maxAddresses` addresses are tracked; the oldest entry is evicted first.
 */

export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  readonly #hits = new Map<string, number[]>();

  constructor(max: number, windowMs = 60_000, maxAddresses = 10_000) {
    this.#max = Math.max(1, max);
    this.#windowMs = windowMs;
    this.#maxAddresses = maxAddresses;
  }

  /** True when `addr` has used up its failures at `now`. */
  limited(addr: string, now: number): boolean {
    return this.#recent(addr, now).length >= this.#max;
  }

  /** Records a failure; returns true when this failure is the one that starts the limit. */
  fail(addr: string, now: number): boolean {
    const list = this.#recent(addr, now);
    list.push(now);
    this.#hits.delete(addr);
    this.#hits.set(addr, list);
    if (this.#hits.size > this.#maxAddresses) {
      const oldest = this.#hits.keys().next();
      if (oldest.done !== true) this.#hits.delete(oldest.value);
    }
    return list.length === this.#max;
  }

  #recent(addr: string, now: number): number[] {
    const list = (this.#hits.get(addr) ?? []).filter((t) => now - t < this.#windowMs);
    if (list.length === 0) this.#hits.delete(addr);
    else this.#hits.set(addr, list);
    return list;
  }
}
