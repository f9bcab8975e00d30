import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryHotlist, openFileHotlist, parseHotlistFile } from '../../src/hotlist/index.ts';

t.test('memory hotlist: lookup is case-insensitive, replace needs a newer version', async (t) => {
  const h = createMemoryHotlist(3, ['X00000019', 'd2143569x']);
  t.equal(h.version, 3);
  t.equal(h.size, 2);
  t.ok(h.has('x00000019'));
  t.ok(h.has('D2143569X'));
  t.notOk(h.has('E1000009X'));
  await t.rejects(h.replace(3, []), { code: 'TERM_ERR_HOTLIST_VERSION' });
  await h.replace(4, ['E1000009X']);
  t.equal(h.version, 4);
  t.notOk(h.has('X00000019'));
  t.ok(h.has('E1000009X'));
  t.throws(() => createMemoryHotlist(-1), { code: 'TERM_ERR_HOTLIST_FILE' });
  t.throws(() => createMemoryHotlist(1, ['bad entry']), { code: 'TERM_ERR_HOTLIST_FILE' });
});

t.test('hotlist file: parse and validation', async (t) => {
  t.same(parseHotlistFile('{"version":2,"cards":["X00000019"]}'), { version: 2, cards: ['X00000019'] });
  for (const bad of ['', '[]', '{"version":1}', '{"version":"1","cards":[]}', '{"version":1.5,"cards":[]}', '{"version":1,"cards":[7]}']) {
    t.throws(() => parseHotlistFile(bad), { code: 'TERM_ERR_HOTLIST_FILE' }, JSON.stringify(bad));
  }
});

t.test('file hotlist: missing file is version 0; replace is atomic and persistent; reload ignores older files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-hotlist-'));
  const path = join(dir, 'hotlist.json');
  const h = await openFileHotlist(path);
  t.equal(h.version, 0);
  t.notOk(h.has('X00000019'));
  await h.replace(5, ['X00000019']);
  t.ok(h.has('X00000019'));
  t.same(JSON.parse(readFileSync(path, 'utf8')), { version: 5, cards: ['X00000019'] });
  t.same(readdirSync(dir), ['hotlist.json'], 'no temporary file left');
  const again = await openFileHotlist(path);
  t.equal(again.version, 5);
  t.ok(again.has('x00000019'));
  await t.rejects(again.replace(5, []), { code: 'TERM_ERR_HOTLIST_VERSION' });
  await t.rejects(again.replace(6, ['has space']), { code: 'TERM_ERR_HOTLIST_FILE' });
  t.equal(again.version, 5, 'old list kept after a refused replace');
  writeFileSync(path, JSON.stringify({ version: 9, cards: ['E1000009X'] }));
  await again.reload();
  t.equal(again.version, 9);
  t.ok(again.has('E1000009X'));
  writeFileSync(path, JSON.stringify({ version: 2, cards: [] }));
  await again.reload();
  t.equal(again.version, 9, 'an older file does not roll back');
  writeFileSync(path, '{broken');
  await t.rejects(openFileHotlist(path), { code: 'TERM_ERR_HOTLIST_FILE' });
});
