/** A promise-chain mutex: `run` calls wait for the ones before them (one card session per slot at a time). */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
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
