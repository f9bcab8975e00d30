/**
 * The bin's bundle cache is checked by modification time and size, not by hashing every input:
 * an unchanged input is never re-read (a manifest whose recorded SHA-1 is wrong but whose time and
 * size match is still used), an input whose time moved is hashed and the bundle kept when the
 * bytes are the same, and a differing size or digest rebuilds.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(pkg, 'bin/onecard-terminal.js');

interface Manifest { key: string; dir: string; inputs: Record<string, { mtimeMs: number; size: number; sha1: string }> }

t.test('bundle cache: reused by mtime + size, rebuilt when an input differs', async (t) => {
  // Must lie where the package's npm dependencies resolve from.
  mkdirSync(join(pkg, 'node_modules/.cache'), { recursive: true });
  const cache = mkdtempSync(join(pkg, 'node_modules/.cache/bin-cache-test-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const run = (): void => {
    const r = spawnSync(process.execPath, [bin, 'atr', '3B 80 80 01 01'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ONECARD_TERMINAL_CACHE: cache, ONECARD_TERMINAL_TSX: '' } });
    t.not(r.status, null, r.stderr);
  };
  const manifestPath = join(cache, 'current.json');
  const read = (): Manifest => JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;

  run();
  const first = read();
  const inputs = Object.entries(first.inputs);
  t.ok(inputs.length > 10, 'every bundled input is recorded');
  t.ok(inputs.every(([, r]) => typeof r.mtimeMs === 'number' && typeof r.size === 'number' && /^[0-9a-f]{40}$/.test(r.sha1)), 'with time, size and digest');

  // Same time and size, wrong digest: not hashed, so the bundle is reused.
  const [path] = inputs[0]!;
  writeFileSync(manifestPath, JSON.stringify({ ...first, inputs: { ...first.inputs, [path]: { ...first.inputs[path]!, sha1: '0'.repeat(40) } } }));
  run();
  t.equal(read().dir, first.dir, 'time and size match: reused without hashing');

  // Time moved, same bytes: hashed, digest matches, reused.
  writeFileSync(manifestPath, JSON.stringify({ ...first, inputs: { ...first.inputs, [path]: { ...first.inputs[path]!, mtimeMs: 1 } } }));
  run();
  t.equal(read().dir, first.dir, 'time moved but the bytes are the same: reused');

  // Time moved and the digest differs: rebuilt into a new directory.
  writeFileSync(manifestPath, JSON.stringify({ ...first, inputs: { ...first.inputs, [path]: { ...first.inputs[path]!, mtimeMs: 1, sha1: '0'.repeat(40) } } }));
  run();
  t.not(read().dir, first.dir, 'content changed: rebuilt');
});
