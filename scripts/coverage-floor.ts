/**
 * Coverage floors: each workspace's tap run writes `.tap/report/coverage-summary.json`; this checks
 * every figure against the floor kept in `coverage-floors.json` and exits 1 on any drop, naming the
 * package and figure. Floors start a little under the measured figures and only ever go up.
 *
 *   node --import tsx scripts/coverage-floor.ts            check (part of `npm test`)
 *   node --import tsx scripts/coverage-floor.ts --print    print the measured figures
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const METRICS = ['lines', 'branches', 'functions', 'statements'] as const;
type Metric = (typeof METRICS)[number];
type Figures = Record<Metric, number>;

/** One failed check: which package, which figure, measured against its floor. */
export interface CoverageShortfall { readonly pkg: string; readonly metric: Metric | 'report'; readonly measured: number; readonly floor: number }

/** Compares measured figures with the floors; a package with a floor but no report is a shortfall. */
export function checkFloors(floors: Record<string, Partial<Figures>>, measured: Record<string, Figures | undefined>): CoverageShortfall[] {
  const out: CoverageShortfall[] = [];
  for (const [pkg, floor] of Object.entries(floors)) {
    const m = measured[pkg];
    if (m === undefined) { out.push({ pkg, metric: 'report', measured: 0, floor: 0 }); continue; }
    for (const metric of METRICS) {
      const f = floor[metric];
      if (f !== undefined && m[metric] < f) out.push({ pkg, metric, measured: m[metric], floor: f });
    }
  }
  return out;
}

function readSummary(pkg: string): Figures | undefined {
  const file = `${ROOT}${pkg}/.tap/report/coverage-summary.json`;
  if (!existsSync(file)) return undefined;
  const total = (JSON.parse(readFileSync(file, 'utf8')) as { total: Record<Metric, { pct: number }> }).total;
  return Object.fromEntries(METRICS.map((k) => [k, total[k].pct])) as Figures;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const floors = JSON.parse(readFileSync(`${ROOT}coverage-floors.json`, 'utf8')) as { packages: Record<string, Partial<Figures>> };
  const measured = Object.fromEntries(Object.keys(floors.packages).map((p) => [p, readSummary(p)]));
  if (process.argv.includes('--print')) {
    for (const [pkg, m] of Object.entries(measured)) console.log(pkg.padEnd(11), m === undefined ? 'no report' : METRICS.map((k) => `${k} ${m[k].toFixed(2)}%`).join('  '));
  } else {
    const short = checkFloors(floors.packages, measured);
    for (const s of short) {
      console.error(s.metric === 'report'
        ? `coverage: ${s.pkg} has no coverage report (run its tests first)`
        : `coverage: ${s.pkg} ${s.metric} ${s.measured.toFixed(2)}% is under its floor ${s.floor}%`);
    }
    if (short.length > 0) process.exit(1);
    console.log(`coverage: every package at or above its floor (${Object.keys(floors.packages).join(', ')})`);
  }
}
