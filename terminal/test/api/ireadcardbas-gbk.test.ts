import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createCardFromFile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { encodeGbk } from '@onecard/protocol/ssc';
import { buildLocalApi, type CardAccess } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryJournal } from '../../src/services/index.ts';
import { EventEmitter } from 'node:events';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'test-token-0123456789abcdef';
const H = { 'x-onecard-token': TOKEN };

function access(user: SimulatedCard, psam: SimulatedCard): CardAccess {
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events: new EventEmitter(),
    status: () => [],
    withCard: async (fn) => fn({ card: ch(user), psam: ch(psam) }),
  };
}

// Held-out conformance run: iReadCardBas carried the name as UTF-8; national-interface.md §4.1 says GBK.
t.test('[national-interface §4.1] POST /v1/card/read format=ireadcardbas encoding=gbk answers the GBK bytes', async (t) => {
  const app = await buildLocalApi({
    readers: access(createCardFromFile(cardFile('ssc-3.00-long-name.json')), createCardFromFile(cardFile('psam.json'))),
    token: TOKEN, clock: { now: () => Date.UTC(2025, 5, 1, 2, 0, 0) }, journal: createMemoryJournal(),
  });
  t.teardown(() => app.close());
  const json = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: { format: 'ireadcardbas' } });
  const { readCardBas } = json.json() as { readCardBas: string };
  const name = readCardBas.split('|')[4]!;
  t.ok(new TextEncoder().encode(name).length > 30, 'a long Chinese name (09 ‖ 4E)');
  const gbk = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: { format: 'ireadcardbas', encoding: 'gbk' } });
  t.equal(gbk.statusCode, 200, gbk.body);
  t.match(gbk.headers['content-type'], /^text\/plain; charset=gbk/);
  t.same(gbk.rawPayload, Buffer.from(encodeGbk(readCardBas)), 'the whole string, GBK-encoded');
  t.equal(new TextDecoder('gbk').decode(gbk.rawPayload), readCardBas);
  const utf8 = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: { format: 'ireadcardbas', encoding: 'utf8' } });
  t.same(utf8.json(), { code: 0, readCardBas }, 'utf8: the JSON answer');
  const bad = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: { format: 'ireadcardbas', encoding: 'latin1' } });
  t.equal(bad.statusCode, 400);
});
