/**
 * The time source of the card runtime: every wait (reader timeouts, presence polling, reconnect
 * back-off) goes through an injected {@link Clock}, so that tests can drive time themselves.
 */

/** Timers and the current time, injectable. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock (Date.now and Node timers). Open readers keep the process alive until closed. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
