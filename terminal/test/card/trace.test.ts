import t from 'tap';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { verifyPin } from '@onecard/protocol/ssc';
import { openReaderManager } from '../../src/card/index.ts';
import { card, hidSim, readSsc } from './helpers.ts';

t.test('APDUs are traced at debug level with the PIN masked; no response data in the log', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter((l) => l.length > 0)); cb(); } });
  const logger = pino({ level: 'debug' }, sink);
  const sim = hidSim({ slots: [card('ssc-2.00.json')] });
  const m = openReaderManager({ readers: [{ id: 'h1', link: 'hid', path: sim.path }], hidOpener: () => sim.open(), logger });
  t.teardown(() => m.close());
  await once(m, 'card-inserted');
  const sw = await m.withCard('h1', 0, async (ch) => {
    await readSsc(ch);
    return (await ch.transmit(verifyPin('123456'))).sw;
  });
  t.equal(sw, 0x9000, 'VERIFY with the right PIN');
  const apdus = lines.map((l) => JSON.parse(l) as { msg: string; apdu?: string; sw?: string; level: number; readerId?: string }).filter((o) => o.msg === 'apdu');
  t.ok(apdus.length >= 5, `${apdus.length} APDU trace lines`);
  t.ok(apdus.every((a) => a.level === 20 && a.readerId === 'h1'), 'debug level, with the reader id');
  const verify = apdus.find((a) => a.apdu?.startsWith('00 20'));
  t.match(verify?.apdu, /redacted 3 bytes/, 'VERIFY data masked');
  const all = lines.join('\n');
  t.notMatch(all, /123456/, 'the PIN never reaches the log');
  t.notMatch(all, /X00000019|5830303030303031/i, 'the card number read back is not logged');
});
