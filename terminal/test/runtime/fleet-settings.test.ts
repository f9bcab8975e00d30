import t from 'tap';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { parseTerminalConfig } from '../../src/runtime/index.ts';
import { settingsFromDocument, loadLastGoodConfig, saveLastGoodConfig, LAST_GOOD_FILE } from '../../src/runtime/fleet.ts';

const SHA = 'a'.repeat(64);

t.test('config file: fleet section', async (t) => {
  const base = { terminalId: 'k', readers: [{ id: 'front', link: 'serial', path: '/dev/ttyUSB0' }] };
  t.same(parseTerminalConfig({ ...base, fleet: { dataDir: '/var/lib/onecard' } }).fleet, { dataDir: '/var/lib/onecard' });
  t.throws(() => parseTerminalConfig({ ...base, fleet: {} }), { code: 'TERM_ERR_CONFIG' });
  t.throws(() => parseTerminalConfig({ ...base, fleet: { dataDir: '/x', extra: 1 } }), { code: 'TERM_ERR_CONFIG' });
});

t.test('fleet document → settings; documents this terminal cannot run are refused with the field', async (t) => {
  const s = settingsFromDocument(EXAMPLE_TERMINAL_CONFIG);
  t.same(s.readers, [{ id: 'front', link: 'serial', path: '/dev/ttyUSB0', model: 'gempc-twin', psamSlot: 1 }]);
  t.same(s.card, { reader: 'front', slot: 0 });
  t.same(s.psam, { reader: 'front', slot: 1 });
  t.same(s.services, { identity: true, pin: true, transit: false });
  const r0 = EXAMPLE_TERMINAL_CONFIG.readers[0]!;
  const split = settingsFromDocument({ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...r0, id: 'user', psamSlot: null, role: 'user' }, { ...r0, id: 'sam', path: '/dev/ttyUSB1', psamSlot: 0, role: 'psam' }] });
  t.same([split.card, split.psam], [{ reader: 'user', slot: 0 }, { reader: 'sam', slot: 0 }]);
  const none = settingsFromDocument({ ...EXAMPLE_TERMINAL_CONFIG, readers: [] });
  t.same([none.readers, none.card, none.psam], [[], undefined, undefined], 'no readers: for terminals whose local file pins them');
  t.equal(s.ecardQr, true);
  t.equal(s.hisCompat, false);
  t.same(s.hotlist, { refreshIntervalSeconds: 900, maxStaleSeconds: 86400 });
  t.same(s.upload, { intervalSeconds: 5, batchSize: 200, maxOutboxRecords: 100_000 });
});

t.test('last good configuration: round trip; invalid files are ignored with a reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lg-'));
  t.equal(await loadLastGoodConfig(dir), undefined);
  await saveLastGoodConfig(dir, { pointer: { version: 7, sha256: SHA }, document: EXAMPLE_TERMINAL_CONFIG });
  t.same(await loadLastGoodConfig(dir), { pointer: { version: 7, sha256: SHA }, document: EXAMPLE_TERMINAL_CONFIG });
  const why: string[] = [];
  mkdirSync(join(dir, 'config'), { recursive: true });
  for (const bad of ['{', JSON.stringify({ pointer: { version: 7, sha256: 'x' }, document: EXAMPLE_TERMINAL_CONFIG }), JSON.stringify({ pointer: { version: 7, sha256: SHA }, document: { ...EXAMPLE_TERMINAL_CONFIG, v: 2 } })]) {
    writeFileSync(join(dir, LAST_GOOD_FILE), bad);
    t.equal(await loadLastGoodConfig(dir, (w) => why.push(w)), undefined);
  }
  t.equal(why.length, 3);
  t.equal(why[2], 'PROTO_ERR_FLEET_SCHEMA');
});
