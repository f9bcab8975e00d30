/**
 * Child process of the soak run (scripts/soak/main.ts): hosts the simulated terminals so the
 * parent can measure the server's memory apart from theirs. Each terminal is real terminal code
 * (file outbox, fleet agent, card services over memory channels) and works in a loop: card reads
 * and 1-fen transit fares, one in `removalEvery` cut by the card leaving right after DEBIT FOR
 * PURCHASE executed (settled on the next tap). The parent asks for restarts (agent stops, outbox
 * reopens, new agent) and, at the end, for each terminal's last sequence number, fare books and
 * counters. Driven over the IPC channel; does nothing when imported without it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { createCard, createTransitCard, loadCardFile, parseTransitCardProfile, type SimulatedCard } from '@onecard/simulators';
import { readBasicInfo, purchase } from '../../terminal/src/services/index.ts';
import { DemoTerminal } from '../demo/terminal.ts';

export type SoakCommand =
  | { readonly cmd: 'start'; readonly terminals: number; readonly dataDir: string; readonly serverUrl: string; readonly mqttUrl: string; readonly adminToken: string; readonly actionMs: number; readonly removalEvery: number }
  | { readonly cmd: 'restart'; readonly index: number }
  | { readonly cmd: 'stop' };

export interface TerminalReport {
  readonly terminalId: string;
  readonly lastSeq: number;
  readonly appended: number;
  readonly pending: number;
  readonly connects: number;
  readonly restarts: number;
  readonly fares: { readonly completed: number; readonly interrupted: number; readonly recovered: number; readonly debitedOnCard: number; readonly journalCompleted: number; readonly pendingInJournal: number; readonly unknown: number };
}

export type SoakReply =
  | { readonly ok: true; readonly cmd: string; readonly rss?: number; readonly terminals?: readonly TerminalReport[] }
  | { readonly ok: false; readonly cmd: string; readonly error: string };

const CARDS = fileURLToPath(new URL('../../simulators/cards/', import.meta.url));

interface Slot {
  readonly t: DemoTerminal;
  readonly purse: SimulatedCard;
  readonly startBalance: number;
  readonly reader: SimulatedCard;
  completed: number;
  interrupted: number;
  recovered: number;
  connectsBefore: number;
  restarts: number;
  n: number;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** RSS after two full collections. */
const settledRss = (): number => { gc(); gc(); return process.memoryUsage().rss; };

const balance = (c: SimulatedCard): number => (c as { transit?: { balance: number } }).transit!.balance;
let slots: Slot[] = [];
let timer: NodeJS.Timeout | undefined;
let running = Promise.resolve();
const reply = (r: SoakReply): void => void process.send?.(r);

async function act(s: Slot, removalEvery: number): Promise<void> {
  s.n++;
  const t = s.t;
  if (s.n % 3 === 0) {
    try {
      const info = await t.session(s.reader, (x) => readBasicInfo({ card: x.card, psam: x.psam }));
      await t.record('card.read', { cardNumber: info.cardNumber });
    } catch (e) {
      await t.record('card.refused', { code: String((e as { code?: unknown }).code) });
    }
    return;
  }
  const cut = removalEvery > 0 && s.n % removalEvery === 1;
  try {
    const r = await t.session(s.purse, (x) => purchase({ card: x.card, psam: x.psam, journal: t.journal, amount: 1 }), cut ? (ch) => ch.removeWhen((a) => a.ins === 0x54, 'after') : undefined);
    if (r.kind === 'completed') { s.completed++; await t.record('txn.transit.fare', { amount: 1, tac: r.record.tac ?? null }, 'transaction'); }
    else { s.recovered++; await t.record('txn.transit.recovered', { outcome: r.recovery.kind }, 'transaction'); }
  } catch (e) {
    const code = String((e as { code?: unknown }).code);
    if (code === 'TERM_ERR_PURCHASE_INTERRUPTED') s.interrupted++;
    await t.record(code === 'TERM_ERR_PURCHASE_INTERRUPTED' ? 'txn.transit.interrupted' : 'transit.refused', { code }, 'transaction');
  }
}

async function start(c: Extract<SoakCommand, { cmd: 'start' }>): Promise<void> {
  const logger = pino({ level: 'error' }, pino.destination({ dest: join(c.dataDir, 'terminals.log'), mkdir: true, sync: false }));
  const tj = JSON.parse(readFileSync(join(CARDS, 'transit-only.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const psam = loadCardFile(join(CARDS, 'psam.json'));
  const ssc = loadCardFile(join(CARDS, 'ssc-2.00.json'));
  for (let i = 0; i < c.terminals; i++) {
    const purse = createTransitCard(parseTransitCardProfile({ ...tj, transit: { ...tj['transit'], balance: 10_000_000, serial: String(10000000 + i).padStart(20, '0') } }));
    const t = await DemoTerminal.open({
      name: `soak-${String(i).padStart(3, '0')}`, kind: 'gate', groupId: 'soak', reader: 'memory', dataDir: c.dataDir,
      serverUrl: c.serverUrl, mqttUrl: c.mqttUrl, psam: createCard(psam), logger, telemetryIntervalMs: 5_000,
      enrolmentToken: async (groupId) => {
        const r = await fetch(`${c.serverUrl}/api/v1/enrolment-tokens`, { method: 'POST', headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ groupId }) });
        if (r.status !== 201) throw new Error(`enrolment token: HTTP ${r.status}`);
        return ((await r.json()) as { token: string }).token;
      },
    });
    t.start();
    slots.push({ t, purse, startBalance: balance(purse), reader: createCard(ssc), completed: 0, interrupted: 0, recovered: 0, connectsBefore: 0, restarts: 0, n: 0 });
  }
  let k = 0;
  timer = setInterval(() => {
    const s = slots[k++ % slots.length]!;
    running = running.then(() => act(s, c.removalEvery)).catch(() => undefined);
  }, Math.max(1, Math.floor(c.actionMs / slots.length)));
}

function report(): TerminalReport[] {
  return slots.map((s) => {
    const list = s.t.journal.list();
    return {
      terminalId: s.t.terminalId, lastSeq: s.t.lastSeq, appended: s.t.appended, pending: s.t.outbox.stats().pending,
      connects: s.connectsBefore + s.t.agent.stats.connects, restarts: s.restarts,
      fares: {
        completed: s.completed, interrupted: s.interrupted, recovered: s.recovered, debitedOnCard: s.startBalance - balance(s.purse),
        journalCompleted: list.filter((r) => r.state === 'completed').reduce((a, r) => a + r.amount, 0),
        pendingInJournal: s.t.journal.pending().length, unknown: list.filter((r) => r.state === 'unknown').length,
      },
    };
  });
}

if (process.send !== undefined) {
  process.on('message', (c: SoakCommand) => {
    void (async () => {
      try {
        if (c.cmd === 'start') { await start(c); await new Promise((r) => setTimeout(r, 2000)); reply({ ok: true, cmd: c.cmd, rss: settledRss() }); }
        else if (c.cmd === 'restart') {
          const s = slots[c.index % slots.length]!;
          running = running.then(async () => { s.connectsBefore += s.t.agent.stats.connects; s.restarts++; await s.t.restart(); });
          await running;
          reply({ ok: true, cmd: c.cmd });
        } else {
          clearInterval(timer);
          await running;
          // Let every outbox drain before the books are read.
          const end = Date.now() + 30_000;
          while (slots.some((s) => s.t.outbox.stats().pending > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
          const rss = settledRss();
          const terminals = report();
          for (const s of slots) await s.t.close();
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
