import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileOutbox, type FileOutbox } from '../../src/agent/outbox.ts';
import { TerminalError } from '../../src/errors.ts';
import { outboxConformance } from './outbox-conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'onecard-outbox-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`);

await outboxConformance(t, async (opts) => openFileOutbox({ dir: freshDir(), segmentBytes: 512, ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.clock ? { clock: opts.clock } : {}) }));

const segs = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('seg-')).sort();

async function fill(dir: string, count: number, segmentBytes = 1 << 20): Promise<FileOutbox> {
  const ob = await openFileOutbox({ dir, segmentBytes });
  for (let i = 0; i < count; i++) await ob.append({ type: 'transit.purchase', body: { i, amount: 100 + i }, class: 'transaction' });
  return ob;
}

t.test('records, sequence and ack watermark survive reopen; files are 0600 and the dir 0700', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 12);
  await ob.ack(5);
  await ob.close();
  t.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of segs(dir)) t.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  const again = await openFileOutbox({ dir });
  t.same((await again.pending(100)).map((r) => r.seq), [6, 7, 8, 9, 10, 11, 12]);
  t.equal(again.stats().ackedSeq, 5);
  const r = await again.append({ type: 'e', body: {} });
  t.equal(r.status === 'written' ? r.record.seq : 0, 13);
  t.equal(again.recovery.tornTailBytes, 0);
  t.same(again.recovery.damaged, []);
  await again.close();
});

t.test('a second open of the same journal fails with TERM_ERR_OUTBOX_LOCKED', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 1);
  await t.rejects(openFileOutbox({ dir }), { code: 'TERM_ERR_OUTBOX_LOCKED' });
  await ob.close();
  const again = await openFileOutbox({ dir });
  await again.close();
});

t.test('compaction: segments rotate, fully acked ones are deleted, sequence continues after everything is deleted', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 40, 300);
  const before = segs(dir);
  t.ok(before.length >= 5, `rotated into ${before.length} segments`);
  await ob.ack(20);
  const after = segs(dir);
  t.ok(after.length < before.length);
  const firstLeft = Number(after[0]!.slice(4, 20));
  t.ok(firstLeft <= 21, 'the segment holding seq 21 is kept');
  t.same((await ob.pending(1)).map((r) => r.seq), [21]);
  await ob.ack(40);
  const lastSeg = segs(dir);
  t.equal(lastSeg.length, 1, 'everything acknowledged: only the active segment is left');
  t.same((await ob.pending(10)).map((r) => r.seq), [], 'nothing pending');
  const kept = (await ob.retained()).map((r) => r.seq);
  t.ok(kept.length > 0 && kept[kept.length - 1] === 40, 'the active segment still holds the last records, acknowledged');
  t.ok(kept.every((q, i) => i === 0 || q === kept[i - 1]! + 1), 'in order');
  t.same(JSON.parse(readFileSync(join(dir, 'ack.json'), 'utf8')), { v: 1, upToSeq: 40 });
  await ob.close();
  const again = await openFileOutbox({ dir });
  t.same((await again.retained()).map((x) => x.seq), kept, 'the acknowledged last segment survives reopening');
  const r = await again.append({ type: 'e', body: {} });
  t.equal(r.status === 'written' ? r.record.seq : 0, 41);
  t.same((await again.pending(10)).map((x) => x.seq), [41]);
  await again.close();
});

t.test('a crash between writing ack.json and deleting segments is finished on open', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 10, 200);
  await ob.close();
  writeFileSync(join(dir, 'ack.json'), JSON.stringify({ v: 1, upToSeq: 10 }));
  const again = await openFileOutbox({ dir });
  t.equal(again.stats().pending, 0);
  t.ok(segs(dir).length <= 1);
  await again.close();
});

t.test('an unreadable ack.json falls back to resending (the server dedups) and is reported', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 4);
  await ob.ack(2);
  await ob.close();
  writeFileSync(join(dir, 'ack.json'), '{garbage');
  const again = await openFileOutbox({ dir });
  t.equal(again.recovery.ackFileValid, false);
  t.same((await again.pending(10)).map((r) => r.seq), [1, 2, 3, 4]);
  await again.close();
});

// [ONECARD outbox] torn tail: a power cut during the last append can leave any prefix of the
// frame, or a full-length frame with wrong bytes. Recovery must keep every earlier record and
// drop only the torn one, at every byte offset.
t.test('torn tail: truncation at every byte offset of the last record', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 5);
  await ob.close();
  const [seg] = segs(dir);
  const full = readFileSync(join(dir, seg!));
  const single = readFileSync(join(dir, seg!)).length;
  // Length of the last frame: write a 6th record into a scratch copy to measure.
  const scratch = freshDir();
  const ob4 = await fill(scratch, 4);
  await ob4.close();
  const lastStart = readFileSync(join(scratch, segs(scratch)[0]!)).length;
  t.ok(lastStart < single);
  let checked = 0;
  for (let cut = lastStart; cut < full.length; cut++) {
    writeFileSync(join(dir, seg!), full.subarray(0, cut));
    const again = await openFileOutbox({ dir });
    const seqs = (await again.pending(10)).map((r) => r.seq);
    if (seqs.join() !== '1,2,3,4') t.fail(`cut at ${cut}: ${seqs.join()}`);
    if (again.recovery.tornTailBytes !== cut - lastStart) t.fail(`cut at ${cut}: tornTailBytes ${again.recovery.tornTailBytes}`);
    // The file is cut back, so the next append follows valid frames and survives another reopen.
    const r = await again.append({ type: 'e', body: { cut } });
    if (r.status !== 'written' || r.record.seq !== 5) t.fail('reused seq 5');
    await again.close();
    const third = await openFileOutbox({ dir });
    if ((await third.pending(10)).map((x) => x.seq).join() !== '1,2,3,4,5') t.fail(`cut at ${cut}: after re-append`);
    await third.close();
    checked++;
  }
  t.equal(checked, full.length - lastStart);
  writeFileSync(join(dir, seg!), full);
  const whole = await openFileOutbox({ dir });
  t.same((await whole.pending(10)).map((r) => r.seq), [1, 2, 3, 4, 5], 'the untouched file keeps all five');
  await whole.close();
});

t.test('torn tail: a corrupted byte at every offset of the last record drops only that record', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 5);
  await ob.close();
  const seg = segs(dir)[0]!;
  const full = readFileSync(join(dir, seg));
  const scratch = freshDir();
  await (await fill(scratch, 4)).close();
  const lastStart = readFileSync(join(scratch, segs(scratch)[0]!)).length;
  for (let at = lastStart; at < full.length; at++) {
    for (const flip of [0x01, 0xff]) {
      const bad = Buffer.from(full);
      bad[at] = bad[at]! ^ flip;
      writeFileSync(join(dir, seg), bad);
      const again = await openFileOutbox({ dir });
      const seqs = (await again.pending(10)).map((r) => r.seq).join();
      if (seqs !== '1,2,3,4') t.fail(`flip ${flip} at ${at}: ${seqs}`);
      await again.close();
    }
  }
  t.pass(`checked ${full.length - lastStart} offsets`);
});

t.test('damage in the middle is skipped and reported; later records are kept (never cut)', async (t) => {
  const dir = freshDir();
  const ob = await fill(dir, 10);
  await ob.close();
  const seg = segs(dir)[0]!;
  const full = readFileSync(join(dir, seg));
  const bad = Buffer.from(full);
  bad[Math.floor(full.length / 2)]! ^= 0x55;
  writeFileSync(join(dir, seg), bad);
  const again = await openFileOutbox({ dir });
  const seqs = (await again.pending(20)).map((r) => r.seq);
  t.equal(seqs.length, 9);
  t.ok(seqs.includes(10) && seqs.includes(1));
  t.equal(again.recovery.damaged.length, 1);
  t.equal(again.recovery.tornTailBytes, 0);
  t.equal(readFileSync(join(dir, seg)).length, full.length, 'not truncated');
  await again.close();
});

t.test('random corruption: recovery never throws, keeps every untouched record, and stays ordered', async (t) => {
  const dir0 = freshDir();
  const base = await fill(dir0, 30, 800);
  await base.close();
  const files = segs(dir0).map((f) => ({ f, bytes: readFileSync(join(dir0, f)) }));
  // Map each record to its (segment, start, end) by scanning the clean files.
  const { scanFrames } = await import('../../src/agent/outbox-frame.ts');
  const spans = files.flatMap(({ f, bytes }) => scanFrames(bytes, 1 << 20).records.map((r) => ({ f, seq: r.record.seq, start: r.offset, end: r.offset + r.size })));
  t.equal(spans.length, 30);
  let seed = 12345;
  const rnd = (m: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % m; };
  const dir = freshDir();
  for (let iter = 0; iter < 300; iter++) {
    rmSync(dir, { recursive: true, force: true });
    const touched = new Map<string, { lo: number; cutAt: number }[]>();
    const mode = rnd(4);
    await import('node:fs').then((fs) => fs.mkdirSync(dir, { recursive: true, mode: 0o700 }));
    for (const { f, bytes } of files) {
      let b = Buffer.from(bytes);
      const marks: { lo: number; cutAt: number }[] = [];
      if (rnd(2) === 0) {
        const flips = 1 + rnd(5);
        for (let i = 0; i < flips; i++) { const at = rnd(b.length); b[at] = rnd(256); marks.push({ lo: at, cutAt: -1 }); }
      }
      if (mode === 1 && rnd(3) === 0) { const cut = rnd(b.length); b = b.subarray(0, cut); marks.push({ lo: cut, cutAt: cut }); }
      if (mode === 2 && rnd(3) === 0) { b = Buffer.concat([b, Buffer.from(Array.from({ length: rnd(200) }, () => rnd(256)))]); }
      if (mode === 3 && rnd(4) === 0) { b = Buffer.concat([b, Buffer.from([0x4f, 0x42, 0, 0, 0, 50])]); }
      writeFileSync(join(dir, f), b);
      touched.set(f, marks);
    }
    if (rnd(5) === 0) writeFileSync(join(dir, 'ack.json'), Buffer.from([rnd(256), rnd(256)]));
    let ob: FileOutbox;
    try {
      ob = await openFileOutbox({ dir });
    } catch (e) {
      t.fail(`iteration ${iter}: open threw ${(e as Error).message}`);
      continue;
    }
    try {
      const recs = await ob.pending(1000);
      const seqs = recs.map((r) => r.seq);
      for (let i = 1; i < seqs.length; i++) if (seqs[i]! <= seqs[i - 1]!) t.fail(`iteration ${iter}: order`);
      for (const s of spans) {
        const marks = touched.get(s.f)!;
        const hit = marks.some((m) => (m.cutAt >= 0 ? m.cutAt < s.end : m.lo >= s.start && m.lo < s.end));
        if (!hit && !seqs.includes(s.seq)) t.fail(`iteration ${iter}: untouched record ${s.seq} lost`);
      }
      await ob.append({ type: 'e', body: {} });
      await ob.ack(ob.stats().lastSeq);
    } catch (e) {
      if (!(e instanceof TerminalError)) t.fail(`iteration ${iter}: uncoded ${(e as Error).message}`);
    }
    await ob.close();
  }
  t.pass('300 corrupted journals recovered');
});
