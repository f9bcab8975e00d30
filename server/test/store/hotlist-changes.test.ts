/**
 * The hotlist changes of terminal records as both store backends apply them
 * (src/store/hotlist-changes.ts): runs of reports as one version, each cancellation as its own, in
 * order; the results folded into one (the backends' own runs are in conformance.ts).
 */
import t from 'tap';
import { foldHotlistSteps, hotlistSteps } from '../../src/store/hotlist-changes.ts';
import type { HotlistAdd, HotlistCancel } from '../../src/store/types.ts';

const add = (cardNumber: string): HotlistAdd => ({ cardNumber, reportedBy: 'terminal:t1', source: 'terminal', reason: 'lost' });
const cancel = (cardNumber: string): HotlistCancel => ({ cancel: true, cardNumber, by: 'terminal:t1' });

t.test('consecutive reports form one step, each cancellation its own, in order', async (t) => {
  t.same(hotlistSteps([]), []);
  t.same(hotlistSteps([add('A'), add('B')]), [{ op: 'add', adds: [add('A'), add('B')] }]);
  t.same(hotlistSteps([add('A'), cancel('B'), cancel('C'), add('D'), add('E'), cancel('A')]), [
    { op: 'add', adds: [add('A')] },
    { op: 'remove', cardNumber: 'B', by: 'terminal:t1' },
    { op: 'remove', cardNumber: 'C', by: 'terminal:t1' },
    { op: 'add', adds: [add('D'), add('E')] },
    { op: 'remove', cardNumber: 'A', by: 'terminal:t1' },
  ]);
  t.same(hotlistSteps([cancel('A')]), [{ op: 'remove', cardNumber: 'A', by: 'terminal:t1' }], 'no empty report step');
});

t.test('folding keeps the last version, every changed card and its operation in order', async (t) => {
  t.same(foldHotlistSteps(7, []), { version: 7, changed: [], ops: [] }, 'no steps: the version read before');
  t.same(foldHotlistSteps(7, [
    { op: 'add', result: { version: 8, changed: ['A', 'B'] } },
    { op: 'remove', result: { version: 8, changed: [] } },
    { op: 'remove', result: { version: 9, changed: ['A'] } },
  ]), {
    version: 9,
    changed: ['A', 'B', 'A'],
    ops: [{ cardNumber: 'A', op: 'add' }, { cardNumber: 'B', op: 'add' }, { cardNumber: 'A', op: 'remove' }],
  });
});
