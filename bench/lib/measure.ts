/**
 * Measurement helpers shared by the bench modules: a fixed-duration ops/s loop with warm-up, and
 * the row shape every bench module returns to `bench/run.ts`. Benchmarks compare against a
 * baseline measured in the same run; they never run as tests.
 */

/** One printed row. `ratio` is OneCard ops/s divided by the baseline's, both from this run. */
export interface BenchRow {
  readonly name: string;
  readonly opsPerSec?: number;
  readonly baseline?: string;
  readonly ratio?: number;
  readonly note?: string;
}

export interface MeasureOptions {
  /** Measured time per case in ms. Default 500, or `BENCH_MS` from the environment. */
  readonly durationMs?: number;
  /** Warm-up time in ms before measuring. Default 150. */
  readonly warmupMs?: number;
}

/** Keeps results alive so the optimiser cannot drop the measured work. */
export let sink: unknown;

const envMs = Number(process.env['BENCH_MS']);
const DEFAULT_MS = Number.isFinite(envMs) && envMs > 0 ? envMs : 500;

function loop(fn: () => unknown, ms: number): { ops: number; elapsed: number } {
  let ops = 0;
  let batch = 1;
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < ms) {
    for (let i = 0; i < batch; i++) sink = fn();
    ops += batch;
    now = performance.now();
    if (batch < 1 << 14) batch *= 2;
  }
  return { ops, elapsed: now - t0 };
}

/** Runs `fn` for a warm-up period, then for a fixed duration, and returns operations per second. */
export function measure(fn: () => unknown, opts: MeasureOptions = {}): number {
  loop(fn, opts.warmupMs ?? 150);
  const { ops, elapsed } = loop(fn, opts.durationMs ?? DEFAULT_MS);
  return (ops * 1000) / elapsed;
}
