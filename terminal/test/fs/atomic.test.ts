/**
 * The terminal's one durable-replace helper (fs/atomic.ts): content and mode of the result
 * whatever the umask, an existing file replaced whole, and no temporary file left behind when the
 * replace fails; crash leftovers are recognised and removed without touching other files.
 */
import t from 'tap';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAtomicTempFor, removeAtomicTemps, writeFileAtomic } from '../../src/fs/atomic.ts';

const dir = await mkdtemp(join(tmpdir(), 'onecard-atomic-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('writes the content with the mode asked for, whatever the umask', async (t) => {
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(join(dir, 'pending.json'), '{"v":1}\n', 0o644);
  } finally {
    process.umask(old);
  }
  t.equal(await readFile(join(dir, 'pending.json'), 'utf8'), '{"v":1}\n');
  t.equal((await stat(join(dir, 'pending.json'))).mode & 0o777, 0o644, '0644 despite umask 077');
  await writeFileAtomic(join(dir, 'secret.bin'), new Uint8Array([1, 2, 3]));
  t.same(new Uint8Array(await readFile(join(dir, 'secret.bin'))), new Uint8Array([1, 2, 3]));
  t.equal((await stat(join(dir, 'secret.bin'))).mode & 0o777, 0o600, 'owner-only by default');
});

t.test('replaces an existing file whole and leaves only the target', async (t) => {
  const p = join(dir, 'r', 'state.json');
  await mkdir(join(dir, 'r'));
  await writeFile(p, 'x'.repeat(10_000), { mode: 0o666 });
  await writeFileAtomic(p, 'short');
  t.equal(await readFile(p, 'utf8'), 'short');
  t.equal((await stat(p)).mode & 0o777, 0o600, 'mode of the new file, not the old one');
  t.same(await readdir(join(dir, 'r')), ['state.json'], 'no temporary file remains');
});

t.test('a failed replace leaves no temporary file and the target as it was', async (t) => {
  const d = join(dir, 'fail');
  await mkdir(join(d, 'target', 'inside'), { recursive: true });
  await t.rejects(writeFileAtomic(join(d, 'target'), 'data'), { code: /EISDIR|ENOTEMPTY|EEXIST/ }, 'rename over a directory fails');
  t.same(await readdir(d), ['target'], 'temporary file removed');
  t.same(await readdir(join(d, 'target')), ['inside'], 'target untouched');
  await t.rejects(writeFileAtomic(join(dir, 'missing-dir', 'x.json'), 'data'), { code: 'ENOENT' }, 'missing directory');
});

t.test('crash leftovers are recognised and removed, nothing else', async (t) => {
  const d = join(dir, 'left');
  await mkdir(d);
  for (const n of ['ack.json', '.ack.json.0123abcd.tmp', '.ack.json.tmp', 'ack.json.0123abcd.tmp', '.other.json.0123abcd.tmp', '.ack.json.0123abcd.tmp.x']) await writeFile(join(d, n), '');
  t.ok(isAtomicTempFor('ack.json', '.ack.json.0123abcd.tmp'));
  t.notOk(isAtomicTempFor('ack.json', '.ack.json.0123abcX.tmp'));
  t.notOk(isAtomicTempFor('ack.json', '.other.json.0123abcd.tmp'));
  await removeAtomicTemps(join(d, 'ack.json'));
  t.same((await readdir(d)).sort(), ['.ack.json.0123abcd.tmp.x', '.ack.json.tmp', '.other.json.0123abcd.tmp', 'ack.json', 'ack.json.0123abcd.tmp'].sort());
});
