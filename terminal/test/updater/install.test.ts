/**
 * The A/B layout: switch, commit, health-check rollback, crash-loop rollback by the pre-start
 * step (TypeScript and the systemd shell script give the same result), manual rollback, the
 * version rules, and `onecard-terminal update`.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { commit, confirmPending, currentVersion, initLayout, pointAt, preStart, previousVersion, readPending, readResult, requestRollback, switchTo, prepareUpdate, type JobReporter } from '../../src/updater/index.ts';
import { updateCommand } from '../../src/updater/cli.ts';
import type { JobProgressMessage } from '@onecard/protocol/fleet';

const SCRIPT = resolve(import.meta.dirname, '../../../deploy/systemd/onecard-terminal-rollback');
const base = mkdtempSync(join(tmpdir(), 'onecard-ab-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

async function layout(): Promise<string> {
  const root = join(base, `r${n++}`);
  await initLayout(root);
  for (const v of ['1.0.0', '1.1.0']) { mkdirSync(join(root, 'releases', v)); writeFileSync(join(root, 'releases', v, 'main.js'), v); }
  await pointAt(root, 'current', '1.0.0');
  return root;
}

const reports = (): { report: JobReporter; seen: JobProgressMessage[] } => {
  const seen: JobProgressMessage[] = [];
  return { seen, report: async (_id, p) => { seen.push(p); } };
};

t.test('switch then commit', async (t) => {
  const root = await layout();
  await switchTo(root, '1.1.0', 'ro_1', 1);
  t.equal(await currentVersion(root), '1.1.0');
  t.equal(await previousVersion(root), '1.0.0');
  t.equal(readlinkSync(join(root, 'current')), 'releases/1.1.0', 'relative link');
  await t.rejects(switchTo(root, '1.0.0', 'ro_2', 2), { code: 'TERM_ERR_UPDATE_STATE' }, 'one pending update at a time');
  const { report, seen } = reports();
  t.equal(await confirmPending({ root, report, healthCheck: async () => {}, healthDeadlineMs: 1000 }), 'succeeded');
  t.same(seen.map((s) => `${s.status}/${s.step}`), ['in-progress/health-check', 'succeeded/committed']);
  t.equal(await readPending(root), undefined);
  t.equal((await readResult(root))?.status, 'succeeded');
  t.ok(existsSync(join(root, 'releases', '1.0.0')), 'previous kept');
});

t.test('failed health check rolls back by itself', async (t) => {
  const root = await layout();
  await switchTo(root, '1.1.0', 'ro_1', 1);
  const { report, seen } = reports();
  t.equal(await confirmPending({ root, report, healthCheck: async () => { throw new Error('reader did not open'); }, healthDeadlineMs: 1000 }), 'rolled-back');
  t.equal(await currentVersion(root), '1.0.0');
  t.notOk(existsSync(join(root, 'releases', '1.1.0')), 'failed release removed');
  t.match(seen.at(-1), { status: 'failed', step: 'rolled-back', error: { code: 'TERM_ERR_UPDATE_HEALTH' } });
  t.equal((await readResult(root))?.status, 'rolled-back');
});

t.test('a health check that never answers is cut by the deadline', async (t) => {
  const root = await layout();
  await switchTo(root, '1.1.0', 'ro_1', 1);
  const { report, seen } = reports();
  let aborted = false;
  const r = await confirmPending({ root, report, healthDeadlineMs: 50, healthCheck: (_rel, signal) => new Promise((_res, rej) => { signal.addEventListener('abort', () => { aborted = true; rej(new Error('aborted')); }); }) });
  t.equal(r, 'rolled-back');
  t.ok(aborted, 'the check was told to stop');
  t.match(seen.at(-1)?.error?.message, /no healthy state within 50 ms/);
});

async function crashLoop(t: Test, pre: (root: string) => Promise<string>): Promise<void> {
  const root = await layout();
  await switchTo(root, '1.1.0', 'ro_9', 1);
  const outcomes: string[] = [];
  for (let i = 0; i < 4; i++) outcomes.push(await pre(root)); // the new release crashes every time
  t.same(outcomes, ['counted', 'counted', 'counted', 'rolled-back']);
  t.equal(await currentVersion(root), '1.0.0', 'back on the previous release');
  t.equal(await readPending(root), undefined);
  const res = await readResult(root);
  t.equal(res?.status, 'rolled-back');
  t.equal(res?.pending.jobId, 'ro_9', 'the outcome names the job for the report');
  t.equal(res?.pending.to, '1.1.0');
  t.equal(await pre(root), 'none', 'nothing pending any more');
}

t.test('crash loop: preStart rolls back after N starts', (t) => crashLoop(t, (root) => preStart(root, 3)));
t.test('crash loop: the systemd script does the same', (t) => crashLoop(t, async (root) => {
  const before = existsSync(join(root, 'pending.json'));
  execFileSync('sh', [SCRIPT, root, '3'], { stdio: 'pipe' });
  if (!before) return 'none';
  return existsSync(join(root, 'pending.json')) ? 'counted' : 'rolled-back';
}));

t.test('manual rollback request (CLI + pre-start script)', async (t) => {
  const root = await layout();
  await switchTo(root, '1.1.0', null, 1);
  await commit(root, (await readPending(root))!);
  await requestRollback(root);
  execFileSync('sh', [SCRIPT, root, '3'], { stdio: 'pipe' });
  t.equal(await currentVersion(root), '1.0.0');
  t.notOk(existsSync(join(root, 'rollback-requested')));
});

t.test('version rules: no downgrade, no same version, respect the minimum previous version', async (t) => {
  const root = await layout();
  const job = (version: string, minPreviousVersion = '1.0.0', force = false) => ({ jobId: 'ro_x', force, package: { id: 'p', name: 'onecard-terminal', version, minPreviousVersion, size: 1, sha256: 'a'.repeat(64), url: '/a', signatureUrl: '/s' } });
  const deps = (seen: JobProgressMessage[]) => ({ root, pinnedKeys: [], baseUrl: 'http://127.0.0.1:9', auth: { terminalId: 't', password: 'p' }, report: async (_: string, p: JobProgressMessage) => { seen.push(p); }, healthCheck: async () => {}, healthDeadlineMs: 10, start: async () => {} });
  for (const [v, min] of [['0.9.0', '0.1.0'], ['1.0.0', '0.1.0'], ['2.0.0', '1.5.0']] as const) {
    const seen: JobProgressMessage[] = [];
    await t.rejects(prepareUpdate(job(v, min), deps(seen)), { code: 'TERM_ERR_UPDATE_VERSION' }, `${v} (min ${min}) from 1.0.0`);
    t.match(seen.at(-1), { status: 'rejected', error: { code: 'TERM_ERR_UPDATE_VERSION' } });
  }
  t.equal(await currentVersion(root), '1.0.0', 'nothing changed');
});

t.test('onecard-terminal update CLI', async (t) => {
  const root = await layout();
  const out: string[] = [];
  const err: string[] = [];
  const io = { readStdin: async () => '', stdout: (s: string) => { out.push(s); }, stderr: (s: string) => { err.push(s); } };
  t.equal(await updateCommand.run(['--help'], io), 0);
  t.match(out.join(''), /pre-start/);
  t.equal(await updateCommand.run([], io), 2);
  t.equal(await updateCommand.run(['frobnicate', '--root', root], io), 2);
  out.length = 0;
  t.equal(await updateCommand.run(['status', '--root', root], io), 0);
  t.match(JSON.parse(out.join('')), { current: '1.0.0', previous: null, pending: null });
  t.equal(await updateCommand.run(['apply', join(base, 'missing.ocpkg'), '--pub', 'ed25519:x', '--root', root], io), 1, 'missing file is a failure');
  await switchTo(root, '1.1.0', null, 1);
  await commit(root, (await readPending(root))!);
  t.equal(await updateCommand.run(['rollback', '--root', root], io), 0);
  t.ok(existsSync(join(root, 'rollback-requested')));
  out.length = 0;
  t.equal(await updateCommand.run(['pre-start', '--root', root], io), 0);
  t.equal(out.join('').trim(), 'rolled-back', 'pre-start honours the request');
  t.equal(await currentVersion(root), '1.0.0');
  t.equal(await updateCommand.run(['rollback', '--root', root], io), 0);
  t.equal(await updateCommand.run(['pre-start', '--root', root], io), 1, 'no previous release: reported as a failure');
  t.match(err.join(''), /TERM_ERR_UPDATE_STATE/);
  t.equal(readFileSync(join(root, 'releases', '1.0.0', 'main.js'), 'utf8'), '1.0.0');
});
