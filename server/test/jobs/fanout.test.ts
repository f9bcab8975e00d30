import t from 'tap';
import { FanoutQueue } from '../../src/jobs/fanout.ts';

t.test('tasks run one at a time in queue order, after enqueue returns; a failing task does not stop the queue', async (t) => {
  const ran: string[] = [];
  const errors: string[] = [];
  const q = new FanoutQueue({ onError: (what) => errors.push(what) });
  let running = 0;
  let overlap = false;
  const task = (what: string, fail = false) => ({
    what,
    run: async () => {
      running++;
      if (running > 1) overlap = true;
      await new Promise((r) => setTimeout(r, 2));
      ran.push(what);
      running--;
      if (fail) throw new Error(what);
    },
  });
  q.enqueue(task('a'));
  q.enqueue(task('b', true));
  q.enqueue(task('c'));
  t.same(ran, [], 'nothing runs inside enqueue');
  t.equal(q.pending, 3);
  await q.idle();
  t.same(ran, ['a', 'b', 'c']);
  t.same(errors, ['b']);
  t.notOk(overlap, 'never two at once');
  t.equal(q.pending, 0);
});

t.test('close: what was queued before finishes; tasks queued after are refused and never run', async (t) => {
  const ran: string[] = [];
  const refused: string[] = [];
  const q = new FanoutQueue({ onError: () => undefined, onRefused: (what) => refused.push(what) });
  q.enqueue({ what: 'before', run: async () => { ran.push('before'); } });
  const closing = q.close();
  q.enqueue({ what: 'after', run: async () => { ran.push('after'); } });
  await closing;
  await q.idle();
  t.same(ran, ['before']);
  t.same(refused, ['after']);
  t.equal(q.pending, 0);
});
