import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompactHotlist, openCompactHotlist, packCardNumber, unpackCardNumber, decodeHotlistFile, encodeHotlistBase, encodeHotlistOverlay,
  CARD_NUMBER_SPACE, HOTLIST_BASE_FILE, HOTLIST_DELTA_FILE,
} from '../../src/hotlist/index.ts';

const ALPHA = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
/** Card numbers from a small alphabet subset so that random probes hit often. */
function card(r: () => number, dense = false): string {
  let s = dense ? 'X000' : '';
  while (s.length < 9) s += ALPHA[Math.floor(r() * (dense ? 6 : 36))]!;
  return s;
}

t.test('pack/unpack: base-36 below 36^9, case-insensitive, everything else is -1', async (t) => {
  t.equal(packCardNumber('000000000'), 0);
  t.equal(packCardNumber('ZZZZZZZZZ'), CARD_NUMBER_SPACE - 1);
  t.ok(CARD_NUMBER_SPACE < 2 ** 47);
  t.equal(packCardNumber('x00000019'), packCardNumber('X00000019'));
  for (const bad of ['', 'X0000001', 'X000000190', 'X0000001-', 'X0000001é', 'X00000 19']) t.equal(packCardNumber(bad), -1, JSON.stringify(bad));
  const r = rng(1);
  for (let i = 0; i < 2000; i++) {
    const c = card(r);
    t.equal(unpackCardNumber(packCardNumber(c)), c);
  }
});

t.test('lookups agree with a Set on random data (hits, misses, lower case, extras)', async (t) => {
  const r = rng(7);
  const cards = Array.from({ length: 20_000 }, () => card(r, r() < 0.5));
  const h = CompactHotlist.from(5, [...cards, 'D2143569X'.toLowerCase(), '8600001A2B3C']);
  const set = new Set([...cards, 'D2143569X', '8600001A2B3C']);
  t.equal(h.size, set.size);
  t.equal(h.version, 5);
  let hits = 0;
  for (let i = 0; i < 50_000; i++) {
    const c = i % 2 === 0 ? cards[Math.floor(r() * cards.length)]! : card(r, r() < 0.5);
    const want = set.has(c);
    if (want) hits++;
    if (h.has(c) !== want) { t.fail(`mismatch on ${c}`); return; }
    if (h.has(c.toLowerCase()) !== want) { t.fail(`lower-case mismatch on ${c}`); return; }
  }
  t.ok(hits > 25_000, `${hits} hits`);
  t.ok(h.has('8600001a2b3c'), 'non-card-number entries are kept');
  t.notOk(h.has('8600001A2B3D'));
  t.same([...h.entries()], [...set].filter((c) => c.length === 9).sort().concat(['8600001A2B3C']));
  t.throws(() => CompactHotlist.from(1, ['bad entry']), { code: 'TERM_ERR_HOTLIST_FILE' });
  t.throws(() => CompactHotlist.from(-1, []), { code: 'TERM_ERR_HOTLIST_FILE' });
});

t.test('deltas: set semantics, version chain, merge, agreement with a Set', async (t) => {
  const r = rng(11);
  const start = Array.from({ length: 5000 }, () => card(r, true));
  const set = new Set(start);
  const h = CompactHotlist.from(1, start, { mergeThreshold: 700 });
  let v = 1;
  for (let round = 0; round < 30; round++) {
    const add = Array.from({ length: 1 + Math.floor(r() * 100) }, () => card(r, true));
    const all = [...set];
    const remove = Array.from({ length: Math.floor(r() * 80) }, () => (r() < 0.8 && all.length > 0 ? all[Math.floor(r() * all.length)]! : card(r, true)));
    await h.apply({ kind: 'delta', fromVersion: v, version: v + 2, add, remove });
    v += 2;
    for (const c of remove) set.delete(c);
    for (const c of add) set.add(c);
    t.equal(h.version, v);
    t.equal(h.size, set.size, `size after round ${round}`);
    for (let i = 0; i < 2000; i++) {
      const c = card(r, true);
      if (h.has(c) !== set.has(c)) { t.fail(`round ${round}: mismatch on ${c}`); return; }
    }
  }
  t.ok(h.stats().merges > 0, 'the overlay was merged at least once');
  t.same([...h.entries()], [...set].sort());
  await t.rejects(h.apply({ kind: 'delta', fromVersion: v - 1, version: v + 1, add: [], remove: [] }), { code: 'TERM_ERR_HOTLIST_DELTA' });
  await t.rejects(h.apply({ kind: 'delta', fromVersion: v, version: v + 1, add: ['no good'], remove: [] }), { code: 'TERM_ERR_HOTLIST_FILE' });
  t.equal(h.version, v, 'a refused delta changes nothing');
  await h.apply({ kind: 'full', version: 3, cards: ['A00000001'] });
  t.equal(h.version, 3, 'a full snapshot may move the version anywhere');
  t.same([...h.entries()], ['A00000001']);
  await t.rejects(h.replace(3, []), { code: 'TERM_ERR_HOTLIST_VERSION' });
  await h.compact();
  t.ok(h.has('A00000001'));
});

t.test('persistence: round trip of base and overlay, stale overlay ignored, atomic files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hl-'));
  const a = await openCompactHotlist(dir, { mergeThreshold: 1000 });
  t.equal(a.version, 0);
  t.equal(a.size, 0);
  await a.apply({ kind: 'full', version: 10, cards: ['X00000019', 'A00000001', 'CARDID-1234'] });
  await a.apply({ kind: 'delta', fromVersion: 10, version: 11, add: ['B00000002'], remove: ['A00000001', 'CARDID-1234'] });
  t.same(readdirSync(dir).sort(), [HOTLIST_BASE_FILE, HOTLIST_DELTA_FILE], 'no temporary files left');
  const b = await openCompactHotlist(dir);
  t.equal(b.version, 11);
  t.same([...b.entries()], ['B00000002', 'X00000019']);
  // a merge rewrites the base and drops the overlay
  await b.compact();
  t.same(readdirSync(dir), [HOTLIST_BASE_FILE]);
  const c = await openCompactHotlist(dir);
  t.equal(c.version, 11);
  t.same([...c.entries()], ['B00000002', 'X00000019']);
  // an overlay on another base version is ignored (with a warning)
  const warnings: string[] = [];
  writeFileSync(join(dir, HOTLIST_DELTA_FILE), encodeHotlistOverlay({ ...c.snapshot(), version: 20, baseVersion: 7, adds: new Set([packCardNumber('Z00000009')]) }));
  const d = await openCompactHotlist(dir, { onWarning: (w) => warnings.push(w) });
  t.equal(d.version, 11);
  t.notOk(d.has('Z00000009'));
  t.same(warnings, ['overlay-stale']);
});

t.test('corruption: every truncation and any flipped byte is detected', async (t) => {
  const h = CompactHotlist.from(4, ['X00000019', 'A00000001', 'ZZZZZZZZZ', 'EXTRA-1']);
  const img = encodeHotlistBase(h.snapshot());
  const d = decodeHotlistFile(img);
  t.equal(d.version, 4);
  t.equal(d.first.length, 3);
  t.same(d.extras, ['EXTRA-1']);
  for (let n = 0; n < img.length; n++) t.throws(() => decodeHotlistFile(img.subarray(0, n)), { code: 'TERM_ERR_HOTLIST_CORRUPT' });
  const r = rng(3);
  for (let i = 0; i < 500; i++) {
    const bad = Uint8Array.from(img);
    const at = Math.floor(r() * bad.length);
    bad[at] = bad[at]! ^ (1 + Math.floor(r() * 255));
    t.throws(() => decodeHotlistFile(bad), { code: 'TERM_ERR_HOTLIST_CORRUPT' }, `byte ${at}`);
  }
  // on disk: default throws, 'reset' moves the file aside and starts empty; a corrupt overlay is ignored
  const dir = mkdtempSync(join(tmpdir(), 'hl-'));
  const good = await openCompactHotlist(dir);
  await good.replace(4, ['X00000019']);
  await good.applyDelta(4, 5, ['A00000001'], []);
  const delta = readFileSync(join(dir, HOTLIST_DELTA_FILE));
  delta[delta.length - 1] = delta[delta.length - 1]! ^ 0xff;
  writeFileSync(join(dir, HOTLIST_DELTA_FILE), delta);
  const warnings: string[] = [];
  const afterBadDelta = await openCompactHotlist(dir, { onWarning: (w) => warnings.push(w) });
  t.equal(afterBadDelta.version, 4, 'falls back to the base version');
  t.notOk(afterBadDelta.has('A00000001'));
  t.same(warnings, ['overlay-corrupt']);
  const base = readFileSync(join(dir, HOTLIST_BASE_FILE));
  base[72] = base[72]! ^ 0x01;
  writeFileSync(join(dir, HOTLIST_BASE_FILE), base);
  await t.rejects(openCompactHotlist(dir), { code: 'TERM_ERR_HOTLIST_CORRUPT' });
  const reset = await openCompactHotlist(dir, { onCorrupt: 'reset' });
  t.equal(reset.version, 0);
  t.ok(readdirSync(dir).includes(`${HOTLIST_BASE_FILE}.corrupt`));
});

t.test('random bytes never decode silently wrong: only coded errors', async (t) => {
  const r = rng(5);
  let errors = 0;
  for (let i = 0; i < 5000; i++) {
    const buf = Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
    if (i % 2 === 0 && buf.length >= 8) buf.set([0x4f, 0x43, 0x48, 0x4c, 1, 0, 0, 0]);
    try { decodeHotlistFile(buf); } catch (e) { if ((e as { code?: string }).code === 'TERM_ERR_HOTLIST_CORRUPT') errors++; else throw e; }
  }
  t.equal(errors, 5000);
});
