/**
 * The promise-chain mutex of the terminal's readers: the reader manager and the PC/SC reader
 * each keep one per slot, so that one card session at a time uses a slot.
 */

/**
 * `run` calls run one at a time, in the order they were made; each starts once the one before it
 * has settled, whether it resolved or threw (the lock is released on throw too).
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier `run` has settled; resolves or rejects as `fn` does. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    let release: () => void = () => undefined;
    const prev = this.#tail;
    this.#tail = new Promise<void>((r) => {
      release = r;
    });
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
