/**
 * The shared conformance suite every {@link Outbox} implementation runs (journal file and
 * memory): sequencing, ordering, batching, acknowledgement, admission when full, input checks.
 */
import type { Test } from 'tap';
import type { Outbox, OutboxLimits } from '../../src/agent/outbox-types.ts';
import { EVENT_ID_PATTERN } from '../../src/agent/event-id.ts';

export type OutboxFactory = (opts: { limits?: Partial<OutboxLimits>; clock?: () => number }) => Promise<Outbox>;

export function outboxConformance(t: Test, factory: OutboxFactory): Promise<void> {
  t.test('appends get seq 1..n, increasing unique event ids, and pending returns them in order', async (t) => {
    const ob = await factory({});
    const written = [];
    for (let i = 0; i < 20; i++) {
      const r = await ob.append({ type: 'card.read', body: { i } });
      t.equal(r.status, 'written');
      if (r.status === 'written') written.push(r.record);
    }
    t.same(written.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    for (const r of written) t.match(r.eventId, EVENT_ID_PATTERN);
    const ids = written.map((r) => r.eventId);
    t.same([...ids].sort(), ids, 'event ids sort in append order');
    t.equal(new Set(ids).size, 20);
    const p = await ob.pending(7);
    t.same(p.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7]);
    t.same(p[3]!.body, { i: 3 });
    t.equal(p[3]!.type, 'card.read');
    t.equal((await ob.pending(100)).length, 20);
    t.equal(ob.stats().pending, 20);
    t.equal(ob.stats().lastSeq, 20);
    await ob.close();
  });

  t.test('concurrent appends keep call order', async (t) => {
    const ob = await factory({});
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => ob.append({ type: 'transit.purchase', body: { i }, class: 'transaction' })));
    results.forEach((r, i) => {
      if (r.status !== 'written') return t.fail('not written');
      t.equal(r.record.seq, i + 1);
      t.same(r.record.body, { i });
    });
    const pending = await ob.pending(1000);
    t.same(pending.map((r) => (r.body as { i: number }).i), Array.from({ length: 100 }, (_, i) => i));
    await ob.close();
  });

  t.test('ack removes up to the watermark; lower acks are no-ops; higher acks clamp', async (t) => {
    const ob = await factory({});
    for (let i = 0; i < 10; i++) await ob.append({ type: 'e', body: { i } });
    await ob.ack(4);
    t.same((await ob.pending(100)).map((r) => r.seq), [5, 6, 7, 8, 9, 10]);
    const kept = (await ob.retained()).map((r) => r.seq);
    t.same(kept.slice(-6), [5, 6, 7, 8, 9, 10], 'retained holds every unacknowledged record, in order');
    t.ok(kept.every((q, i) => i === 0 || q === kept[i - 1]! + 1), 'retained is contiguous');
    t.equal(ob.stats().ackedSeq, 4);
    await ob.ack(2);
    t.equal(ob.stats().ackedSeq, 4);
    t.equal(ob.stats().pending, 6);
    await ob.ack(1000);
    t.equal(ob.stats().ackedSeq, 10);
    t.equal(ob.stats().pending, 0);
    t.same(await ob.pending(10), []);
    const r = await ob.append({ type: 'e', body: {} });
    t.equal(r.status === 'written' ? r.record.seq : -1, 11, 'sequence continues after a full ack');
    await t.rejects(ob.ack(Number.NaN), { code: 'TERM_ERR_INVALID_ARGUMENT' });
    await ob.close();
  });

  t.test('full: transactions and events refused with TERM_ERR_OUTBOX_FULL, telemetry dropped and counted', async (t) => {
    const ob = await factory({ limits: { maxRecords: 10, telemetryShare: 0.5 } });
    for (let i = 0; i < 5; i++) t.equal((await ob.append({ type: 'tele', body: { i }, class: 'telemetry' })).status, 'written');
    t.same(await ob.append({ type: 'tele', body: {}, class: 'telemetry' }), { status: 'dropped', reason: 'full' }, 'telemetry above its share is dropped');
    for (let i = 0; i < 4; i++) await ob.append({ type: 'transit.purchase', body: { i }, class: 'transaction' });
    t.equal(ob.stats().full, false);
    await ob.append({ type: 'transit.purchase', body: { i: 4 }, class: 'transaction' });
    t.equal(ob.stats().full, true, 'at capacity');
    await t.rejects(ob.append({ type: 'transit.purchase', body: {}, class: 'transaction' }), { code: 'TERM_ERR_OUTBOX_FULL' });
    await t.rejects(ob.append({ type: 'card.read', body: {} }), { code: 'TERM_ERR_OUTBOX_FULL' });
    const s = ob.stats();
    t.equal(s.full, true);
    t.equal(s.droppedTelemetry, 1);
    t.equal(s.refused, 2);
    t.equal(s.pending, 10);
    t.equal(s.lastSeq, 10, 'refused and dropped records take no sequence number');
    await ob.ack(3);
    t.equal(ob.stats().full, false);
    const r = await ob.append({ type: 'transit.purchase', body: {}, class: 'transaction' });
    t.equal(r.status === 'written' ? r.record.seq : -1, 11);
    await ob.close();
  });

  t.test('byte limit applies too', async (t) => {
    const ob = await factory({ limits: { maxBytes: 400 } });
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      try { await ob.append({ type: 'transit.purchase', body: { pad: 'x'.repeat(40) }, class: 'transaction' }); } catch (e) {
        t.equal((e as { code?: string }).code, 'TERM_ERR_OUTBOX_FULL');
        refused = true;
      }
    }
    t.ok(refused);
    t.ok(ob.stats().pendingBytes <= 400);
    await ob.close();
  });

  t.test('invalid input and closed outbox fail with codes', async (t) => {
    const ob = await factory({ limits: { maxRecordBytes: 256 } });
    await t.rejects(ob.append({ type: 'Bad Type', body: {} }), { code: 'TERM_ERR_OUTBOX_RECORD_INVALID' });
    await t.rejects(ob.append({ type: 'ok', body: [] as unknown as Record<string, unknown> }), { code: 'TERM_ERR_OUTBOX_RECORD_INVALID' });
    await t.rejects(ob.append({ type: 'ok', body: { big: 'y'.repeat(300) } }), { code: 'TERM_ERR_OUTBOX_RECORD_INVALID' });
    await t.rejects(ob.append({ type: 'ok', body: {}, class: 'nope' as 'event' }), { code: 'TERM_ERR_OUTBOX_RECORD_INVALID' });
    t.equal(ob.stats().lastSeq, 0);
    await ob.close();
    await t.rejects(ob.append({ type: 'ok', body: {} }), { code: 'TERM_ERR_OUTBOX_CLOSED' });
    await t.rejects(ob.pending(1), { code: 'TERM_ERR_OUTBOX_CLOSED' });
    await t.rejects(ob.retained(), { code: 'TERM_ERR_OUTBOX_CLOSED' });
    await t.rejects(ob.ack(1), { code: 'TERM_ERR_OUTBOX_CLOSED' });
  });

  t.test('the injected clock sets ts and the event id time', async (t) => {
    let now = 1_700_000_000_000;
    const ob = await factory({ clock: () => now });
    const a = await ob.append({ type: 'e', body: {} });
    now -= 5000; // clock steps back: ids stay increasing
    const b = await ob.append({ type: 'e', body: {} });
    if (a.status !== 'written' || b.status !== 'written') return t.fail('not written');
    t.equal(a.record.ts, 1_700_000_000_000);
    t.ok(b.record.eventId > a.record.eventId);
    await ob.close();
  });
  return Promise.resolve();
}
