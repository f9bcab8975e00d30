/**
 * The readers' per-slot mutex (src/card/mutex.ts): runs one at a time in call order, the next
 * starting only once the previous has settled, released when a run throws.
 */
import t from 'tap';
import { Mutex } from '../../src/card/mutex.ts';

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('runs one at a time, in the order the calls were made', async (t) => {
  const m = new Mutex();
  const log: string[] = [];
  const gates = [deferred(), deferred(), deferred()];
  const runs = gates.map((g, i) => m.run(async () => {
    log.push(`start ${i}`);
    await g.promise;
    log.push(`end ${i}`);
    return i;
  }));
  await settle();
  t.same(log, ['start 0'], 'only the first runs');
  // releasing the later ones first changes nothing: they still wait their turn
  gates[2]!.resolve();
  gates[1]!.resolve();
  await settle();
  t.same(log, ['start 0']);
  gates[0]!.resolve();
  t.same(await Promise.all(runs), [0, 1, 2]);
  t.same(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
});

t.test('never calls fn synchronously, even when the mutex is free', async (t) => {
  const m = new Mutex();
  let started = false;
  const p = m.run(async () => {
    started = true;
  });
  t.equal(started, false);
  await p;
  t.equal(started, true);
});

t.test('a run that throws rejects with its error and releases the lock', async (t) => {
  const m = new Mutex();
  const log: string[] = [];
  const boom = new Error('card removed');
  const first = m.run(async () => {
    log.push('first');
    throw boom;
  });
  const second = m.run(async () => {
    log.push('second');
    return 'ok';
  });
  await t.rejects(first, boom);
  t.equal(await second, 'ok');
  t.same(log, ['first', 'second']);
  t.equal(await m.run(async () => 'after'), 'after', 'still usable');
});

t.test('separate mutexes do not wait for each other', async (t) => {
  const a = new Mutex();
  const b = new Mutex();
  const gate = deferred();
  const held = a.run(() => gate.promise);
  t.equal(await b.run(async () => 'b'), 'b');
  gate.resolve();
  await held;
});
