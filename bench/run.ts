/**
 * Benchmark runner (`npm run bench`): imports every `bench/*.ts` module except itself, in name
 * order, awaits its default export (an async function returning rows) and prints one table per
 * module. After a full run it writes docs/benchmarks.md: the machine (CPU model, cores, RAM, Node
 * version, load average at start), a summary of every row that judges a budget of
 * architecture.md (`row.budget`, see bench/lib/measure.ts) — figure, budget, the peer measured in
 * the same run, ratio, pass/fail — the budgets no row judged, and every module's full table.
 * `node --import tsx bench/run.ts [name-filter]` runs only modules whose file name contains the
 * filter and prints the summary without writing the file (add `--write` to write it anyway).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem, type as osType } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUDGETS, type BenchRow, type BudgetKey } from './lib/measure.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const argv = process.argv.slice(2);
const write = argv.includes('--write');
// `--registry-cards=N`: cards imported by bench/registry.ts (default 1,000,000; CI-sized runs pass a small N).
const registryCards = argv.find((a) => a.startsWith('--registry-cards='));
if (registryCards !== undefined) process.env['BENCH_REGISTRY_CARDS'] = registryCards.slice('--registry-cards='.length);
const filter = argv.find((a) => !a.startsWith('--'));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== basename(fileURLToPath(import.meta.url)) && !f.endsWith('.d.ts'))
  .filter((f) => filter === undefined || f.includes(filter))
  .sort();

const fmtOps = (n: number | undefined): string =>
  n === undefined ? '' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1);
const figureOf = (r: BenchRow): string => r.figure ?? (r.opsPerSec === undefined ? '' : `${fmtOps(r.opsPerSec)}/s`);
const verdict = (pass: boolean | undefined): string => (pass === true ? 'pass' : pass === false ? '**FAIL**' : 'not judged');

function table(rows: readonly BenchRow[]): string {
  const head = ['case', 'ops/s', 'vs baseline', 'ratio', 'note'];
  const body = rows.map((r) => [r.name, fmtOps(r.opsPerSec), r.baseline ?? '', r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`, [r.figure, r.note].filter((x) => x !== undefined).join('; ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 1 || i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
function mdTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

function machine(): Record<string, string> {
  const c = cpus();
  return {
    cpu: `${c[0]?.model.trim() ?? 'unknown'}`,
    cores: `${c.length} logical`,
    ram: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (free at start ${(freemem() / 2 ** 30).toFixed(1)} GiB)`,
    os: `${osType()} ${release()}`,
    node: process.version,
    'load average at start': loadavg().map((x) => x.toFixed(2)).join(' / '),
  };
}

interface ModuleResult { readonly file: string; readonly rows: readonly BenchRow[]; readonly error?: string; readonly seconds: number }

const startedAt = new Date();
const mach = machine();
const envKnobs = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v ?? ''}`).sort();
const results: ModuleResult[] = [];
const skipped = new Set<string>();
let failed = false;
/**
 * Rows written before the `budget` field existed state their verdict in the note ("budget … met /
 * MISSED"); this table maps them to their budget so the summary still lists them. A module that
 * sets `budget` itself is never mapped.
 */
const LEGACY: readonly { readonly file: string; readonly name: RegExp; readonly key: BudgetKey; readonly part?: string }[] = [
  { file: 'card-session.ts', name: /^\(a\)/, key: 'basic-info-serial' },
  { file: 'card-session.ts', name: /OneCard time \/ pcscd time/, key: 'basic-info-vs-pcsc' },
  { file: 'hotlist.ts', name: /^compact: memory retained/, key: 'hotlist', part: 'memory' },
  { file: 'hotlist.ts', name: /^compact: lookup hit/, key: 'hotlist', part: 'lookup' },
  { file: 'terminal-startup.ts', name: /^cold start/, key: 'terminal-memory-start', part: 'cold start' },
  { file: 'terminal-startup.ts', name: /^idle RSS/, key: 'terminal-memory-start', part: 'idle memory' },
];
function withLegacyBudget(file: string, r: BenchRow): BenchRow {
  if (r.budget !== undefined) return r;
  const l = LEGACY.find((x) => x.file === file && x.name.test(r.name));
  if (l === undefined || r.note === undefined) return r;
  const pass = /\b(MISSED|OVER BUDGET|BELOW BUDGET|FAIL(ED)?)\b/.test(r.note) ? false : /\b(met|OK)\b/.test(r.note) ? true : undefined;
  const lead = /^[\d.,]+\s*[^\s;(—,]+/.exec(r.note)?.[0];
  const figure = r.figure ?? lead ?? (r.ratio === undefined ? undefined : `${r.ratio.toFixed(2)}×`);
  return { ...r, ...(figure === undefined ? {} : { figure }), budget: { key: l.key, pass, ...(l.part === undefined ? {} : { part: l.part }) } };
}

function report(final: boolean): void {
// Summary: rows that judge a budget, in the order of architecture.md's table.
const judged = results.flatMap((m) => m.rows.map((r) => withLegacyBudget(m.file, r)).filter((r) => r.budget !== undefined).map((r) => ({ m, r })));
const order = Object.keys(BUDGETS) as BudgetKey[];
judged.sort((a, b) => order.indexOf(a.r.budget!.key) - order.indexOf(b.r.budget!.key));
const summary = judged.map(({ m, r }) => {
  const b = BUDGETS[r.budget!.key];
  return [b.what + (r.budget!.part === undefined ? '' : ` — ${r.budget!.part}`), r.name, figureOf(r), b.budget, r.baseline ?? '', r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`, verdict(r.budget!.pass), m.file];
});
const uncovered = order.filter((k) => !judged.some((j) => j.r.budget!.key === k));
const summaryHead = ['budget (architecture.md)', 'measured case', 'figure', 'budget', 'peer in the same run', 'ratio', 'result', 'module'];
if (final) {
  console.log('\n## summary against the budgets');
  for (const s of summary) console.log(`${s[6]!.replace(/\*/g, '').padEnd(10)} ${s[0]}: ${s[2]} (budget ${s[3]})${s[4] === '' ? '' : ` vs ${s[4]} ${s[5]}`}`);
  for (const k of uncovered) console.log(`${'no row'.padEnd(10)} ${BUDGETS[k].what} (budget ${BUDGETS[k].budget})`);
}
const pendingFiles = files.filter((f) => !skipped.has(f) && !results.some((r) => r.file === f));

if (filter === undefined || write) {
  const out = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${startedAt.toISOString()}; figures are from that one run. Budgets are those of the`,
    'architecture (“Budgets” table); each peer or baseline was measured in the same run on the same machine. Benchmarks are',
    'never part of the tests.',
    '',
    '## Machine',
    '',
    mdTable(['what', 'value'], Object.entries(mach)),
    '',
    `Settings: ${envKnobs.length === 0 ? 'defaults (no BENCH_* variables)' : envKnobs.map((e) => `\`${e}\``).join(', ')}.${filter === undefined ? '' : ` Only modules matching \`${filter}\`.`}`,
    '',
    '## Against the budgets',
    '',
    summary.length === 0 ? 'No row judged a budget.' : mdTable(summaryHead, summary),
    '',
    '“not judged”: the run could not decide (e.g. run below the budget\'s scale; see the figure).',
    '',
    ...(uncovered.length === 0 ? [] : ['Budgets no module judged in this run:', '', ...uncovered.map((k) => `- ${BUDGETS[k].what} — ${BUDGETS[k].budget}`), '']),
    ...(pendingFiles.length === 0 ? [] : [`Not run yet when this file was written (the run writes it after every module): ${pendingFiles.join(', ')}.`, '']),
    '## All figures',
    '',
    ...results.flatMap((m) => [
      `### ${m.file} (${m.seconds.toFixed(0)} s)`,
      '',
      m.error !== undefined ? `Failed: ${m.error}` : mdTable(['case', 'ops/s', 'figure', 'vs baseline', 'ratio', 'note'], m.rows.map((r) => [r.name, fmtOps(r.opsPerSec), r.figure ?? '', r.baseline ?? '', r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`, r.note ?? ''])),
      '',
      ...m.rows.flatMap((r) => (r.block === undefined ? [] : [r.block, ''])),
    ]),
  ].join('\n');
  const path = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
  writeFileSync(path, out);
  if (final) console.log(`\nwrote ${path}`);
}
}


for (const f of files) {
  const mod = (await import(pathToFileURL(here + f).href)) as { default?: () => Promise<readonly BenchRow[]> };
  if (typeof mod.default !== 'function') {
    console.log(`\n## ${f}: no default export, skipped`);
    skipped.add(f);
    continue;
  }
  console.log(`\n## ${f}`);
  const t0 = performance.now();
  try {
    const rows = await mod.default();
    console.log(table(rows));
    for (const r of rows) if (r.block !== undefined) console.log(`\n${r.block}`);
    results.push({ file: f, rows, seconds: (performance.now() - t0) / 1000 });
  } catch (err) {
    failed = true;
    const msg = err instanceof Error ? err.stack ?? err.message : String(err);
    console.log(`failed: ${msg}`);
    results.push({ file: f, rows: [], error: (err instanceof Error ? err.message : String(err)).split('\n')[0]!, seconds: (performance.now() - t0) / 1000 });
  }
  report(false);
}
report(true);
if (failed) process.exitCode = 1;

