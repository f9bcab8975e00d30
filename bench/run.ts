/**
 * Benchmark runner (`npm run bench`): imports every `bench/*.ts` module except itself, in name
 * order, awaits its default export (an async function returning rows) and prints one table per
 * module. `node --import tsx bench/run.ts [name-filter]` runs only modules whose file name
 * contains the filter.
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRow } from './lib/measure.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== basename(fileURLToPath(import.meta.url)) && !f.endsWith('.d.ts'))
  .filter((f) => filter === undefined || f.includes(filter))
  .sort();

const fmtOps = (n: number | undefined): string =>
  n === undefined ? '' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1);

function table(rows: readonly BenchRow[]): string {
  const head = ['case', 'ops/s', 'vs baseline', 'ratio', 'note'];
  const body = rows.map((r) => [r.name, fmtOps(r.opsPerSec), r.baseline ?? '', r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`, r.note ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 1 || i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

let failed = false;
for (const f of files) {
  const mod = (await import(pathToFileURL(here + f).href)) as { default?: () => Promise<readonly BenchRow[]> };
  if (typeof mod.default !== 'function') {
    console.log(`\n## ${f}: no default export, skipped`);
    continue;
  }
  console.log(`\n## ${f}`);
  try {
    console.log(table(await mod.default()));
  } catch (err) {
    failed = true;
    console.log(`failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  }
}
if (failed) process.exitCode = 1;
