/**
 * Durable ingest with group commit: batches of many terminals arriving together share one store
 * transaction (one fsync), each is acknowledged only after that commit, and a batch that cannot be
 * committed delays only its own terminal (the group is retried batch by batch).
 */
import t from 'tap';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import type { SqliteStore } from '../../src/store/sqlite.ts';

async function terminals(ta: TestApp, n: number): Promise<string[]> {
  await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: 'g', name: 'g' } });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: 'g' } })).json() as { token: string };
    ids.push(((await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string }).terminalId);
  }
  return ids;
}
const batch = (from: number, n: number, type = 'card.read', body: Record<string, unknown> = {}) => ({ v: 1, records: Array.from({ length: n }, (_, i) => ({ eventId: `evt-${String(from + i).padStart(8, '0')}`, seq: from + i, ts: 1_764_000_000_000 + from + i, type, body })) });

t.test('concurrent batches of many terminals share commits, and each is acked after its commit', async (t) => {
  const ta = await makeTestApp();
  const { app } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const ids = await terminals(ta, 12);
  const acks = new Map<string, number[]>();
  const storedAtAck: Promise<boolean>[] = [];
  app.broker.subscribe('t/+/down/ack', (p, cb) => {
    const tid = p.topic.split('/')[1]!;
    const up = (JSON.parse(Buffer.from(p.payload as Buffer).toString('utf8')) as { upToSeq: number }).upToSeq;
    acks.set(tid, [...(acks.get(tid) ?? []), up]);
    storedAtAck.push(app.ctx.store.listEvents({ terminalId: tid, limit: 10000 }).then((l) => l.some((e) => e.seq === up)));
    cb();
  }, () => {});
  await Promise.all(ids.map(async (id) => {
    await app.uplink.dispatch('events', id, batch(1, 50), '');
    await app.uplink.dispatch('events', id, batch(51, 50), '');
  }));
  for (const id of ids) t.same(acks.get(id), [50, 100], `${id}: both batches acked in order`);
  t.ok((await Promise.all(storedAtAck)).every(Boolean), 'every ack left after its records were stored');
  t.equal((await app.ctx.store.listEvents({ limit: 10000 })).length, 12 * 100);
  t.ok(app.metrics.get('onecard_ingest_group_commits_total') >= 1, 'batches of several terminals shared a commit');
});

t.test('a batch that cannot commit fails alone: the other terminals in its group are stored and acked', async (t) => {
  const ta = await makeTestApp();
  const { app } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const ids = await terminals(ta, 4);
  const bad = ids[2]!;
  // The loss report of `bad` needs an audit entry, and its audit write fails.
  (app.ctx.store as SqliteStore).db.exec(`CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit WHEN NEW.actor = 'terminal:${bad}' BEGIN SELECT RAISE(ABORT, 'injected'); END;`);
  const acked = new Set<string>();
  app.broker.subscribe('t/+/down/ack', (p, cb) => { acked.add(p.topic.split('/')[1]!); cb(); }, () => {});
  const results = await Promise.allSettled(ids.map((id) => app.uplink.dispatch('events', id, id === bad ? batch(1, 1, 'card.loss-report', { cardNumber: 'X00000019', pinVerified: true }) : batch(1, 10), '')));
  t.same(results.map((r) => r.status), ids.map((id) => (id === bad ? 'rejected' : 'fulfilled')));
  t.same([...acked].sort(), ids.filter((id) => id !== bad).sort(), 'everyone else acknowledged');
  t.equal((await app.ctx.store.listEvents({ limit: 1000 })).length, 30);
  t.equal(await app.ctx.store.hotlistVersion(), 0, 'the failed loss report left nothing');
});
