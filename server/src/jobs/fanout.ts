/**
 * After-commit fan-out: work that announces a committed change to many terminals (retained
 * configuration pointers for a whole group, …) runs here, after the admin's request has been
 * answered, instead of inside it. Tasks run one at a time in the order they were queued, so when
 * two changes touch the same terminal the later task's publishes land last; each task reads the
 * state it announces when it runs (never a snapshot taken at queue time), so the last publish a
 * terminal receives reflects the newest commit. A failing task is logged and counted and does not
 * stop the queue. {@link FanoutQueue.idle} resolves when everything queued so far has run (tests);
 * {@link FanoutQueue.close} does too, and refuses tasks queued after it (shutdown: a terminal that
 * connects while the server closes must not start a task that would run against a closed store;
 * it is announced again when it connects to the next server).
 */

/** One queued unit of work; `what` names it in logs. */
export interface FanoutTask {
  readonly what: string;
  run(): Promise<void>;
}

export interface FanoutQueueOptions {
  /** Called when a task throws (log it; the queue goes on). */
  readonly onError: (what: string, err: unknown) => void;
  /** Called after each task with its wall time in ms. */
  readonly onDone?: (what: string, ms: number) => void;
  /** Called for a task queued after {@link FanoutQueue.close}; it is not run. */
  readonly onRefused?: (what: string) => void;
}

export class FanoutQueue {
  readonly #opts: FanoutQueueOptions;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #closed = false;

  constructor(opts: FanoutQueueOptions) {
    this.#opts = opts;
  }

  /** Tasks queued or running. */
  get pending(): number {
    return this.#queued;
  }

  /** Queues `task` behind every task queued before it; it starts on a later turn of the event loop at the earliest. */
  enqueue(task: FanoutTask): void {
    if (this.#closed) {
      this.#opts.onRefused?.(task.what);
      return;
    }
    this.#queued++;
    this.#tail = this.#tail
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(async () => {
        const t0 = performance.now();
        try {
          await task.run();
          this.#opts.onDone?.(task.what, performance.now() - t0);
        } catch (err) {
          this.#opts.onError(task.what, err);
        } finally {
          this.#queued--;
        }
      });
  }

  /** Resolves when every task queued before this call has finished. */
  idle(): Promise<void> {
    return this.#tail;
  }

  /** Refuses every task queued from now on and resolves when those queued before have finished. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#tail;
  }
}
