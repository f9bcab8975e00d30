/**
 * Red team, uplink stall: a terminal (buggy, a newer build, or hostile) publishes an `up/events`
 * batch that fails the fleet schema because of ONE record — a wrong-typed field, an unknown
 * field, a too-long string. Before the fix the broker counted and dropped the whole batch without
 * `down/ack`, so the terminal's outbox sent it again for ever and nothing behind it ever arrived.
 * Now, over real MQTT: the good records are stored, each malformed one with a sequence number is
 * quarantined (reason `schema`, audited, counted, raw text truncated and masked), `down/ack`
 * reaches the batch's highest seq and the next batch flows; acks stay in batch order; a payload
 * with no identifiable record is counted and alarmed, never acknowledged.
 */
import t from 'tap';
import type { MqttClient } from 'mqtt';
import { startFleet, connectTerminal, subscribeCode, closedWithin, end, type Fleet } from './fleet-fixture.ts';
import { QUARANTINE_TYPE } from '../../src/routes/event-records.ts';
import { isMalformed, SALVAGE_MAX_RECORDS, SALVAGE_RAW_CHARS, salvageEventsBatch } from '../../src/routes/event-salvage.ts';

let fleet: Fleet;
t.before(async () => { fleet = await startFleet(); });
t.teardown(async () => { await fleet.close(); });

const rec = (i: number, over: Record<string, unknown> = {}): Record<string, unknown> => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: 1_764_000_000_000 + i, type: 'card.read', body: { i }, ...over });
const batch = (...records: unknown[]): string => JSON.stringify({ v: 1, records });

/** `down/ack` values in arrival order; `next()` waits for the next one (fails the test after 15 s). */
function ackReader(client: MqttClient, id: string): { next(): Promise<number> } {
  const got: number[] = [];
  const waiters: ((n: number) => void)[] = [];
  client.on('message', (topic, payload) => {
    if (topic !== `t/${id}/down/ack`) return;
    const n = (JSON.parse(payload.toString('utf8')) as { upToSeq: number }).upToSeq;
    const w = waiters.shift();
    if (w !== undefined) w(n);
    else got.push(n);
  });
  return {
    next: () => new Promise<number>((resolve, reject) => {
      const n = got.shift();
      if (n !== undefined) return resolve(n);
      const timer = setTimeout(() => reject(new Error('no down/ack: the uplink is stalled')), 15_000);
      waiters.push((x) => { clearTimeout(timer); resolve(x); });
    }),
  };
}

const publish = (client: MqttClient, topic: string, payload: string): Promise<void> => client.publishAsync(topic, payload, { qos: 1 }).then(() => undefined);

interface Ev { seq: number; type: string; eventId: string; body: Record<string, unknown> }
async function events(id: string, unmasked = false): Promise<Ev[]> {
  const r = await fleet.api('GET', `/api/v1/events?terminal=${id}&limit=1000${unmasked ? '&unmasked=1' : ''}`);
  return (r.json as { events: Ev[] }).events;
}
async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${fleet.server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

t.test('one malformed record between good ones: good stored, bad quarantined, ack to the highest seq, next batch flows', async (t) => {
  const T = fleet.terminals[0];
  const c = await connectTerminal(T);
  t.teardown(() => end(c));
  t.equal(await subscribeCode(c, `t/${T.id}/down/ack`), 1);
  const acks = ackReader(c, T.id);
  const up = `t/${T.id}/up/events`;

  const poisoned = batch(
    rec(1),
    rec(2, { ts: 'yesterday' }), // wrong-typed field
    rec(3, { extra: true, body: { name: '张三', ssn: '110101199003070011' } }), // unknown field; personal data in it
    rec(4, { eventId: `evt-${'x'.repeat(70)}`, body: { blob: 'y'.repeat(3 * SALVAGE_RAW_CHARS) } }), // too-long string, large record
    rec(5),
  );
  await publish(c, up, poisoned);
  t.equal(await acks.next(), 5, 'down/ack reaches the highest seq of the batch');

  let stored = await events(T.id);
  t.same(stored.map((e) => [e.seq, e.type]), [[1, 'card.read'], [2, QUARANTINE_TYPE], [3, QUARANTINE_TYPE], [4, QUARANTINE_TYPE], [5, 'card.read']], 'good records stored, malformed ones quarantined in place');
  const q = stored.filter((e) => e.type === QUARANTINE_TYPE);
  t.same(q.map((e) => e.body.reason), ['schema', 'schema', 'schema']);
  t.equal(q[0]!.body.path, '/ts', 'the quarantine names the failing field');
  t.same(q.map((e) => e.body.seq), [2, 3, 4]);
  t.equal(q[0]!.eventId, 'evt-00000002', 'a usable event id is kept (retransmissions stay idempotent)');
  t.match(q[2]!.eventId, /^q_[0-9a-f]{40}$/, 'an unusable event id is replaced by a digest');
  t.ok(q.every((e) => e.body.raw === '***'), 'the raw record is masked for a default read');
  const full = (await events(T.id, true)).filter((e) => e.type === QUARANTINE_TYPE);
  t.match(String(full[1]!.body.raw), /110101199003070011/, 'an admin asking for full values sees the original record');
  t.equal(String(full[2]!.body.raw).length, SALVAGE_RAW_CHARS, 'a large record is kept truncated');
  t.equal(full[2]!.body.rawTruncated, true);
  t.ok((full[2]!.body.rawChars as number) > 3 * SALVAGE_RAW_CHARS);

  t.equal(await metric('onecard_events_quarantined_total', 'reason="schema"'), 3, 'alarm: counted');
  const audit = (await fleet.api('GET', '/api/v1/audit?action=event.quarantine')).json as { entries: { actor: string; details: { reason: string; seq: number } }[] };
  t.same(audit.entries.map((e) => [e.actor, e.details.reason, e.details.seq]).sort(), [[`terminal:${T.id}`, 'schema', 2], [`terminal:${T.id}`, 'schema', 3], [`terminal:${T.id}`, 'schema', 4]], 'alarm: audited');

  await publish(c, up, batch(rec(6), rec(7)));
  t.equal(await acks.next(), 7, 'the next batch flows');

  // The terminal did not get the ack (lost) and sends the poisoned batch again: idempotent.
  await publish(c, up, poisoned);
  t.equal(await acks.next(), 5, 'a retransmission is acknowledged again');
  stored = await events(T.id);
  t.equal(stored.length, 7, 'and stores nothing twice');
  t.equal(await metric('onecard_events_quarantined_total', 'reason="schema"'), 6);
  t.equal(await closedWithin(c, 200), 'open', 'the terminal stays connected throughout');
});

t.test('acks stay in batch order when malformed and valid batches are pipelined', async (t) => {
  const T = fleet.terminals[1];
  const c = await connectTerminal(T);
  t.teardown(() => end(c));
  await subscribeCode(c, `t/${T.id}/down/ack`);
  const acks = ackReader(c, T.id);
  const up = `t/${T.id}/up/events`;
  const sent = [
    publish(c, up, batch(rec(1), rec(2, { body: 'not an object' }))),
    publish(c, up, batch(rec(3), rec(4))),
    publish(c, up, JSON.stringify({ v: 1, records: [rec(5), rec(6)], extra: 1 })), // envelope with an unknown field
    publish(c, up, batch(rec(7, { type: 'Bad Type' }))),
    publish(c, up, JSON.stringify({ v: 2, records: [rec(8)] })), // a schema version this server predates
  ];
  await Promise.all(sent);
  t.same([await acks.next(), await acks.next(), await acks.next(), await acks.next(), await acks.next()], [2, 4, 6, 7, 8]);
  const stored = await events(T.id);
  t.same(stored.map((e) => [e.seq, e.type === QUARANTINE_TYPE ? 'q' : 'ok']), [[1, 'ok'], [2, 'q'], [3, 'ok'], [4, 'ok'], [5, 'ok'], [6, 'ok'], [7, 'q'], [8, 'ok']]);
});

t.test('nothing identifiable: counted and alarmed, not acknowledged; records without a seq beside good ones are kept together', async (t) => {
  const T = fleet.terminals[2];
  const c = await connectTerminal(T);
  t.teardown(() => end(c));
  await subscribeCode(c, `t/${T.id}/down/ack`);
  const acks = ackReader(c, T.id);
  const up = `t/${T.id}/up/events`;
  const alarms: unknown[] = [];
  const onAlarm = (...a: unknown[]): void => { alarms.push(a); };
  fleet.server.app.fleet.on('events-quarantined', onAlarm);
  t.teardown(() => { fleet.server.app.fleet.off('events-quarantined', onAlarm); });

  await publish(c, up, '{not json');
  await publish(c, up, batch({ no: 'seq' }, { seq: 'one' }, { seq: 2 ** 60 }));
  await publish(c, up, JSON.stringify([1, 2, 3]));
  await publish(c, up, batch(rec(1)));
  t.equal(await acks.next(), 1, 'no ack for the unreadable payloads: the first ack is that of the good batch after them');
  t.equal(await metric('onecard_events_unreadable_total', 'code="PROTO_ERR_FLEET_JSON"'), 1);
  t.equal(await metric('onecard_events_unreadable_total', 'code="PROTO_ERR_FLEET_SCHEMA"'), 2);
  t.same(alarms.slice(0, 3), [[T.id, 0, ['unreadable']], [T.id, 0, ['unreadable']], [T.id, 0, ['unreadable']]], 'alarm on the live feed bus');

  await publish(c, up, batch(rec(2), { seq: -1, body: 'x' }, 'junk', rec(3)));
  t.equal(await acks.next(), 3);
  const stored = await events(T.id, true);
  t.same(stored.map((e) => [e.seq, e.type]), [[1, 'card.read'], [2, 'card.read'], [3, 'card.read'], [0, QUARANTINE_TYPE]]);
  t.match(stored[3]!.body, { reason: 'schema', records: 2, seq: null }, 'the records without a seq are kept in one quarantine event');
  t.match(String(stored[3]!.body.raw), /junk/);
});

t.test('salvage bounds: at most the schema\'s 1000 records are looked at; only safe-integer seqs ≥ 1 identify a record', async (t) => {
  const many = Array.from({ length: SALVAGE_MAX_RECORDS + 500 }, (_, i) => rec(i + 1, { ts: -1 }));
  const items = salvageEventsBatch({ v: 1, records: many })!;
  t.equal(items.length, SALVAGE_MAX_RECORDS);
  t.ok(items.every(isMalformed));
  t.equal(salvageEventsBatch({ v: 1, records: [{ seq: 0 }, { seq: 1.5 }, { seq: 2 ** 53 }, { seq: '3' }] }), undefined);
  t.equal(salvageEventsBatch({ v: 1, records: [] }), undefined);
  t.equal(salvageEventsBatch(null), undefined);
  t.equal(salvageEventsBatch({ v: 1, records: { 0: rec(1) } }), undefined);
  const hostile = salvageEventsBatch({ v: 1, records: [rec(1, { ['x\u202e\u0000y']: '\u0085\u2066' })] })![0] as { path: string; raw: string };
  t.notMatch(hostile.path, /[\u0000\u202e]/, 'a hostile property name in the failing path is made printable');
  t.notMatch(hostile.raw, /[\u0000\u0085\u202e\u2066]/, 'the kept raw text carries control and bidi characters only as escapes');
  t.match(JSON.parse(hostile.raw) as object, { ['x\u202e\u0000y']: '\u0085\u2066' }, 'and is still the same JSON');
});
