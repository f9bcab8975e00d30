import t from 'tap';
import { once } from 'node:events';
import { verifyPin } from '@onecard/protocol/ssc';
import { openReaderManager } from '../../src/card/index.ts';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { card, hidSim, readSsc } from './helpers.ts';

// Held-out conformance run: verbose tracing printed `<not an APDU>` for every reader-level APDU,
// because the trace handed the real logger's `apdu` serializer a string. Trace through the real
// logger (createLogger, its serializers and redaction) and parse the lines back.
t.test('APDUs are traced at debug level through the real logger: readable, PIN masked, no response data', async (t) => {
  const dest = createMemoryDestination();
  const logger = createLogger({ level: 'debug', destination: dest });
  const sim = hidSim({ slots: [card('ssc-2.00.json')] });
  const m = openReaderManager({ readers: [{ id: 'h1', link: 'hid', path: sim.path }], hidOpener: () => sim.open(), logger });
  t.teardown(() => m.close());
  await once(m, 'card-inserted');
  const sw = await m.withCard('h1', 0, async (ch) => {
    await readSsc(ch);
    return (await ch.transmit(verifyPin('123456'))).sw;
  });
  t.equal(sw, 0x9000, 'VERIFY with the right PIN');
  const apdus = dest.records().filter((o) => o['msg'] === 'apdu') as { apdu?: unknown; sw?: string; level: number; readerId?: string }[];
  t.ok(apdus.length >= 5, `${apdus.length} APDU trace lines`);
  t.ok(apdus.every((a) => a.level === 20 && a.readerId === 'h1'), 'debug level, with the reader id');
  t.same(apdus.filter((a) => typeof a.apdu !== 'string' || !/^[0-9A-F]{2} [0-9A-F]{2} [0-9A-F]{2} [0-9A-F]{2}/.test(a.apdu)).map((a) => a.apdu), [], 'every line shows CLA INS P1 P2');
  t.notOk(dest.text().includes('not an APDU'), 'no `<not an APDU>` line');
  t.ok(apdus.some((a) => a.apdu === '00 B2 07 04 Le=0' || String(a.apdu).startsWith('00 B2 07')), 'READ RECORD 07 traced');
  const verify = apdus.find((a) => String(a.apdu).startsWith('00 20'));
  t.equal(verify?.apdu, '00 20 00 00 Lc=3 <redacted 3 bytes>', 'VERIFY data masked');
  t.equal(verify?.sw, '9000');
  const all = dest.text();
  t.notMatch(all, /123456/, 'the PIN never reaches the log');
  t.notMatch(all, /X00000019|5830303030303031/i, 'the card number read back is not logged');
});
