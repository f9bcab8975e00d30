/**
 * The subcommand table loads each command's module only when it runs: its help lines must match
 * the loaded commands, and the real bin runs from an esbuild bundle cached per source hash
 * (rebuilt when an input changes), with tsx as the fallback.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS, usage } from '../../src/cli/run.ts';

const bin = fileURLToPath(new URL('../../bin/onecard-terminal.js', import.meta.url));
const example = fileURLToPath(new URL('../../config.example.json', import.meta.url));
// Bundles import npm packages by name, so a cache must sit where node_modules resolve from.
const cacheParent = fileURLToPath(new URL('../../node_modules/.cache/', import.meta.url));
function tempCache(): string {
  mkdirSync(cacheParent, { recursive: true });
  return mkdtempSync(join(cacheParent, 'test-bin-'));
}

t.test('each lazy entry loads a command whose summary is the help line', async (t) => {
  const names = Object.keys(COMMANDS);
  t.ok(names.length >= 8);
  for (const name of names) {
    const cmd = await COMMANDS[name]!.load();
    t.equal(cmd.summary, COMMANDS[name]!.summary, name);
    t.equal(typeof cmd.run, 'function', name);
    t.match(usage(), cmd.summary, name);
  }
});

interface Manifest { key: string; dir: string; inputs: Record<string, string> }

t.test('the bin builds into its cache once, reuses it, and rebuilds when an input changes', async (t) => {
  const cache = tempCache();
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const env = { ...process.env, ONECARD_TERMINAL_CACHE: cache, ONECARD_TERMINAL_TSX: '' };
  const help = (): string => {
    const r = spawnSync(process.execPath, [bin, '--help'], { env, encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /Usage: onecard-terminal <command>/);
    return r.stdout;
  };
  const manifest = (): Manifest => JSON.parse(readFileSync(join(cache, 'current.json'), 'utf8')) as Manifest;
  help();
  const first = manifest();
  t.ok(readdirSync(join(cache, first.dir)).includes('main.js'));
  t.ok(Object.keys(first.inputs).some((p) => p.endsWith('src/cli/run.ts')), 'inputs recorded');
  t.notOk(Object.keys(first.inputs).some((p) => p.includes('node_modules')), 'npm packages stay external');
  help();
  t.equal(manifest().dir, first.dir, 'unchanged sources: bundle reused');
  // `run` pulls in the npm packages (fastify, pino, serialport): they resolve from the bundle.
  const check = spawnSync(process.execPath, [bin, 'run', '--check', '--config', example], { env, encoding: 'utf8', timeout: 60_000 });
  t.equal(check.status, 0, check.stderr);
  t.match(check.stdout, /valid \(1 reader/);
  t.equal(manifest().dir, first.dir, 'run --check used the same bundle');
  // A recorded hash that no longer matches its file stands for an edited source.
  const [path] = Object.keys(first.inputs);
  writeFileSync(join(cache, 'current.json'), JSON.stringify({ ...first, inputs: { ...first.inputs, [path!]: '0'.repeat(40) } }));
  help();
  t.not(manifest().dir, first.dir, 'changed input: rebuilt');
  // A corrupt manifest is rebuilt, not trusted.
  writeFileSync(join(cache, 'current.json'), '{not json');
  help();
  t.ok(readdirSync(join(cache, manifest().dir)).includes('main.js'));
});

t.test('ONECARD_TERMINAL_TSX=1 runs the sources through tsx without touching the cache', async (t) => {
  const cache = tempCache();
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [bin, 'atr', '--json', '-'], {
    env: { ...process.env, ONECARD_TERMINAL_CACHE: cache, ONECARD_TERMINAL_TSX: '1' }, input: '3B 80 01 00\n', encoding: 'utf8', timeout: 60_000,
  });
  t.equal(r.status, 1, r.stderr);
  t.match(JSON.parse(r.stdout) as unknown, { valid: false, findings: ['PROTO_ERR_ATR_TCK_BAD'] });
  t.same(readdirSync(cache), []);
});
