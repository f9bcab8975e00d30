// The demo (scripts/demo) run in-process for a bounded time on a temporary data dir and free
// ports; the scripted day's outcomes are checked through the admin API: every event the terminals
// recorded is stored exactly once, the lost card is listed and refused at the pharmacy and the
// library gate, the interrupted fare is recovered with one debit only, and the pharmacy group's
// configuration is applied, the transit key job succeeded on both gates with the expected check
// value and the PSAM-less gate took a fare with the soft SAM. Then a second start on the same data
// dir reuses the enrolments and the master key, and rolls out the next key-set version.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemo, type Demo } from '../../../scripts/demo/demo.ts';

interface Ev { terminalId: string; eventId: string; seq: number; type: string; body: Record<string, unknown> }

async function events(d: Demo, query: string): Promise<Ev[]> {
  const r = await fetch(`${d.httpUrl}/api/v1/events?limit=10000${query}`, { headers: { authorization: `Bearer ${d.adminToken}` } });
  if (r.status !== 200) throw new Error(`events: HTTP ${r.status}`);
  return ((await r.json()) as { events: Ev[] }).events;
}

async function get(d: Demo, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${d.httpUrl}${path}`, { headers: { authorization: `Bearer ${d.adminToken}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

interface KeyJob { id: string; seq: number; groupId: string; keySetId: string; version: number; expectedKcv: string; counts: Record<string, number> }
interface KeyJobEntry { terminalId: string; status: string; reportedKcv: string | null }

/** Checks through GET /api/v1/key-jobs that the newest transit-gates job succeeded on both gates with the expected KCV. */
async function checkKeyJob(t: Test, d: Demo, jobId: string | undefined, version: number): Promise<void> {
  const jobs = ((await get(d, '/api/v1/key-jobs?groupId=transit-gates')).body['jobs'] as KeyJob[]);
  const job = jobs[0];
  t.ok(job !== undefined && job.id === jobId, 'the newest transit-gates key job is the demo\'s');
  if (job === undefined) return;
  t.equal(job.keySetId, 'transit-demo');
  t.equal(job.version, version, `key-set version ${version}`);
  t.equal(job.counts['succeeded'], 2, 'key job succeeded on both gates');
  t.equal(job.counts['total'], 2);
  const entries = (await get(d, `/api/v1/key-jobs/${job.id}`)).body['terminals'] as KeyJobEntry[];
  for (const name of ['transit-gate-1', 'transit-gate-2']) {
    const term = d.terminals.find((x) => x.name === name)!;
    const e = entries.find((x) => x.terminalId === term.terminalId);
    t.equal(e?.status, 'succeeded', `${name}: succeeded`);
    t.equal(e?.reportedKcv, job.expectedKcv, `${name}: acknowledged the expected key-set check value`);
    t.equal(term.keystore?.version, job.seq, `${name}: keystore holds the job version`);
  }
}

t.test('the demo runs a scripted day the server records', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-demo-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const demo = await startDemo({ dataDir: dir, fresh: true, httpPort: 0, narrate: (l) => lines.push(l), telemetryIntervalMs: 500 });
  t.teardown(() => demo.stop());
  t.equal(demo.terminals.length, 7, 'seven terminals');
  t.same(new Set(demo.terminals.map((x) => x.kind)), new Set(['kiosk', 'pos', 'gate']));
  const out = await demo.day();
  t.comment(lines.join('\n'));

  // Lost card: listed on the server, refused at the pharmacy and the library gate.
  t.same(out.refusedAt.sort(), ['library-gate', 'pharmacy-pos-1']);
  t.equal((await get(demo, `/api/v1/hotlist/${out.lostCard}`)).status, 200, 'lost card on the server hotlist');
  const refused = await events(demo, '&type=card.refused');
  const refusedBy = new Set(refused.filter((e) => e.body['code'] === 'TERM_ERR_CARD_HOTLISTED' && e.body['cardNumber'] === out.lostCard).map((e) => e.terminalId));
  const idOf = (name: string): string => demo.terminals.find((x) => x.name === name)!.terminalId;
  t.ok(refusedBy.has(idOf('pharmacy-pos-1')) && refusedBy.has(idOf('library-gate')), 'refusals stored from both terminals');
  t.equal((await events(demo, '&type=card.loss-report')).length, 1, 'one loss report stored');

  // Interrupted fare: recovered as completed, debited exactly once.
  const f = out.interruptedFare!;
  t.equal(f.recovery, 'recovered:completed');
  t.equal(f.balanceBefore - f.balanceAfter, f.amount, 'one debit only');
  const gate = idOf('transit-gate-1');
  t.equal((await events(demo, `&terminal=${gate}&type=txn.transit.interrupted`)).length, 1);
  t.equal((await events(demo, `&terminal=${gate}&type=txn.transit.recovered`)).length, 1);

  // Configuration applied by both pharmacy terminals and seen so by the server.
  t.ok(out.configVersion !== undefined);
  t.same(out.configAppliedBy.sort(), ['pharmacy-pos-1', 'pharmacy-pos-2']);
  for (const name of ['pharmacy-pos-1', 'pharmacy-pos-2']) {
    let inSync = false;
    for (let i = 0; i < 200 && !inSync; i++) {
      inSync = (await get(demo, `/api/v1/terminals/${idOf(name)}/config`)).body['inSync'] === true;
      if (!inSync) await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(inSync, `${name} in sync`);
  }
  // Transit keys: a master key file, the key job succeeded on both gates, a soft-SAM fare.
  t.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600, 'master.key is 0600');
  t.equal(readFileSync(join(dir, 'master.key')).length, 32, 'master.key holds 32 bytes');
  t.equal(out.keyRollout, 'done', out.notes.join('; '));
  t.same(out.keyJob?.succeededBy.sort(), ['transit-gate-1', 'transit-gate-2']);
  await checkKeyJob(t, demo, out.keyJob?.id, 1);
  t.notOk(demo.terminals.find((x) => x.name === 'transit-gate-2')!.hasPsam, 'transit gate 2 has no physical PSAM');
  t.match(out.softSamFare, /^completed: ¥2\.00 debited/, 'the soft SAM fare completed on the delivered keys');
  const fares = await events(demo, `&terminal=${idOf('transit-gate-2')}&type=txn.transit.fare`);
  t.equal(fares.length, 1, 'the soft-SAM fare is stored');
  t.ok(lines.some((l) => /transit gate 2 .*key job succeeded.*KCV [0-9A-F]{6}/.test(l)), 'narrated per gate with the KCV');

});

t.test('every appended record is stored exactly once; a second start reuses the enrolments', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-demo-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startDemo({ dataDir: dir, fresh: true, httpPort: 0, narrate: () => undefined });
  const ids = first.terminals.map((x) => x.terminalId).sort();
  const masterKey = readFileSync(join(dir, 'master.key'));
  await first.day();
  first.live(50);
  await new Promise((r) => setTimeout(r, 1000));
  await first.stop();
  const lastSeq = new Map(first.terminals.map((x) => [x.terminalId, x.lastSeq]));

  const lines: string[] = [];
  const second = await startDemo({ dataDir: dir, fresh: false, httpPort: 0, narrate: (l) => lines.push(l) });
  t.teardown(() => second.stop());
  t.same(second.terminals.map((x) => x.terminalId).sort(), ids, 'same terminal ids (no re-enrolment)');
  const out = await second.day();
  t.comment(lines.join('\n'));
  t.ok(lines.some((l) => /previous run taken off the hotlist/.test(l)), 'the replayed loss report is cancelled first');
  t.same(out.refusedAt.sort(), ['library-gate', 'pharmacy-pos-1'], 'refused again on the replay');
  t.same(out.configAppliedBy.sort(), ['pharmacy-pos-1', 'pharmacy-pos-2'], 'new config version applied on the replay');
  t.same(readFileSync(join(dir, 'master.key')), masterKey, 'the master key is reused');
  t.equal(out.keyRollout, 'done', out.notes.join('; '));
  await checkKeyJob(t, second, out.keyJob?.id, 2);
  for (const term of second.terminals) {
    let stored: Ev[] = [];
    for (let i = 0; i < 200; i++) {
      stored = await events(second, `&terminal=${term.terminalId}`);
      if (stored.length >= term.lastSeq && term.outbox.stats().pending === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.equal(term.lastSeq, lastSeq.get(term.terminalId)! + term.appended, `${term.name} continued its sequence (${term.appended} new records)`);
    t.same(stored.map((e) => e.seq), Array.from({ length: term.lastSeq }, (_, i) => i + 1), `${term.name}: seq 1..${term.lastSeq}, each once`);
    t.equal(new Set(stored.map((e) => e.eventId)).size, stored.length, `${term.name}: no duplicate event ids`);
  }
});
