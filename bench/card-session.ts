/**
 * Card-session benchmark [architecture budgets: basic-info read ≤ 1.10 × the wire-time floor;
 * OneCard faster than pcscd + libccid + pyscard]. Reads the basic information of a 3.00 card
 * (simulators/cards/ssc-3.00-long-name.json, PSAM psam.json in slot 1 of a two-slot GemCore SIM
 * Pro 2 reader) BENCH_CARD_ROUNDS times (default 50) through the simulated serial reader on a
 * pseudo-terminal (the simulator runs in its own process):
 *  (a) with wire timing at 115200 baud: elapsed time against the floor computed from the bytes
 *      actually exchanged on the pty in both directions × 11 bits / 115200;
 *  (b) without wire timing: OneCard against the same APDU script (recorded from one OneCard
 *      read, data flow replayed) through `pcscd` + `libccidtwin.so` + pyscard
 *      (bench/lib/pcsc-replay.py) on a fresh simulator — only when pcscd is installed and no other
 *      pcscd runs. In the same pcscd run, OneCard's own `pcsc` link (terminal/src/link/pcsc-*.ts)
 *      reads through the same daemon: OneCard over pcscd beside pyscard over pcscd and beside
 *      OneCard's direct serial link.
 * Run alone: `node --import tsx bench/card-session.ts`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '@onecard/protocol/src/bytes.ts';
import { encodeCommandApdu, type CommandApdu } from '@onecard/protocol/src/iso7816/index.ts';
import { openReaderManager, type ReaderManager } from '@onecard/terminal/src/card/index.ts';
import type { CardChannel } from '@onecard/terminal/src/card/channel.ts';
import { createSerialTransport, type ReaderTransport } from '@onecard/terminal/src/link/index.ts';
import { readBasicInfo } from '@onecard/terminal/src/services/index.ts';
import type { BenchRow } from './lib/measure.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const simBin = join(root, 'simulators/bin/onecard-sim.js');
const cards = join(root, 'simulators/cards');
const CARD = join(cards, 'ssc-3.00-long-name.json');
const PSAM = join(cards, 'psam.json');
const BAUD = 115200;
const rounds = Number(process.env['BENCH_CARD_ROUNDS'] ?? 50) || 50;

interface Sim { readonly proc: ChildProcess; readonly path: string; readonly driverName: string; stop(): Promise<void> }

async function startSim(dir: string, name: string, wire: boolean): Promise<Sim> {
  const path = join(dir, name);
  const args = [simBin, 'reader', '--link', 'serial', '--pty', path, '--model', 'gemcore-sim-pro2', '--card', CARD, '--psam', PSAM, '--log-level', 'error', ...(wire ? ['--wire-timing', String(BAUD)] : [])];
  const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const driverName = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('simulator not ready in 20 s')), 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += String(d);
      const m = /"event":"ready".*?"driverName":"([^"]*)"/.exec(buf);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    proc.once('exit', (c) => { clearTimeout(timer); reject(new Error(`simulator exited ${c}`)); });
  });
  return {
    proc, path, driverName,
    stop: () => new Promise<void>((r) => { if (proc.exitCode !== null) return r(); proc.once('exit', () => r()); proc.kill('SIGTERM'); }),
  };
}

/** A transport that counts the bytes crossing the pty in each direction. */
function counting(inner: ReaderTransport, c: { out: number; in: number }): ReaderTransport {
  return {
    kind: inner.kind,
    path: inner.path,
    get isOpen() { return inner.isOpen; },
    open: () => inner.open(),
    close: () => inner.close(),
    write: (b) => { c.out += b.length; return inner.write(b); },
    onData: (l) => inner.onData((chunk) => { c.in += chunk.length; l(chunk); }),
    onClose: (l) => inner.onClose(l),
  };
}

interface Step { ch: 'card' | 'psam'; cmd: string; rsp: string; sw: number }

function recording(ch: CardChannel, label: 'card' | 'psam', steps: Step[] | undefined): CardChannel {
  if (steps === undefined) return ch;
  return new Proxy(ch, {
    get(target, prop, recv) {
      if (prop === 'transmit') {
        return async (apdu: CommandApdu) => {
          const r = await target.transmit(apdu);
          steps.push({ ch: label, cmd: toHex(encodeCommandApdu(apdu)), rsp: toHex(r.data), sw: r.sw });
          return r;
        };
      }
      const v = Reflect.get(target, prop, recv) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function oneCardRun(sim: Sim, n: number, record?: Step[]): Promise<{ ms: number; bytes: number; name: string }> {
  const counter = { out: 0, in: 0 };
  const manager: ReaderManager = openReaderManager({
    readers: [{ id: 'r', link: 'serial', path: sim.path, model: 'gemcore-sim-pro2', psamSlot: 1 }],
    transportFactory: (l) => counting(createSerialTransport({ path: l.path }), counter),
  });
  try {
    const end = Date.now() + 20_000;
    while (manager.status()[0]?.status !== 'ok' || manager.status()[0]?.slots.some((s) => !s.present)) {
      if (Date.now() > end) throw new Error(`reader not ready: ${JSON.stringify(manager.status())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const read = (rec?: Step[]) => manager.withCard('r', 0, (card) => manager.withCard('r', 1, (psam) => readBasicInfo({ card: recording(card, 'card', rec), psam: recording(psam, 'psam', rec) })));
    const first = await read(record); // power-up of both slots, not timed
    counter.out = 0;
    counter.in = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await read();
    return { ms: performance.now() - t0, bytes: counter.out + counter.in, name: first.name };
  } finally {
    await manager.close();
  }
}

function pcscAvailable(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v pcscd']).status !== 0) return 'skipped: pcscd not installed';
  if (spawnSync('/usr/bin/python3', ['-c', 'import smartcard']).status !== 0) return 'skipped: python3-pyscard not installed';
  if (spawnSync('pgrep', ['-x', 'pcscd']).status === 0) return 'skipped: another pcscd is running (this bench needs its own)';
  return undefined;
}

/** OneCard's `pcsc` link through the running pcscd: n timed basic-info reads after one untimed. Never throws. */
async function oneCardPcscRun(n: number): Promise<{ ms: number } | { error: string }> {
  const manager = openReaderManager({ readers: [{ id: 'p', link: 'pcsc', path: 'OneCard bench', psamSlot: 1 }] });
  try {
    const end = Date.now() + 20_000;
    while (manager.status()[0]?.status !== 'ok' || manager.status()[0]?.slots.some((s) => !s.present)) {
      if (Date.now() > end) return { error: `pcsc link: reader not ready: ${JSON.stringify(manager.status())}` };
      await new Promise((r) => setTimeout(r, 20));
    }
    const read = () => manager.withCard('p', 0, (card) => manager.withCard('p', 1, (psam) => readBasicInfo({ card, psam })));
    await read();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await read();
    return { ms: performance.now() - t0 };
  } catch (e) {
    return { error: `pcsc link: ${(e as Error).message}` };
  } finally {
    await manager.close();
  }
}

async function pcscRun(sim: Sim, dir: string, script: Step[], n: number): Promise<{ ms: number; viaPcsc: { ms: number } | { error: string } } | { error: string }> {
  const lib = spawnSync('sh', ['-c', "dpkg -L libccid 2>/dev/null | grep -m1 '/libccidtwin.so$'"]).stdout.toString().trim();
  if (lib === '') return { error: 'skipped: libccidtwin.so not found (libccid)' };
  mkdirSync('/etc/reader.conf.d', { recursive: true });
  const conf = '/etc/reader.conf.d/onecard-bench-card-session';
  writeFileSync(conf, `FRIENDLYNAME      "OneCard bench"\nDEVICENAME        ${sim.path}:${sim.driverName}\nLIBPATH           ${lib}\n`);
  const scriptFile = join(dir, 'script.json');
  writeFileSync(scriptFile, JSON.stringify({ steps: script }));
  if (process.env['BENCH_CARD_DUMP'] !== undefined) writeFileSync(process.env['BENCH_CARD_DUMP'], JSON.stringify({ steps: script }, null, 1));
  const pcscd = spawn('pcscd', ['-f', '-a'], { stdio: 'ignore' });
  try {
    const py = spawnSync('/usr/bin/python3', [join(root, 'bench/lib/pcsc-replay.py'), scriptFile, String(n), '--wait', '30'], { timeout: 300_000 });
    const out = py.stdout.toString().trim().split('\n').pop() ?? '';
    try {
      const r = JSON.parse(out) as { ok: boolean; ms?: number };
      if (r.ok && typeof r.ms === 'number') return { ms: r.ms, viaPcsc: await oneCardPcscRun(n) };
      return { error: `pcsc replay failed: ${out}` };
    } catch {
      return { error: `pcsc replay failed: ${out} ${py.stderr.toString().slice(-400)}` };
    }
  } finally {
    await new Promise<void>((r) => { if (pcscd.exitCode !== null) return r(); pcscd.once('exit', () => r()); pcscd.kill('SIGTERM'); });
    rmSync(conf, { force: true });
  }
}

export default async function run(): Promise<readonly BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-card-'));
  try {
    // (a) wire timing at 115200 baud
    const simA = await startSim(dir, 'wire', true);
    let a;
    try { a = await oneCardRun(simA, rounds); } finally { await simA.stop(); }
    const floorMs = (a.bytes * 11 * 1000) / BAUD;
    const ratioA = a.ms / floorMs;
    rows.push({
      name: `(a) ${rounds} basic-info reads, 3.00 card, wire timing ${BAUD}`,
      opsPerSec: (rounds * 1000) / a.ms,
      baseline: 'wire-time floor',
      ratio: ratioA,
      note: `${(a.ms / rounds).toFixed(1)} ms/read; ${a.bytes} bytes on the pty → floor ${(floorMs / rounds).toFixed(1)} ms/read; budget ≤ 1.10: ${ratioA <= 1.1 ? 'met' : 'MISSED'}`,
    });

    // (b) no wire timing: OneCard, then the same APDU script through pcscd + libccidtwin + pyscard
    const simB = await startSim(dir, 'fast', false);
    const script: Step[] = [];
    let b;
    try { b = await oneCardRun(simB, rounds, script); } finally { await simB.stop(); }
    rows.push({ name: `(b) OneCard, no wire timing`, opsPerSec: (rounds * 1000) / b.ms, note: `${(b.ms / rounds).toFixed(2)} ms/read, ${script.length} APDUs per read` });
    const why = pcscAvailable();
    if (why !== undefined) {
      rows.push({ name: '(b) pcscd + libccidtwin.so + pyscard', note: why });
    } else {
      const simC = await startSim(dir, 'pcsc', false);
      let p;
      try { p = await pcscRun(simC, dir, script, rounds); } finally { await simC.stop(); }
      if ('error' in p) rows.push({ name: '(b) pcscd + libccidtwin.so + pyscard', note: p.error });
      else {
        rows.push({ name: '(b) pcscd + libccidtwin.so + pyscard, same APDU script', opsPerSec: (rounds * 1000) / p.ms, note: `${(p.ms / rounds).toFixed(2)} ms/read` });
        rows.push({ name: '(b) OneCard time / pcscd time', opsPerSec: (rounds * 1000) / b.ms, baseline: 'pcscd + pyscard', ratio: b.ms / p.ms, note: `goal < 1: ${b.ms / p.ms < 1 ? 'met' : 'MISSED'} (ratio here is time, lower is better)` });
        const v = p.viaPcsc;
        if ('error' in v) rows.push({ name: '(b) OneCard over pcscd (pcsc link)', note: v.error });
        else {
          rows.push({ name: '(b) OneCard over pcscd (pcsc link), same pcscd', opsPerSec: (rounds * 1000) / v.ms, baseline: 'pcscd + pyscard', ratio: v.ms / p.ms, note: `${(v.ms / rounds).toFixed(2)} ms/read; time ratio vs pyscard on the same pcscd` });
          rows.push({ name: '(b) OneCard over pcscd / OneCard direct serial', opsPerSec: (rounds * 1000) / v.ms, baseline: 'OneCard serial link', ratio: v.ms / b.ms, note: 'time ratio: the cost of the daemon in between' });
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(`${r.name.padEnd(60)} ${r.opsPerSec === undefined ? '' : `${r.opsPerSec.toFixed(1)} reads/s  `}${r.ratio === undefined ? '' : `ratio ${r.ratio.toFixed(3)} vs ${r.baseline}  `}${r.note ?? ''}`);
  process.exit(0);
}
