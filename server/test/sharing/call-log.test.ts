/**
 * The departments' call log: calls handed in together are committed in one store transaction, each
 * caller learns whether its call was recorded only after that commit, a failed commit fails every
 * call in it (and the next group still runs), calls arriving during a commit form the next group,
 * and with several commits allowed at once, a free slot takes what queued meanwhile.
 */
import t from 'tap';
import { CallLog } from '../../src/sharing/call-log.ts';
import type { CallCommit, RegistryStore } from '../../src/store/registry-types.ts';

const call = (subject: string, quota?: number): CallCommit => ({
  access: { at: 1, departmentId: 'civil', purpose: 'subsidy', call: 'verify', subjectHash: subject, cardNumber: null, released: ['match'], outcome: 'released', jobId: null },
  ...(quota !== undefined ? { quota: { day: '2026-01-01', n: quota, limit: 2 } } : {}),
});

/** A store whose commitCalls records its groups and is released by the test. */
function fakeStore(): { store: RegistryStore; groups: string[][]; release: (fail?: Error) => void; committed: string[] } {
  const groups: string[][] = [];
  const committed: string[] = [];
  let used = 0;
  const waiting: (() => void)[] = [];
  let failNext: Error | undefined;
  const store = {
    async commitCalls(calls: readonly CallCommit[]): Promise<boolean[]> {
      groups.push(calls.map((c) => c.access.subjectHash!));
      await new Promise<void>((r) => waiting.push(r));
      if (failNext !== undefined) { const e = failNext; failNext = undefined; throw e; }
      return calls.map((c) => {
        const n = c.quota?.n ?? 0;
        if (used + n > (c.quota?.limit ?? Infinity)) return false;
        used += n;
        committed.push(c.access.subjectHash!);
        return true;
      });
    },
  } as unknown as RegistryStore;
  return { store, groups, committed, release: (fail?: Error) => { failNext = fail; waiting.shift()?.(); } };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('calls of one turn share one commit; callers wait for it', async (t) => {
  const f = fakeStore();
  const log = new CallLog(f.store);
  let settled = 0;
  const ps = ['a', 'b', 'c'].map((s) => log.commit(call(s, 1)).finally(() => { settled++; }));
  await tick();
  await tick();
  t.same(f.groups, [['a', 'b', 'c']], 'one group');
  t.equal(settled, 0, 'no caller is answered before the commit');
  // Calls arriving while the commit runs form the next group.
  const late = log.commit(call('d'));
  f.release();
  t.same(await Promise.all(ps), [true, true, false], 'the quota ran out inside the group');
  await tick();
  t.same(f.groups, [['a', 'b', 'c'], ['d']]);
  f.release();
  t.equal(await late, true, 'a call without quota is recorded');
  await log.idle();
  t.same(f.committed, ['a', 'b', 'd']);
});

t.test('a failed commit fails every call in it; later calls still commit', async (t) => {
  const f = fakeStore();
  const log = new CallLog(f.store);
  const ps = ['a', 'b'].map((s) => log.commit(call(s)));
  await tick();
  await tick();
  f.release(new Error('disk full'));
  for (const p of ps) await t.rejects(p, { message: 'disk full' });
  const next = log.commit(call('c'));
  await tick();
  await tick();
  f.release();
  t.equal(await next, true);
  t.same(f.groups, [['a', 'b'], ['c']]);
  t.same(f.committed, ['c']);
});

t.test('groups are capped', async (t) => {
  const f = fakeStore();
  const log = new CallLog(f.store, { maxGroup: 2 });
  const ps = ['a', 'b', 'c', 'd', 'e'].map((s) => log.commit(call(s)));
  for (let i = 0; i < 3; i++) {
    await tick();
    await tick();
    f.release();
  }
  t.same(await Promise.all(ps), [true, true, true, true, true]);
  t.same(f.groups, [['a', 'b'], ['c', 'd'], ['e']]);
  await log.idle();
});

t.test('with two commits in flight, arrivals use the free slot, then queue for the next', async (t) => {
  const f = fakeStore();
  const log = new CallLog(f.store, { maxInFlight: 2 });
  const first = log.commit(call('a'));
  await tick();
  await tick();
  const second = log.commit(call('b'));
  await tick();
  await tick();
  t.same(f.groups, [['a'], ['b']], 'the second call did not wait for the first commit');
  const queued = ['c', 'd'].map((s) => log.commit(call(s)));
  await tick();
  await tick();
  t.same(f.groups.length, 2, 'both slots busy: c and d wait');
  f.release();
  t.equal(await first, true);
  await tick();
  await tick();
  t.same(f.groups, [['a'], ['b'], ['c', 'd']], 'the freed slot takes what queued as one group');
  f.release();
  f.release();
  t.same(await Promise.all([second, ...queued]), [true, true, true]);
  await log.idle();
});
