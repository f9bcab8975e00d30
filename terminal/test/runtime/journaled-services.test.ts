/**
 * The runtime's purchase journaling: a settlement reaches the outbox before the purchase journal
 * makes it final, so a crash (or an outbox that refuses) between the two leaves a pending record
 * that the next tap recovers and reports, never a debit that was settled but never reported.
 */
import t from 'tap';
import * as realServices from '../../src/services/index.ts';
import { createMemoryJournal, type PurchaseDraft, type PurchaseOutcome, type PurchaseJournal } from '../../src/services/index.ts';
import { MemoryOutbox } from '../../src/agent/memory-outbox.ts';
import type { Outbox } from '../../src/agent/outbox-types.ts';
import { TerminalError } from '../../src/errors.ts';
import { journaledServices, settleFromOutbox } from '../../src/runtime/journaled-services.ts';
import { openFileOutbox } from '../../src/agent/outbox.ts';
import { openFileJournal } from '../../src/services/index.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CardChannel } from '../../src/card/index.ts';

const draft: PurchaseDraft = {
  issuerId: '0263990000000000', cardSerial: '03106399000000067890', amount: 120, transactionType: 6, atc: 9, balanceBefore: 500,
  terminalNumber: '639900000001', terminalSerial: 10, dateTime: '20250601100000', keyVersion: 1, algorithm: 0,
};

/** A base whose purchase journals like the real one: pending, then one settlement with `outcome`. */
function baseSettling(outcome: PurchaseOutcome) {
  return {
    ...realServices,
    purchase: async (o: realServices.PurchaseOptions): Promise<realServices.PurchaseResult> => {
      const r = await o.journal.begin(draft);
      const done = await o.journal.settle(r.id, outcome);
      if (outcome.recovered === true) return { kind: 'recovered', recovery: { kind: outcome.state === 'completed' ? 'completed' : 'not-debited', record: done } };
      return { kind: 'completed', record: done, balanceAfter: 380 };
    },
  };
}

const opts = (journal: PurchaseJournal): realServices.PurchaseOptions => ({ card: {} as CardChannel, psam: {} as CardChannel, journal, amount: 120 });
const events = async (ob: MemoryOutbox) => (await ob.pending(100)).map((r) => ({ type: r.type, ...r.body }));

t.test('a completed purchase is in the outbox (kind completed, balanceAfter) and settled in the journal', async (t) => {
  const ob = new MemoryOutbox();
  const journal = createMemoryJournal();
  let notified = 0;
  const s = journaledServices({ outbox: ob, services: () => ({ identity: true, pin: true, transit: true }), journaled: () => { notified++; } }, baseSettling({ state: 'completed', tac: '01020304', mac2Verified: true }));
  const r = await s.purchase(opts(journal));
  t.equal(r.kind, 'completed');
  const ev = await events(ob);
  t.equal(ev.length, 1);
  t.match(ev[0], { type: 'txn.purchase', kind: 'completed', state: 'completed', amount: 120, atc: 9, balanceBefore: 500, balanceAfter: 380, tac: '01020304', mac2Verified: true });
  t.equal(journal.list()[0]?.state, 'completed');
  t.equal(notified, 1, 'the agent is told');
});

t.test('an outbox that refuses after the debit leaves the record pending for the next tap, and nothing is reported as final', async (t) => {
  const ob = new MemoryOutbox();
  const failing: Outbox = { append: async () => { throw new TerminalError('TERM_ERR_OUTBOX_IO', 'disk gone'); }, pending: (n) => ob.pending(n), retained: () => ob.retained(), ack: (s) => ob.ack(s), stats: () => ob.stats(), close: () => ob.close() };
  const journal = createMemoryJournal();
  const s = journaledServices({ outbox: failing, services: () => ({ identity: true, pin: true, transit: true }) }, baseSettling({ state: 'completed', tac: '01020304' }));
  await t.rejects(s.purchase(opts(journal)), { code: 'TERM_ERR_OUTBOX_IO' });
  t.same(journal.list().map((r) => r.state), ['pending'], 'still pending: the next tap recovers it with GET TRANSACTION PROVE');
});

t.test('a recovered purchase is reported as kind recovered, whatever its final state, without balanceAfter', async (t) => {
  for (const outcome of [
    { state: 'completed', tac: 'AABBCCDD', recovered: true, reason: 'prove' },
    { state: 'not-debited', recovered: true, reason: 'prove-9406-checks-agree', sw: 0x9406 },
    { state: 'unknown', recovered: true, reason: 'prove-9406-balance-differs', sw: 0x9406 },
  ] as const) {
    const ob = new MemoryOutbox();
    const s = journaledServices({ outbox: ob, services: () => ({ identity: true, pin: true, transit: true }) }, baseSettling(outcome));
    await s.purchase(opts(createMemoryJournal()));
    const ev = await events(ob);
    t.equal(ev.length, 1, outcome.state);
    t.match(ev[0], { type: 'txn.purchase', kind: 'recovered', state: outcome.state }, outcome.state);
    t.notOk('balanceAfter' in ev[0]!, 'no balanceAfter');
  }
});

t.test('a DEBIT the card refused (nothing debited) is not reported', async (t) => {
  const ob = new MemoryOutbox();
  const journal = createMemoryJournal();
  const s = journaledServices({ outbox: ob, services: () => ({ identity: true, pin: true, transit: true }) }, baseSettling({ state: 'not-debited', reason: 'debit-refused', sw: 0x9302 }));
  await s.purchase(opts(journal));
  t.same(await events(ob), []);
  t.equal(journal.list()[0]?.state, 'not-debited');
});

t.test('without an outbox the journal is used as given', async (t) => {
  const journal = createMemoryJournal();
  const s = journaledServices({ outbox: undefined, services: () => ({ identity: true, pin: true, transit: true }) }, baseSettling({ state: 'completed', tac: '01020304' }));
  await s.purchase(opts(journal));
  t.equal(journal.list()[0]?.state, 'completed');
});

t.test('a settlement in the outbox but not in the journal (killed between the two) is settled from the outbox on the next start, even once acknowledged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-settle-'));
  // First life: the purchase is reported to the outbox, then the process dies before the journal settles it.
  let ob = await openFileOutbox({ dir: join(dir, 'outbox') });
  let journal = await openFileJournal(join(dir, 'purchases.journal'));
  const died = new Error('SIGKILL');
  const s = journaledServices({ outbox: ob, services: () => ({ identity: true, pin: true, transit: true }) }, {
    ...realServices,
    purchase: async (o) => {
      const r = await o.journal.begin(draft);
      await o.journal.settle(r.id, { state: 'completed', tac: '01020304', mac2: '0A0B0C0D', mac2Verified: true }, async () => { throw died; });
      throw new Error('not reached');
    },
  });
  await t.rejects(s.purchase(opts(journal)), died);
  const other = await ob.append({ type: 'card.read', body: { recordId: journal.list()[0]!.id } });
  t.equal(other.status, 'written');
  await ob.ack(ob.stats().lastSeq); // the server had acknowledged everything
  await ob.close();
  await journal.close();
  // Next start.
  ob = await openFileOutbox({ dir: join(dir, 'outbox') });
  journal = await openFileJournal(join(dir, 'purchases.journal'));
  t.same(journal.list().map((r) => r.state), ['pending'], 'the journal never saw the settlement');
  t.equal(await settleFromOutbox(journal, ob), 1);
  t.match(journal.list()[0], { state: 'completed', tac: '01020304', mac2: '0A0B0C0D', mac2Verified: true });
  t.notOk(journal.list()[0]!.recovered, 'settled as it was answered, not as a recovery');
  t.equal(await settleFromOutbox(journal, ob), 0, 'idempotent');
  t.equal(ob.stats().lastSeq, 2, 'nothing reported again');
  await ob.close();
  await journal.close();
});

t.test('settleFromOutbox leaves a pending record with no outbox record pending (the next tap recovers it from the card)', async (t) => {
  const ob = new MemoryOutbox();
  const journal = createMemoryJournal();
  const r = await journal.begin(draft);
  await ob.append({ type: 'txn.purchase', body: { recordId: 'another', kind: 'completed', state: 'completed' } });
  await ob.append({ type: 'txn.purchase', body: { recordId: r.id, kind: 'completed', state: 'bogus' } });
  t.equal(await settleFromOutbox(journal, ob), 0);
  t.equal(journal.get(r.id)?.state, 'pending');
  await ob.append({ type: 'txn.purchase', body: { recordId: r.id, kind: 'recovered', state: 'not-debited', reason: 'prove-9406-checks-agree', sw: 0x9406 } });
  t.equal(await settleFromOutbox(journal, ob), 1);
  t.match(journal.get(r.id), { state: 'not-debited', recovered: true, reason: 'prove-9406-checks-agree', sw: 0x9406 });
});
