/**
 * Measurement helpers shared by the bench modules: a fixed-duration ops/s loop with warm-up, and
 * the row shape every bench module returns to `bench/run.ts`. Benchmarks compare against a
 * baseline measured in the same run; they never run as tests.
 */

/**
 * The budgets of architecture.md §Budgets, by key. A bench row that measures one of them sets
 * `budget: { key, pass }`; `bench/run.ts` puts those rows in the summary table of
 * docs/benchmarks.md beside the budget text below.
 */
export const BUDGETS = {
  'basic-info-serial': { what: 'basic-info read (3.0 card, PSAM auth) over simulated serial reader at 115200 baud with wire timing', budget: '≤ 1.05 × the wire-time floor, and ≤ pcscd with the same wire timing' },
  'basic-info-vs-pcsc': { what: 'same APDU script vs pcscd + libccid + pyscard against the same simulated reader', budget: 'OneCard faster (< 1.0 × pcscd\'s time)' },
  'fleet-terminals': { what: 'terminals on one 2-core server process', budget: '10 000 connected, ≤ 50 KB each' },
  'config-push': { what: 'config pushed to 10 000 terminals, applied and acknowledged', budget: '≤ 3 s; the admin\'s PUT returns in ≤ 200 ms' },
  'ingest': { what: 'durable transaction ingest (acknowledged = survives power loss)', budget: '≥ 0.5 × the same records bulk-inserted straight into the same store in the same run' },
  'loss-to-refusal': { what: 'loss report to refusal on every online terminal', budget: '≤ 5 s' },
  'growth': { what: 'growth: 1k, 5k, 10k, 20k terminals; 50k on Mosquitto + 2 servers + PostgreSQL + Redis', budget: 'curve measured; at 50k a config applied by all ≤ 15 s, a loss report refused by all ≤ 5 s' },
  'hotlist': { what: 'hotlist of 10 million cards on a terminal', budget: 'lookup ≤ 2 µs, ≤ 100 MB' },
  'terminal-memory-start': { what: 'terminal idle memory / cold start', budget: '≤ 64 MB RSS / ≤ 500 ms' },
} as const;

export type BudgetKey = keyof typeof BUDGETS;

/** A row's verdict against one budget of {@link BUDGETS}. */
export interface BenchBudget {
  readonly key: BudgetKey;
  /** Whether this run's figure meets the budget; `undefined` when the run could not tell (e.g. incomplete). */
  readonly pass: boolean | undefined;
  /** Which part of a compound budget this row judges (e.g. `lookup`, `memory`), shown beside the budget. */
  readonly part?: string;
}

/**
 * One printed row. `ratio` is OneCard ops/s divided by the baseline's, both from this run.
 * `figure` is the measured value in words when it is not ops/s (e.g. `23.4 KB`, `1.92 s`).
 * `budget` marks the rows that judge a budget of architecture.md (see {@link BUDGETS}).
 */
export interface BenchRow {
  readonly name: string;
  readonly opsPerSec?: number;
  readonly figure?: string;
  readonly baseline?: string;
  readonly ratio?: number;
  readonly budget?: BenchBudget;
  readonly note?: string;
  /** Markdown printed after the module's table (a growth table, a plot), verbatim. */
  readonly block?: string;
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
