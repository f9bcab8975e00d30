import t from 'tap';
import { step, backoffDelay, INITIAL_UPLINK_STATE, DEFAULT_UPLINK_POLICY, type UplinkState, type UplinkEvent } from '../../src/agent/uplink.ts';

const policy = { backoffBaseMs: 100, backoffMaxMs: 1000, ackTimeoutMs: 500 };
const env = (now: number, random = 0.5) => ({ now, random, policy });

function run(events: [UplinkEvent, number][], from: UplinkState = INITIAL_UPLINK_STATE) {
  let s = from;
  const effects: string[] = [];
  for (const [e, now] of events) {
    const r = step(s, e, env(now));
    s = r.state;
    effects.push(...r.effects.map((x) => x.type + ('epoch' in x ? `:${x.epoch}` : '') + ('at' in x ? `@${x.at}` : '')));
  }
  return { s, effects };
}

t.test('start → connect with an epoch ≥ now; connected → session-start (subscribe, birth, reconcile)', async (t) => {
  const { s, effects } = run([[{ type: 'start' }, 1000], [{ type: 'connected' }, 1001]]);
  t.same(effects, ['connect:1000', 'session-start:1000']);
  t.same(s, { kind: 'online', epoch: 1000, inflight: undefined });
});

t.test('epoch strictly increases on every connection, even when the clock stands still or steps back', async (t) => {
  const { s, effects } = run([
    [{ type: 'start' }, 5000], [{ type: 'connected' }, 5000], [{ type: 'disconnected' }, 5000],
    [{ type: 'timer' }, 5100], [{ type: 'connected' }, 5100], [{ type: 'disconnected' }, 10],
    [{ type: 'timer' }, 200],
  ]);
  const epochs = effects.filter((e) => e.startsWith('connect:')).map((e) => Number(e.split(':')[1]));
  t.same(epochs, [5000, 5100, 5101]);
  t.equal(s.kind, 'connecting');
});

t.test('jittered exponential backoff, capped; early timers are ignored', async (t) => {
  t.equal(backoffDelay(0, 0, policy), 50);
  t.equal(backoffDelay(0, 0.999999, policy), 99);
  t.equal(backoffDelay(3, 1, policy), 800);
  t.equal(backoffDelay(10, 1, policy), 1000);
  t.equal(backoffDelay(100, 0.5, policy), 750);
  let s: UplinkState = { kind: 'connecting', epoch: 7, attempt: 2 };
  let r = step(s, { type: 'disconnected' }, env(1000, 0));
  t.same(r.state, { kind: 'backoff', lastEpoch: 7, attempt: 3, until: 1200 });
  t.same(r.effects, [{ type: 'set-timer', at: 1200 }]);
  s = r.state;
  r = step(s, { type: 'timer' }, env(1199));
  t.equal(r.state, s, 'too early');
  r = step(s, { type: 'timer' }, env(1200));
  t.same(r.state, { kind: 'connecting', epoch: 1200, attempt: 3 });
  r = step(r.state, { type: 'disconnected' }, env(1300, 0));
  t.same(r.state, { kind: 'backoff', lastEpoch: 1200, attempt: 4, until: 1300 + 400 }, 'attempts accumulate while failing');
  const online = step({ kind: 'connecting', epoch: 9, attempt: 5 }, { type: 'connected' }, env(0)).state;
  t.same(step(online, { type: 'disconnected' }, env(0, 0)).state, { kind: 'backoff', lastEpoch: 9, attempt: 1, until: 50 }, 'a good connection resets the backoff');
  t.same(DEFAULT_UPLINK_POLICY.backoffBaseMs > 0, true);
});

t.test('one batch in flight; ack sends the next; timeout resends from the oldest unacked', async (t) => {
  let s: UplinkState = { kind: 'online', epoch: 1, inflight: undefined };
  let r = step(s, { type: 'pending' }, env(0));
  t.same(r.effects, [{ type: 'send-batch' }]);
  s = r.state;
  r = step(s, { type: 'pending' }, env(10));
  t.same(r.effects, [], 'no second batch while one is in flight');
  r = step(s, { type: 'batch-sent', sent: true }, env(20));
  t.same(r.effects, [{ type: 'set-timer', at: 500 }]);
  s = r.state;
  t.same(step(s, { type: 'timer' }, env(499)).effects, []);
  r = step(s, { type: 'timer' }, env(500));
  t.same(r.effects, [{ type: 'send-batch' }], 'resend after the ack timeout');
  s = r.state;
  r = step(s, { type: 'acked' }, env(600));
  t.same(r.effects, [{ type: 'send-batch' }]);
  r = step(r.state, { type: 'batch-sent', sent: false }, env(601));
  t.same(r.state, { kind: 'online', epoch: 1, inflight: undefined }, 'outbox empty: idle');
  t.same(step(r.state, { type: 'pending' }, env(700)).effects, [{ type: 'send-batch' }]);
});

t.test('stop closes from any state and is final', async (t) => {
  for (const s of [INITIAL_UPLINK_STATE, { kind: 'connecting', epoch: 3, attempt: 0 }, { kind: 'online', epoch: 3, inflight: undefined }, { kind: 'backoff', lastEpoch: 3, attempt: 1, until: 9 }] as UplinkState[]) {
    const r = step(s, { type: 'stop' }, env(0));
    t.equal(r.state.kind, 'stopped');
    t.equal(r.effects.some((e) => e.type === 'close'), s.kind === 'connecting' || s.kind === 'online');
    for (const e of ['start', 'connected', 'disconnected', 'pending', 'timer'] as const) t.equal(step(r.state, { type: e }, env(0)).state, r.state);
  }
});

t.test('random event sequences: the state is always one of the union and online has at most one batch in flight', async (t) => {
  const events: UplinkEvent[] = [{ type: 'start' }, { type: 'connected' }, { type: 'disconnected' }, { type: 'pending' }, { type: 'batch-sent', sent: true }, { type: 'batch-sent', sent: false }, { type: 'acked' }, { type: 'timer' }];
  let seed = 7;
  const rnd = (m: number) => { seed = (seed * 48271) % 2147483647; return seed % m; };
  let lastEpoch = 0;
  for (let run = 0; run < 200; run++) {
    let s: UplinkState = INITIAL_UPLINK_STATE;
    let now = 0;
    for (let i = 0; i < 200; i++) {
      now += rnd(300);
      const r = step(s, events[rnd(events.length)]!, env(now, rnd(1000) / 1000));
      const sends = r.effects.filter((e) => e.type === 'send-batch').length;
      if (sends > 1) t.fail('two batches at once');
      for (const e of r.effects) if (e.type === 'connect') { if (e.epoch <= lastEpoch) t.fail('epoch did not increase'); lastEpoch = e.epoch; }
      s = r.state;
    }
    lastEpoch = 0;
  }
  t.pass('200 random runs');
});
