import t, { type Test } from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryJournal, openFileJournal, type PurchaseDraft, type PurchaseJournal } from '../../src/services/index.ts';

const draft = (atc: number): PurchaseDraft => ({
  issuerId: '0263990000000000', cardSerial: '03106399000000067890', amount: 120, transactionType: 6, atc, balanceBefore: 500,
  terminalNumber: '639900000001', terminalSerial: atc + 1, dateTime: '20250601100000', keyVersion: 1, algorithm: 0,
});

let n = 0;
const ids = (): string => `id-${++n}`;
const clock = { now: () => 1_750_000_000_000 };

/** The conformance suite every journal implementation runs [transit-purse §10]. */
function conformance(t: Test, make: () => Promise<PurchaseJournal>): void {
  t.test('begin → pending, settle once, seq increases, get/list/pending', async (t) => {
    const j = await make();
    const a = await j.begin(draft(1));
    const b = await j.begin(draft(2));
    t.equal(a.state, 'pending');
    t.ok(b.seq > a.seq, 'seq increases');
    t.same(j.pending().map((r) => r.id), [a.id, b.id]);
    const done = await j.settle(a.id, { state: 'completed', tac: '01020304', mac2: '05060708', mac2Verified: true });
    t.equal(done.state, 'completed');
    t.equal(done.tac, '01020304');
    t.equal(done.amount, 120, 'draft fields kept');
    t.same(j.pending().map((r) => r.id), [b.id]);
    t.equal(j.get(a.id)?.state, 'completed');
    t.same(j.list().map((r) => r.state), ['completed', 'pending']);
    await t.rejects(j.settle(a.id, { state: 'not-debited' }), { code: 'TERM_ERR_JOURNAL_STATE' }, 'final states are final');
    await t.rejects(j.settle('nope', { state: 'unknown' }), { code: 'TERM_ERR_JOURNAL_STATE' });
    await t.rejects(j.settle(b.id, { state: 'pending' as 'unknown' }), { code: 'TERM_ERR_JOURNAL_STATE' });
    await j.close();
  });
  t.test('settle with a commit hook: the hook sees the record as persisted; a rejection leaves it pending', async (t) => {
    const j = await make();
    const a = await j.begin(draft(7));
    let seen: unknown;
    await t.rejects(j.settle(a.id, { state: 'completed', tac: '0A0B0C0D' }, async (next) => { seen = next; throw new Error('outbox refused'); }), { message: 'outbox refused' });
    t.match(seen, { id: a.id, state: 'completed', tac: '0A0B0C0D', amount: 120 }, 'hook got the settled record');
    t.equal(j.get(a.id)?.state, 'pending', 'nothing persisted when the hook rejects');
    t.same(j.pending().map((r) => r.id), [a.id]);
    const order: string[] = [];
    const done = await j.settle(a.id, { state: 'completed', tac: '0A0B0C0D' }, async (next) => { order.push(`hook:${next.state}:${j.get(a.id)?.state}`); });
    order.push(`settled:${done.state}`);
    t.same(order, ['hook:completed:pending', 'settled:completed'], 'the hook runs before the settlement becomes visible');
  });
  t.test('concurrent appends are serialised', async (t) => {
    const j = await make();
    const recs = await Promise.all([1, 2, 3, 4, 5].map((i) => j.begin(draft(i))));
    t.same(recs.map((r) => r.seq).sort((x, y) => x - y), recs.map((r) => r.seq));
    t.equal(new Set(recs.map((r) => r.seq)).size, 5);
    await j.close();
  });
}

t.test('memory journal', async (t) => conformance(t, async () => createMemoryJournal({ clock, newId: ids })));

const dir = mkdtempSync(join(tmpdir(), 'onecard-journal-'));
t.test('file journal', async (t) => {
  let k = 0;
  conformance(t, async () => openFileJournal(join(dir, `j${++k}.jsonl`), { clock, newId: ids }));
});

t.test('file journal: records survive reopening; lines are the full records, one per change', async (t) => {
  const path = join(dir, 'reopen.jsonl');
  const j = await openFileJournal(path, { clock, newId: ids });
  const a = await j.begin(draft(1));
  const b = await j.begin(draft(2));
  await j.settle(a.id, { state: 'not-debited', reason: 'debit-refused', sw: 0x9302 });
  await j.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(lines.map((l) => [l['id'], l['state']]), [[a.id, 'pending'], [b.id, 'pending'], [a.id, 'not-debited']]);
  const j2 = await openFileJournal(path, { clock, newId: ids });
  t.same(j2.pending().map((r) => r.id), [b.id]);
  t.equal(j2.get(a.id)?.sw, 0x9302);
  const c = await j2.begin(draft(3));
  t.ok(c.seq > b.seq, 'seq continues after reopening');
  await j2.close();
  await t.rejects(j2.begin(draft(4)), { code: 'TERM_ERR_JOURNAL_IO' }, 'closed');
});

t.test('file journal: a torn last line (crash mid-append) is cut off on open', async (t) => {
  const path = join(dir, 'torn.jsonl');
  const j = await openFileJournal(path, { clock, newId: ids });
  const a = await j.begin(draft(1));
  await j.close();
  appendFileSync(path, '{"id":"half","seq":2,"sta');
  const j2 = await openFileJournal(path, { clock, newId: ids });
  t.same(j2.list().map((r) => r.id), [a.id]);
  await j2.settle(a.id, { state: 'unknown' });
  await j2.close();
  const text = readFileSync(path, 'utf8');
  t.notOk(text.includes('half'));
  t.equal(text.trim().split('\n').length, 2);
});

t.test('file journal: a malformed complete line is TERM_ERR_JOURNAL_CORRUPT', async (t) => {
  const p1 = join(dir, 'bad1.jsonl');
  writeFileSync(p1, 'not json\n');
  await t.rejects(openFileJournal(p1), { code: 'TERM_ERR_JOURNAL_CORRUPT' });
  const p2 = join(dir, 'bad2.jsonl');
  writeFileSync(p2, '{"id":"x"}\n');
  await t.rejects(openFileJournal(p2), { code: 'TERM_ERR_JOURNAL_CORRUPT' });
  await t.rejects(openFileJournal(join(dir, 'no-such-dir', 'j.jsonl')), { code: 'TERM_ERR_JOURNAL_IO' });
});
