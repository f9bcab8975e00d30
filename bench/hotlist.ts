/**
 * Hotlist benchmark [architecture budget: 10 million cards, lookup ≤ 2 µs, ≤ 100 MB]: builds the
 * terminal's compact hotlist (terminal/src/hotlist/compact.ts) from BENCH_HOTLIST_SIZE (default
 * 10,000,000) card numbers shaped like real ones (a letter + 8 digits), measures build time,
 * retained memory (heap + array buffers after GC), lookup ns/op for hits and misses (mean from
 * a fixed-duration loop, p50/p99 over batches of 1,000 lookups), a delta of 10,000 entries
 * applied, and the persisted file (write and load time, size). The baseline is a JS `Set` of the
 * same strings, measured in the same run (at BENCH_HOTLIST_SET_SIZE, default the same size; the
 * row says when it is smaller). Run alone: `node --import tsx bench/hotlist.ts`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { CompactHotlist, openCompactHotlist, HOTLIST_BASE_FILE } from '@onecard/terminal/src/hotlist/index.ts';
import { measure, type BenchRow } from './lib/measure.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const envInt = (name: string, dflt: number): number => {
  const n = Number(process.env[name]);
  return Number.isSafeInteger(n) && n > 0 ? n : dflt;
};
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Card number i: letter + 8 digits whose last digit is even for listed cards (odd ones never are). */
function cardAt(i: number, listed: boolean): string {
  const letter = LETTERS[i % 26]!;
  const tail = ((Math.floor(i / 26) * 2 + (listed ? 0 : 1)) * 7919) % 100_000_000;
  const t = listed ? tail - (tail % 2) : tail | 1;
  return letter + String(t).padStart(8, '0');
}

function memory(): { heap: number; buffers: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}
const MB = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;

/** p50/p99 ns per lookup over batches of 1,000 lookups. */
function percentiles(fn: (i: number) => boolean, batches: number): { p50: number; p99: number } {
  const per: number[] = [];
  let k = 0;
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) fn(k++);
    per.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  per.sort((a, b) => a - b);
  return { p50: per[Math.floor(per.length * 0.5)]!, p99: per[Math.floor(per.length * 0.99)]! };
}

export default async function run(): Promise<readonly BenchRow[]> {
  const n = envInt('BENCH_HOTLIST_SIZE', 10_000_000);
  const setSize = Math.min(n, envInt('BENCH_HOTLIST_SET_SIZE', n));
  const rows: BenchRow[] = [];
  const probes = 1 << 16;
  const hitProbes = Array.from({ length: probes }, (_, i) => cardAt(Math.floor((i * 2654435761) % n), true));
  const missProbes = Array.from({ length: probes }, (_, i) => cardAt(Math.floor((i * 2654435761) % n), false));

  // --- compact hotlist
  const before = memory();
  let cards: string[] | undefined = Array.from({ length: n }, (_, i) => cardAt(i, true));
  const t0 = performance.now();
  const h = CompactHotlist.from(1, cards);
  const buildMs = performance.now() - t0;
  cards = undefined;
  const after = memory();
  const bytes = after.heap - before.heap + (after.buffers - before.buffers);
  let i = 0;
  const hitNs = 1e9 / measure(() => h.has(hitProbes[(i++) & (probes - 1)]!));
  const missNs = 1e9 / measure(() => h.has(missProbes[(i++) & (probes - 1)]!));
  let wrong = 0;
  for (let k = 0; k < probes; k++) if (!h.has(hitProbes[k]!) || h.has(missProbes[k]!)) wrong++;
  const ph = percentiles((k) => h.has(hitProbes[k & (probes - 1)]!), 2000);
  const pm = percentiles((k) => h.has(missProbes[k & (probes - 1)]!), 2000);
  rows.push({ name: `compact: build ${n.toLocaleString('en')} entries`, note: `${buildMs.toFixed(0)} ms, size ${h.size.toLocaleString('en')}` });
  rows.push({ name: 'compact: memory retained', note: `${MB(bytes)} (typed arrays ${MB(h.stats().baseBytes)}) — budget ≤ 100 MB: ${bytes <= 100 * 1048576 ? 'met' : 'MISSED'}` });
  rows.push({ name: 'compact: lookup hit', opsPerSec: 1e9 / hitNs, note: `${hitNs.toFixed(0)} ns/op, p50 ${ph.p50.toFixed(0)} ns, p99 ${ph.p99.toFixed(0)} ns — budget ≤ 2000 ns: ${hitNs <= 2000 && ph.p99 <= 2000 ? 'met' : 'MISSED'}` });
  rows.push({ name: 'compact: lookup miss', opsPerSec: 1e9 / missNs, note: `${missNs.toFixed(0)} ns/op, p50 ${pm.p50.toFixed(0)} ns, p99 ${pm.p99.toFixed(0)} ns${wrong > 0 ? ` — ${wrong} WRONG ANSWERS` : ''}` });

  // delta of 10,000 entries (5,000 adds of unlisted cards + 5,000 removes of listed ones)
  const add = Array.from({ length: 5000 }, (_, k) => cardAt(k * 97, false));
  const remove = Array.from({ length: 5000 }, (_, k) => cardAt(k * 89, true));
  const d0 = performance.now();
  await h.apply({ kind: 'delta', fromVersion: 1, version: 2, add, remove });
  const deltaMs = performance.now() - d0;
  const dHitNs = 1e9 / measure(() => h.has(hitProbes[(i++) & (probes - 1)]!));
  const m0 = performance.now();
  await h.compact();
  const mergeMs = performance.now() - m0;
  const okDelta = h.has(add[0]!) && !h.has(remove[0]!) && h.size === n;
  rows.push({ name: 'compact: delta of 10,000 applied (in memory)', note: `${deltaMs.toFixed(1)} ms; lookup with overlay ${dHitNs.toFixed(0)} ns/op; merge into base ${mergeMs.toFixed(0)} ms${okDelta ? '' : ' — WRONG RESULT'}` });

  // persisted: base file write, open (load + checksum), overlay write
  const dir = mkdtempSync(join(tmpdir(), 'bench-hotlist-'));
  try {
    const p = await openCompactHotlist(dir);
    const w0 = performance.now();
    await p.apply({ kind: 'full', version: 3, cards: [...h.entries()] });
    const fullMs = performance.now() - w0;
    const size = statSync(join(dir, HOTLIST_BASE_FILE)).size;
    const o0 = performance.now();
    const q = await openCompactHotlist(dir);
    const openMs = performance.now() - o0;
    const a0 = performance.now();
    await q.apply({ kind: 'delta', fromVersion: 3, version: 4, add: remove, remove: add });
    const persistDeltaMs = performance.now() - a0;
    rows.push({ name: 'compact: persisted', note: `file ${MB(size)}; full snapshot applied + written ${fullMs.toFixed(0)} ms; open ${openMs.toFixed(0)} ms; 10,000 delta + fsync ${persistDeltaMs.toFixed(1)} ms` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // --- baseline: Set of strings
  const sBefore = memory();
  const set = new Set<string>();
  const s0 = performance.now();
  for (let k = 0; k < setSize; k++) set.add(cardAt(k, true));
  const setBuildMs = performance.now() - s0;
  const sAfter = memory();
  const setBytes = sAfter.heap - sBefore.heap + (sAfter.buffers - sBefore.buffers);
  const sHitProbes = setSize === n ? hitProbes : Array.from({ length: probes }, (_, k) => cardAt(Math.floor((k * 2654435761) % setSize), true));
  const setHitNs = 1e9 / measure(() => set.has(sHitProbes[(i++) & (probes - 1)]!));
  const setMissNs = 1e9 / measure(() => set.has(missProbes[(i++) & (probes - 1)]!));
  const label = setSize === n ? '' : ` (at ${setSize.toLocaleString('en')}, not ${n.toLocaleString('en')})`;
  rows.push({ name: `baseline Set<string>: build${label}`, note: `${setBuildMs.toFixed(0)} ms, memory ${MB(setBytes)}; compact/Set memory ${(bytes / setBytes * (setSize / n)).toFixed(2)}× per entry` });
  rows.push({ name: 'baseline Set<string>: lookup hit', opsPerSec: 1e9 / setHitNs, note: `${setHitNs.toFixed(0)} ns/op` });
  rows.push({ name: 'baseline Set<string>: lookup miss', opsPerSec: 1e9 / setMissNs, note: `${setMissNs.toFixed(0)} ns/op` });
  rows.push({ name: 'compact vs Set: lookup hit', opsPerSec: 1e9 / hitNs, baseline: 'Set<string> hit', ratio: setHitNs / hitNs });
  rows.push({ name: 'compact vs Set: lookup miss', opsPerSec: 1e9 / missNs, baseline: 'Set<string> miss', ratio: setMissNs / missNs });
  set.clear();
  return rows;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(`${r.name.padEnd(48)} ${r.opsPerSec === undefined ? '' : `${(r.opsPerSec / 1e6).toFixed(2)} M ops/s  `}${r.ratio === undefined ? '' : `ratio ${r.ratio.toFixed(2)}× vs ${r.baseline}  `}${r.note ?? ''}`);
}
