/**
 * The rollout state machine: phases, rate limit, thresholds, pause/resume/abort, late targets,
 * downgrade protection, and property tests over random event sequences.
 */
import t from 'tap';
import { createRollout, countRollout, phaseCap, planProblem, step, ineligibleReason, type RolloutEffect, type RolloutEvent, type RolloutPlan, type RolloutState, type ReportedUpdateStatus } from '../../src/updates/rollout.ts';

const plan = (over: Partial<RolloutPlan> = {}): RolloutPlan => ({
  id: 'ro_1', packageId: 'pkg_1', packageSeq: 3, targetVersion: '1.2.0', minPreviousVersion: '1.0.0', force: false,
  phases: [{ size: 2 }, { percent: 100 }], ratePerMinute: 100, successThreshold: 0.95, maxFailures: 2, terminalTimeoutMs: 600_000, ...over,
});
const targets = (n: number, version: string | null = '1.1.0') => Array.from({ length: n }, (_, i) => ({ id: `T${i}`, version }));

function run(s: RolloutState, events: RolloutEvent[], now = 0): { state: RolloutState; effects: RolloutEffect[] } {
  const effects: RolloutEffect[] = [];
  for (const e of events) {
    const r = step(s, e, now);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}
const notified = (fx: readonly RolloutEffect[]) => fx.filter((e) => e.type === 'notify').map((e) => (e as { terminalId: string }).terminalId);
const succeed = (id: string): RolloutEvent => ({ type: 'progress', terminalId: id, status: 'succeeded' });

t.test('plan checks', async (t) => {
  t.equal(planProblem(plan()), undefined);
  t.match(planProblem(plan({ phases: [] })), /phases/);
  t.match(planProblem(plan({ phases: [{ percent: 0 }] })), /phase/);
  t.match(planProblem(plan({ ratePerMinute: 0 })), /rate/);
  t.match(planProblem(plan({ successThreshold: 1.5 })), /successThreshold/);
  t.match(planProblem(plan({ maxFailures: 0 })), /maxFailures/);
  t.match(planProblem(plan({ targetVersion: 'x' })), /semver/);
  t.equal(phaseCap(plan({ phases: [{ percent: 10 }, { size: 3 }, { percent: 1 }] }), 0, 25), 3, 'ceil(10% of 25)');
  t.equal(phaseCap(plan({ phases: [{ percent: 10 }, { size: 3 }, { percent: 1 }] }), 1, 25), 6);
  t.equal(phaseCap(plan({ phases: [{ percent: 10 }, { size: 3 }, { percent: 1 }] }), 2, 25), 25, 'the last phase takes the rest');
});

t.test('two phases advance on success and complete', async (t) => {
  let s = createRollout(plan(), targets(5), 0);
  let r = step(s, { type: 'tick' }, 0);
  t.same(notified(r.effects), ['T0', 'T1'], 'phase 1 starts two');
  s = r.state;
  t.equal(s.terminals.T0!.status, 'notified');
  r = run(s, [{ type: 'tick' }]);
  t.same(notified(r.effects), [], 'nothing more until phase 1 finishes');
  r = run(s, [{ type: 'progress', terminalId: 'T0', status: 'downloading' }, { type: 'progress', terminalId: 'T0', status: 'installing' }, { type: 'progress', terminalId: 'T0', status: 'health-check' }, succeed('T0')]);
  t.same(notified(r.effects), [], 'one still in flight');
  r = run(r.state, [succeed('T1')]);
  t.same(notified(r.effects), ['T2', 'T3', 'T4'], 'phase 2 starts the rest');
  t.equal(r.state.phaseIndex, 1);
  r = run(r.state, [succeed('T2'), succeed('T3'), succeed('T4')]);
  t.equal(r.state.status, 'completed');
  t.same(r.effects.filter((e) => e.type === 'status').map((e) => (e as { status: string }).status), ['completed']);
  t.equal(countRollout(r.state).byStatus.succeeded, 5);
});

t.test('rate limit: at most ratePerMinute starts in any minute', async (t) => {
  let s = createRollout(plan({ phases: [{ percent: 100 }], ratePerMinute: 3 }), targets(10), 0);
  let r = step(s, { type: 'tick' }, 0);
  t.equal(notified(r.effects).length, 3);
  s = r.state;
  r = step(s, { type: 'tick' }, 59_999);
  t.equal(notified(r.effects).length, 0, 'same minute');
  r = step(s, { type: 'tick' }, 60_000);
  t.equal(notified(r.effects).length, 3, 'next minute');
});

t.test('failure threshold aborts and leaves the rest untouched', async (t) => {
  let s = createRollout(plan({ maxFailures: 1, phases: [{ size: 3 }, { percent: 100 }] }), targets(10), 0);
  s = step(s, { type: 'tick' }, 0).state;
  s = step(s, { type: 'progress', terminalId: 'T1', status: 'downloading' }, 1).state;
  const r = step(s, { type: 'progress', terminalId: 'T0', status: 'rolled-back', reason: 'health check failed' }, 2);
  t.equal(r.state.status, 'aborted');
  t.equal(r.state.status === 'aborted' && r.state.abortReason, 'failure-threshold');
  t.same(r.effects.filter((e) => e.type === 'cancel').map((e) => (e as { terminalId: string }).terminalId), ['T2'], 'notified-but-idle terminal is told to drop the job');
  t.equal(r.state.terminals.T0!.reason, 'health check failed');
  for (let i = 3; i < 10; i++) t.equal(r.state.terminals[`T${i}`]!.status, 'pending', `T${i} untouched`);
  // In-flight terminals keep reporting; nobody new is started.
  const r2 = run(r.state, [{ type: 'progress', terminalId: 'T1', status: 'succeeded' }, { type: 'tick' }, { type: 'add-target', terminalId: 'late', version: '1.1.0' }, { type: 'resume' }]);
  t.equal(r2.state.terminals.T1!.status, 'succeeded');
  t.same(notified(r2.effects), []);
  t.equal(r2.state.terminals.late, undefined, 'no joining an aborted rollout');
});

t.test('failure ratio threshold', async (t) => {
  let s = createRollout(plan({ maxFailures: 100, maxFailureRatio: 0.4, phases: [{ percent: 100 }] }), targets(5), 0);
  s = run(s, [{ type: 'tick' }, succeed('T0'), { type: 'progress', terminalId: 'T1', status: 'failed' }]).state;
  t.equal(s.status, 'aborted', '1/2 > 0.4');
});

t.test('success threshold not met pauses; resume accepts the phase', async (t) => {
  let s = createRollout(plan({ maxFailures: 5, successThreshold: 0.9 }), targets(4), 0);
  s = run(s, [{ type: 'tick' }, succeed('T0'), { type: 'progress', terminalId: 'T1', status: 'failed' }]).state;
  t.equal(s.status, 'paused');
  t.equal(s.status === 'paused' && s.pauseReason, 'success-threshold');
  const r = step(s, { type: 'resume' }, 5);
  t.equal(r.state.status, 'active');
  t.same(notified(r.effects), ['T2', 'T3']);
});

t.test('manual pause, resume, abort', async (t) => {
  let s = createRollout(plan({ phases: [{ percent: 100 }], ratePerMinute: 1 }), targets(3), 0);
  s = step(s, { type: 'tick' }, 0).state;
  s = step(s, { type: 'pause' }, 1).state;
  t.equal(s.status, 'paused');
  t.same(notified(step(s, { type: 'tick' }, 120_000).effects), [], 'paused starts nobody');
  const r = step(s, { type: 'resume' }, 120_000);
  t.same(notified(r.effects), ['T1']);
  const a = step(r.state, { type: 'abort', reason: 'bad build' }, 120_001);
  t.equal(a.state.status, 'aborted');
  t.equal(a.state.status === 'aborted' && a.state.detail, 'bad build');
  t.equal(a.state.terminals.T2!.status, 'pending');
});

t.test('late targets join an active rollout', async (t) => {
  let s = createRollout(plan({ phases: [{ percent: 100 }] }), targets(1), 0);
  s = run(s, [{ type: 'tick' }]).state;
  const r = step(s, { type: 'add-target', terminalId: 'new', version: '1.0.5' }, 10);
  t.same(notified(r.effects), ['new']);
  const r2 = run(r.state, [succeed('T0'), succeed('new')]);
  t.equal(r2.state.status, 'completed');
});

t.test('never a downgrade unless forced', async (t) => {
  t.equal(ineligibleReason(plan(), '1.3.0'), 'downgrade');
  t.equal(ineligibleReason(plan(), '1.2.0'), 'already-at-version');
  t.equal(ineligibleReason(plan(), '0.9.0'), 'below-min-previous-version');
  t.equal(ineligibleReason(plan(), null), 'version-unknown');
  t.equal(ineligibleReason(plan(), '1.2.0-rc.1'), undefined, 'a pre-release is below its release');
  t.equal(ineligibleReason(plan({ force: true }), '9.0.0'), undefined);
  const s = createRollout(plan({ phases: [{ size: 1 }, { percent: 100 }] }), [{ id: 'A', version: '2.0.0' }, { id: 'B', version: '1.1.0' }], 0);
  const r = step(s, { type: 'tick' }, 0);
  t.same(notified(r.effects), ['B'], 'the downgrade is skipped without using the phase budget');
  t.equal(r.state.terminals.A!.status, 'skipped');
  t.equal(r.state.terminals.A!.reason, 'downgrade');
});

t.test('timeouts count as failures', async (t) => {
  let s = createRollout(plan({ phases: [{ percent: 100 }], maxFailures: 1, terminalTimeoutMs: 5000 }), targets(2), 0);
  s = step(s, { type: 'tick' }, 0).state;
  s = step(s, { type: 'progress', terminalId: 'T0', status: 'downloading' }, 4000).state;
  t.equal(step(s, { type: 'tick' }, 4999).state.status, 'active');
  const r = step(s, { type: 'tick' }, 5000);
  t.equal(r.state.status, 'aborted');
  t.equal(r.state.terminals.T1!.reason, 'timeout');
});

t.test('progress is idempotent and never goes backwards', async (t) => {
  let s = createRollout(plan({ phases: [{ percent: 100 }] }), targets(2), 0);
  s = run(s, [{ type: 'tick' }, { type: 'progress', terminalId: 'T0', status: 'installing' }]).state;
  const back = step(s, { type: 'progress', terminalId: 'T0', status: 'downloading' }, 1);
  t.equal(back.state, s, 'backward progress ignored');
  t.equal(step(s, { type: 'progress', terminalId: 'nobody', status: 'succeeded' }, 1).state, s);
});

// ---- properties ----

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000; };
}

t.test('property: random event sequences keep the invariants', async (t) => {
  const statuses: ReportedUpdateStatus[] = ['downloading', 'installing', 'health-check', 'succeeded', 'failed', 'rolled-back'];
  const versions = ['0.9.0', '1.0.0', '1.1.0', '1.2.0', '1.3.0', null];
  let checked = 0;
  let totalNotifies = 0;
  let totalAborts = 0;
  let totalCompleted = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const p = plan({
      phases: [{ size: 1 + Math.floor(rnd() * 4) }, { percent: 10 + Math.floor(rnd() * 60) }, { percent: 100 }],
      ratePerMinute: 1 + Math.floor(rnd() * 5), maxFailures: 1 + Math.floor(rnd() * 4), successThreshold: rnd(),
      ...(rnd() < 0.3 ? { maxFailureRatio: rnd() * 0.9 } : {}), force: rnd() < 0.1, terminalTimeoutMs: 30_000,
    });
    const n = 3 + Math.floor(rnd() * 25);
    let s = createRollout(p, Array.from({ length: n }, (_, i) => ({ id: `T${i}`, version: pick(versions) })), 0);
    let now = 0;
    let abortedAt = -1;
    let pendingAtAbort = new Set<string>();
    const notifiedOnce = new Set<string>();
    const starts: number[] = [];
    let extra = 0;
    for (let i = 0; i < 400; i++) {
      now += Math.floor(rnd() * 8000);
      const ids = s.order;
      const x = rnd();
      const ev: RolloutEvent = x < 0.35 ? { type: 'tick' }
        : x < 0.8 ? { type: 'progress', terminalId: pick(ids), status: pick(statuses) }
        : x < 0.86 ? { type: 'add-target', terminalId: `L${extra++}`, version: pick(versions) }
        : x < 0.9 ? { type: 'pause' } : x < 0.96 ? { type: 'resume' } : x < 0.975 ? { type: 'abort' } : { type: 'version', terminalId: pick(ids), version: pick(['1.0.0', '1.1.0', '1.3.0']) };
      const before = s;
      const r = step(s, ev, now);
      s = r.state;
      for (const e of r.effects) {
        if (e.type !== 'notify') continue;
        if (abortedAt >= 0) t.fail(`seed ${seed}: notify after abort`);
        if (notifiedOnce.has(e.terminalId)) t.fail(`seed ${seed}: ${e.terminalId} notified twice`);
        notifiedOnce.add(e.terminalId);
        totalNotifies++;
        starts.push(now);
        if (!p.force) {
          const v = before.terminals[e.terminalId]?.version ?? s.terminals[e.terminalId]!.version;
          if (ineligibleReason(p, v) !== undefined) t.fail(`seed ${seed}: ineligible ${e.terminalId} at ${String(v)} started`);
        }
      }
      const c = countRollout(s);
      if (c.started > phaseCap(p, s.phaseIndex, c.total)) t.fail(`seed ${seed}: ${c.started} started above phase cap`);
      if (s.phaseIndex < before.phaseIndex) t.fail(`seed ${seed}: phase went back`);
      const inWindow = starts.filter((x) => x > now - 60_000).length;
      if (inWindow > p.ratePerMinute) t.fail(`seed ${seed}: ${inWindow} starts in a minute`);
      if (s.status === 'aborted' && abortedAt < 0) {
        abortedAt = i;
        pendingAtAbort = new Set(s.order.filter((id) => s.terminals[id]!.status === 'pending'));
      }
      if (abortedAt >= 0) {
        if (s.status !== 'aborted') t.fail(`seed ${seed}: left aborted`);
        for (const id of pendingAtAbort) if (s.terminals[id]!.status !== 'pending') t.fail(`seed ${seed}: touched ${id} after abort`);
      }
      if (s.status === 'completed' && (c.byStatus.pending > 0 || c.byStatus.notified + c.byStatus.downloading + c.byStatus.installing + c.byStatus['health-check'] > 0)) t.fail(`seed ${seed}: completed with work left`);
      checked++;
    }
    if (s.status === 'aborted') totalAborts++;
    if (s.status === 'completed') totalCompleted++;
  }
  t.equal(checked, 300 * 400, 'all steps checked');
  t.ok(totalNotifies > 300 && totalAborts > 20 && totalCompleted > 0, `exercised: ${totalNotifies} starts, ${totalAborts} aborts, ${totalCompleted} completions`);
});

t.test('property: step is pure (same input, same output; input not mutated)', async (t) => {
  const s0 = createRollout(plan({ phases: [{ percent: 100 }] }), targets(6), 0);
  const frozen = JSON.stringify(s0);
  const a = step(s0, { type: 'tick' }, 10);
  const b = step(s0, { type: 'tick' }, 10);
  t.same(a, b);
  t.equal(JSON.stringify(s0), frozen);
});
