/**
 * Phase profiling for the benches: with `BENCH_PROFILE=<dir>` set, {@link startProfile} /
 * {@link stopProfile} record a V8 CPU profile of this process (node:inspector) around one phase and
 * write `<dir>/<name>.cpuprofile`, then print the functions with the most self time, so the cause
 * of a figure is read from a profile of exactly that phase rather than of the whole run. Without
 * the variable both are no-ops. `node --import tsx bench/lib/profile.ts FILE.cpuprofile` prints
 * the summary of a saved profile.
 */
import { Session } from 'node:inspector/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const dir = process.env['BENCH_PROFILE'];
let session: Session | undefined;

/** Starts a CPU profile of this process when BENCH_PROFILE is set, or always with `always`. */
export async function startProfile(always = false): Promise<void> {
  if ((!always && (dir === undefined || dir === '')) || session !== undefined) return;
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
}

/**
 * Stops the profile started by {@link startProfile} and returns the summary of its top functions;
 * with BENCH_PROFILE set, also writes it as `<dir>/<name>.cpuprofile` and prints the summary.
 */
export async function stopProfile(name: string, top = 25): Promise<string | undefined> {
  if (session === undefined) return undefined;
  const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
  session.disconnect();
  session = undefined;
  const text = summarize(profile, top);
  if (dir !== undefined && dir !== '') {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`profile ${file}\n${text}\n`);
  }
  return text;
}

/** Self time per function (and per file) of a CPU profile, largest first. */
export function summarize(p: CpuProfile, top = 25): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const f = url === '' ? n.callFrame.functionName : url.startsWith('nm/') ? url.split('/').slice(0, url.split('/')[1]!.startsWith('@') ? 3 : 2).join('/') : url;
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>, k: number): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}% ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`).join('\n');
  return `total ${(total / 1000).toFixed(0)} ms sampled\n-- by function (self)\n${fmt(fn, top)}\n-- by file / package (self)\n${fmt(file, 15)}`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const f of process.argv.slice(2)) console.log(`${f}\n${summarize(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile, 40)}`);
}
