import t from 'tap';
import { EventEmitter } from 'node:events';
import { CardGate, type CardSetup } from '../../src/runtime/card-gate.ts';
import type { ReaderManager } from '../../src/card/index.ts';
import type { CardChannel } from '../../src/card/channel.ts';

/** A reader manager whose sessions record their name and whose close is observable. */
function fakeManager(name: string, log: string[]): ReaderManager {
  const m = new EventEmitter() as ReaderManager;
  let closed = false;
  Object.assign(m, {
    status: () => [{ readerId: name }],
    withCard: async <T>(_r: string, _s: number, fn: (c: CardChannel) => Promise<T>): Promise<T> => {
      if (closed) throw new Error(`${name} used after close`);
      log.push(`${name}:session`);
      return fn({ name } as unknown as CardChannel);
    },
    close: async () => { closed = true; log.push(`${name}:close`); },
  });
  return m;
}
const setup = (m: ReaderManager): CardSetup => ({ manager: m, user: { readerId: 'r', slot: 0 }, psam: undefined });

t.test('a swap waits for the session in progress; sessions started meanwhile go to the new readers', async (t) => {
  const log: string[] = [];
  const gate = new CardGate(setup(fakeManager('old', log)));
  let finish!: () => void;
  const first = gate.withCard(async ({ card }) => {
    log.push('first:start');
    await new Promise<void>((r) => { finish = r; });
    log.push('first:end');
    return (card as unknown as { name: string }).name;
  });
  await new Promise((r) => setImmediate(r));
  t.equal(gate.sessions, 1);
  const swapped = gate.swap(() => setup(fakeManager('new', log)));
  const second = gate.withCard(async ({ card }) => (card as unknown as { name: string }).name);
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(log.includes('old:close'), 'the old readers stay open while a session runs');
  finish();
  t.equal(await first, 'old', 'the session in progress completes on the old readers');
  await swapped;
  t.equal(await second, 'new', 'a session that waited uses the new readers');
  t.same(log, ['old:session', 'first:start', 'first:end', 'old:close', 'new:session']);
});

t.test('events of the current manager are re-emitted; a failed open re-opens the previous setup', async (t) => {
  const log: string[] = [];
  const old = fakeManager('old', log);
  const gate = new CardGate(setup(old));
  const seen: unknown[] = [];
  gate.events.on('card-inserted', (e) => seen.push(e));
  old.emit('card-inserted', { readerId: 'old' });
  const fresh = fakeManager('new', log);
  await gate.swap(() => setup(fresh));
  old.emit('card-inserted', { readerId: 'stale' });
  fresh.emit('card-inserted', { readerId: 'new' });
  t.same(seen, [{ readerId: 'old' }, { readerId: 'new' }], 'only the current manager is forwarded');
  await t.rejects(gate.swap(() => { throw Object.assign(new Error('nope'), { code: 'TERM_ERR_CONFIG_APPLY' }); }, () => setup(fakeManager('again', log))), { code: 'TERM_ERR_CONFIG_APPLY' });
  t.same(gate.status(), [{ readerId: 'again' }]);
  await gate.close();
  await t.rejects(gate.withCard(async () => 1), { code: 'TERM_ERR_RUNTIME_CLOSED' });
});
