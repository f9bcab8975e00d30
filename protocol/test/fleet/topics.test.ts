import t from 'tap';
import { upTopic, downTopic, jobProgressTopic, rpcTopic, parseTopic, mayTerminalPublish, mayTerminalSubscribe, isTerminalId, assertTerminalId } from '../../src/fleet/topics.ts';

t.test('topic builders and parser round trip', async (t) => {
  t.equal(upTopic('T-1', 'birth'), 't/T-1/up/birth');
  t.equal(downTopic('T-1', 'jobs/notify'), 't/T-1/down/jobs/notify');
  t.same(parseTopic('t/T-1/up/config/status'), { dir: 'up', terminalId: 'T-1', kind: 'config/status' });
  t.same(parseTopic(jobProgressTopic('a', 'job_7')), { dir: 'up', terminalId: 'a', kind: 'jobs', jobId: 'job_7' });
  t.same(parseTopic(rpcTopic('a', 'down', 'r1')), { dir: 'down', terminalId: 'a', kind: 'rpc', reqId: 'r1' });
  for (const kind of ['birth', 'death', 'tele', 'events', 'config/status'] as const) t.same(parseTopic(upTopic('x', kind)), { dir: 'up', terminalId: 'x', kind });
  for (const kind of ['ack', 'config', 'jobs/notify', 'hotlist'] as const) t.same(parseTopic(downTopic('x', kind)), { dir: 'down', terminalId: 'x', kind });
});

t.test('unknown topics parse to undefined', async (t) => {
  for (const s of ['', 't', 't/x/up', 't/x/up/nope', 't/x/sideways/birth', 'u/x/up/birth', 't/x y/up/birth', 't/x/up/jobs', 't/x/up/jobs/a/b', 't/+/up/birth', 't/x/down/rpc/a b']) {
    t.equal(parseTopic(s), undefined, s);
  }
});

t.test('terminal ids refuse MQTT wildcards and separators', async (t) => {
  for (const id of ['a/b', '+', '#', '$SYS', '', 'x'.repeat(65), 'a b']) {
    t.notOk(isTerminalId(id), id);
    t.throws(() => assertTerminalId(id), { code: 'PROTO_ERR_FLEET_TERMINAL_ID' });
    t.throws(() => upTopic(id, 'birth'), { code: 'PROTO_ERR_FLEET_TERMINAL_ID' });
  }
  t.throws(() => jobProgressTopic('a', 'b/c'), { code: 'PROTO_ERR_FLEET_TOPIC' });
});

t.test('terminal publish rule [MQTT-3.3.2-2]', async (t) => {
  t.ok(mayTerminalPublish('a', 't/a/up/birth'));
  t.ok(mayTerminalPublish('a', 't/a/up/jobs/j1'));
  t.notOk(mayTerminalPublish('a', 't/a/up/'), 'empty level after prefix');
  t.notOk(mayTerminalPublish('a', 't/a/down/ack'), 'own downlink');
  t.notOk(mayTerminalPublish('a', 't/b/up/birth'), 'other terminal');
  t.notOk(mayTerminalPublish('a', 't/ab/up/birth'), 'prefix of another id');
  t.notOk(mayTerminalPublish('ab', 't/a/up/birth'));
  t.notOk(mayTerminalPublish('a', 't/a/up/+'), 'wildcard in publish');
  t.notOk(mayTerminalPublish('a', 't/a/up/#'));
  t.notOk(mayTerminalPublish('a', 'fleet/broadcast/x'));
  t.notOk(mayTerminalPublish('a/b', 't/a/b/up/x'), 'invalid id');
});

t.test('terminal subscribe rule [MQTT-4.7.1-2] [MQTT-4.7.1-3]', async (t) => {
  for (const f of ['t/a/down/#', 't/a/down/ack', 't/a/down/rpc/+', 't/a/down/+/notify', 'fleet/broadcast/#', 'fleet/broadcast/config']) t.ok(mayTerminalSubscribe('a', f), f);
  for (const f of ['#', '+/a/down/#', 't/+/down/#', 't/a/#', 't/a/up/#', 't/a/down', 't/a/down/', 't/b/down/#', 't/ab/down/#', 't/a/down/#/x', 't/a/down/a#', 't/a/down/a+', 'fleet/#', 'fleet/broadcast', '$SYS/#', 'fleet/+/x']) {
    t.notOk(mayTerminalSubscribe('a', f), f);
  }
});

t.test('random topics never widen access', async (t) => {
  const alphabet = ['t', 'a', 'b', '/', '+', '#', 'up', 'down', 'fleet', 'broadcast', '$', 'x'];
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let i = 0; i < 20000; i++) {
    let s = '';
    const n = rnd(12);
    for (let j = 0; j < n; j++) s += alphabet[rnd(alphabet.length)]!;
    if (mayTerminalPublish('a', s)) t.ok(s.startsWith('t/a/up/') && !/[+#]/.test(s), s);
    if (mayTerminalSubscribe('a', s)) t.ok(s.startsWith('t/a/down/') || s.startsWith('fleet/broadcast/'), s);
  }
});
