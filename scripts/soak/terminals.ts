/**
 * Child process of the soak run (scripts/soak/main.ts): hosts N terminals so the parent can
 * measure the server's memory apart from theirs. Each terminal is the whole terminal built by the
 * composition root (`startTerminal` of terminal/src/runtime, what `onecard-terminal run
 * --data-dir DIR` runs) on its own data dir, enrolled with the server, with a simulated serial
 * reader on a pty (PSAM in slot 1). The terminals run in this one process rather than as N
 * `onecard-terminal run` processes: the soak measures the terminal code under faults for many
 * terminals at once, and N Node processes on a small machine would measure process overhead (the
 * demo and the reliability suite run the CLI as processes). Each terminal works in a loop through
 * its local API (token, HTTP): card reads and 1-fen transit fares, one in `removalEvery` cut by
 * the card leaving during DEBIT FOR PURCHASE (the simulated reader's armed cut; settled on the next
 * tap). The parent asks for restarts (the terminal closes and starts again from its data dir) and,
 * at the end, for each terminal's last sequence number, fare books and counters. Driven over the
 * IPC channel; does nothing when imported without it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino, { type Logger } from 'pino';
import { createCard, createTransitCard, loadCardFile, openSerialReader, parseTransitCardProfile, type SerialReader, type SimulatedCard } from '@onecard/simulators';
import { startTerminal, type Terminal } from '@onecard/terminal/src/runtime/index.ts';
import { enrol } from '@onecard/terminal/src/agent/enrol.ts';
import { openFileJournal } from '@onecard/terminal/src/services/index.ts';

export type SoakCommand =
  | { readonly cmd: 'start'; readonly terminals: number; readonly dataDir: string; readonly serverUrl: string; readonly adminToken: string; readonly actionMs: number; readonly removalEvery: number }
  | { readonly cmd: 'restart'; readonly index: number }
  | { readonly cmd: 'stop' };

export interface TerminalReport {
  readonly terminalId: string;
  readonly lastSeq: number;
  readonly pending: number;
  readonly connects: number;
  readonly restarts: number;
  readonly fares: { readonly completed: number; readonly interrupted: number; readonly recovered: number; readonly debitedOnCard: number; readonly journalCompleted: number; readonly pendingInJournal: number; readonly unknown: number };
}

export type SoakReply =
  | { readonly ok: true; readonly cmd: string; readonly rss?: number; readonly terminals?: readonly TerminalReport[] }
  | { readonly ok: false; readonly cmd: string; readonly error: string };

const CARDS = fileURLToPath(new URL('../../simulators/cards/', import.meta.url));
const INS_DEBIT = 0x54;

interface Slot {
  readonly dir: string;
  readonly terminalId: string;
  readonly token: string;
  readonly reader: SerialReader;
  term: Terminal;
  readonly purse: SimulatedCard;
  readonly startBalance: number;
  readonly ssc: SimulatedCard;
  completed: number;
  interrupted: number;
  recovered: number;
  connectsBefore: number;
  restarts: number;
  n: number;
  /** The action or restart in progress on this terminal (they never overlap). */
  busy: Promise<unknown>;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** RSS after two full collections. */
const settledRss = (): number => { gc(); gc(); return process.memoryUsage().rss; };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const balance = (c: SimulatedCard): number => (c as { transit?: { balance: number } }).transit!.balance;
const slots: Slot[] = [];
let logger: Logger;
let acting = false;
let loops: Promise<void>[] = [];
const reply = (r: SoakReply): void => void process.send?.(r);

/** The local file of a soak terminal: its reader and API (any free port, token). */
const localFile = (readerPath: string, token: string): unknown => ({
  readers: [{ id: 'front', link: 'serial', path: readerPath, model: 'gemcore-sim-pro2', userSlot: 0, psamSlot: 1 }],
  api: { host: '127.0.0.1', port: 0, token },
  log: { level: 'error' },
});

const open = (s: Pick<Slot, 'dir' | 'reader' | 'token'>): Promise<Terminal> => startTerminal({
  dataDir: s.dir, configJson: localFile(s.reader.path, s.token),
  deps: { logger, fleetAgent: { telemetryIntervalMs: 5_000, flushIntervalMs: 250, policy: { backoffBaseMs: 200, backoffMaxMs: 2_000 } } },
});

async function api(s: Slot, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${s.term.url}${path}`, { signal: AbortSignal.timeout(15_000), method: body === undefined ? 'GET' : 'POST', headers: { 'x-onecard-token': s.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}
async function seen(s: Slot, present: boolean): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    const r = await api(s, '/v1/readers');
    const readers = (r.json['readers'] ?? []) as { slots?: { role: string; present: boolean }[] }[];
    if (readers.some((x) => (x.slots ?? []).some((y) => y.role === 'user' && y.present)) === present) return true;
    await sleep(10);
  }
  return false;
}

/** One card action through the local API: the card goes in, one request, the card comes out. */
async function act(s: Slot, removalEvery: number): Promise<void> {
  s.n++;
  const isRead = s.n % 3 === 0;
  s.reader.insert(0, isRead ? s.ssc : s.purse);
  try {
    if (!(await seen(s, true))) return;
    if (isRead) {
      await api(s, '/v1/card/read', { format: 'json' });
      return;
    }
    if (removalEvery > 0 && s.n % removalEvery === 1) s.reader.core.cut(0, INS_DEBIT, 'during');
    const r = await api(s, '/v1/card/purchase', { amount: 1 });
    if (r.status === 200) {
      if (r.json['kind'] === 'completed') s.completed++;
      else s.recovered++;
    } else if ((r.json['error'] as { code?: string } | undefined)?.code === 'TERM_ERR_PURCHASE_INTERRUPTED') s.interrupted++;
  } finally {
    s.reader.remove(0);
    await seen(s, false);
  }
}

/** One 1-fen fare with the purse, no cut: `completed`, `recovered` (a pending fare settled) or the error code. */
async function tap(s: Slot): Promise<string> {
  s.reader.insert(0, s.purse);
  try {
    if (!(await seen(s, true))) return 'not seen';
    const r = await api(s, '/v1/card/purchase', { amount: 1 });
    if (r.status !== 200) return (r.json['error'] as { code?: string } | undefined)?.code ?? `HTTP ${r.status}`;
    if (r.json['kind'] === 'completed') { s.completed++; return 'completed'; }
    s.recovered++;
    return 'recovered';
  } finally {
    s.reader.remove(0);
    await seen(s, false);
  }
}

async function start(c: Extract<SoakCommand, { cmd: 'start' }>): Promise<void> {
  mkdirSync(c.dataDir, { recursive: true });
  logger = pino({ level: 'error' }, pino.destination({ dest: join(c.dataDir, 'terminals.log'), mkdir: true, sync: false }));
  const tj = JSON.parse(readFileSync(join(CARDS, 'transit-only.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const psam = loadCardFile(join(CARDS, 'psam.json'));
  const ssc = loadCardFile(join(CARDS, 'ssc-2.00.json'));
  for (let i = 0; i < c.terminals; i++) {
    const name = `soak-${String(i).padStart(3, '0')}`;
    const dir = join(c.dataDir, name);
    if (!existsSync(join(dir, 'identity.json'))) {
      const r = await fetch(`${c.serverUrl}/api/v1/enrolment-tokens`, { method: 'POST', headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ groupId: 'soak' }) });
      if (r.status !== 201) throw new Error(`enrolment token: HTTP ${r.status}`);
      await enrol({ serverUrl: c.serverUrl, token: ((await r.json()) as { token: string }).token, dataDir: dir, kind: 'gate', name });
    }
    const purse = createTransitCard(parseTransitCardProfile({ ...tj, transit: { ...tj['transit'], balance: 10_000_000, serial: String(10000000 + i).padStart(20, '0') } }));
    const reader = openSerialReader({ model: 'gemcore-sim-pro2', slots: [undefined, createCard(psam)], path: join(c.dataDir, `${name}.tty`) });
    const token = `soak-api-${randomBytes(12).toString('hex')}`;
    const term = await open({ dir, reader, token });
    slots.push({ dir, terminalId: term.terminalId, token, reader, term, purse, startBalance: balance(purse), ssc: createCard(ssc), completed: 0, interrupted: 0, recovered: 0, connectsBefore: 0, restarts: 0, n: 0, busy: Promise.resolve() });
  }
  // Each terminal acts about once per actionMs, one action at a time (a restart waits for it).
  acting = true;
  loops = slots.map(async (s, i) => {
    await sleep((c.actionMs * i) / slots.length);
    while (acting) {
      const t0 = Date.now();
      const p = s.busy.then(() => act(s, c.removalEvery));
      s.busy = p.catch(() => undefined);
      await s.busy;
      await sleep(Math.max(0, c.actionMs - (Date.now() - t0)));
    }
  });
}

async function report(): Promise<TerminalReport[]> {
  const out: TerminalReport[] = [];
  for (const s of slots) {
    const ob = s.term.runtime.outbox!.stats();
    const connects = s.connectsBefore + (s.term.runtime.agent?.stats.connects ?? 0);
    await s.term.close();
    await s.reader.close();
    const journal = await openFileJournal(join(s.dir, 'purchases.journal'));
    const list = journal.list();
    await journal.close();
    out.push({
      terminalId: s.terminalId, lastSeq: ob.lastSeq, pending: ob.pending, connects, restarts: s.restarts,
      fares: {
        completed: s.completed, interrupted: s.interrupted, recovered: s.recovered, debitedOnCard: s.startBalance - balance(s.purse),
        journalCompleted: list.filter((r) => r.state === 'completed').reduce((a, r) => a + r.amount, 0),
        pendingInJournal: list.filter((r) => r.state === 'pending').length, unknown: list.filter((r) => r.state === 'unknown').length,
      },
    });
  }
  return out;
}

if (process.send !== undefined) {
  process.on('message', (c: SoakCommand) => {
    void (async () => {
      try {
        if (c.cmd === 'start') { await start(c); await sleep(2000); reply({ ok: true, cmd: c.cmd, rss: settledRss() }); }
        else if (c.cmd === 'restart') {
          const s = slots[c.index % slots.length]!;
          // A restart of the terminal: everything closed, then built again from the data dir.
          const p = s.busy.then(async () => {
            s.connectsBefore += s.term.runtime.agent?.stats.connects ?? 0;
            s.restarts++;
            await s.term.close();
            s.term = await open(s);
          });
          s.busy = p.catch(() => undefined);
          await p;
          reply({ ok: true, cmd: c.cmd });
        } else {
          acting = false;
          await Promise.all(loops);
          // Settle: each purse taps once more until a fare completes, so that a fare cut by the last
          // removal is settled by GET TRANSACTION PROVE before the books are read.
          await Promise.all(slots.map(async (s) => {
            for (let i = 0; i < 3; i++) if ((await tap(s)) === 'completed') return;
          }));
          // Let every outbox drain before the books are read.
          const end = Date.now() + 30_000;
          while (slots.some((s) => (s.term.runtime.outbox?.stats().pending ?? 0) > 0) && Date.now() < end) await sleep(100);
          const rss = settledRss();
          const terminals = await report();
          reply({ ok: true, cmd: c.cmd, rss, terminals });
          process.disconnect();
        }
      } catch (e) {
        reply({ ok: false, cmd: c.cmd, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      }
    })();
  });
  reply({ ok: true, cmd: 'ready', rss: process.memoryUsage().rss });
}
