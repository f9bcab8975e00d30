// deploy/systemd/onecard-terminal.service starts exactly a command `onecard-terminal run` accepts,
// from the A/B release layout the updater writes: the unit's Environment=, ExecStartPre= and
// ExecStart= are read out of the file, its paths moved into a temp dir, and run as systemd would
// (pre-start rollback script, then the terminal from `current`). The terminal enrolled with the CLI
// comes online: the local API answers (with the token the terminal created in its data dir) and
// the fleet server sees it connected with the release's version and its name. SIGTERM stops it
// with status 0. Where `systemd-analyze` exists, the unit (relocated to real paths) passes
// `systemd-analyze verify`.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Supervisor, UNIT_FILE, installRelease, readUnit, sleep, startFleetServer, terminalCli, unitFor, until } from './box.ts';

const which = (cmd: string): string | undefined => ['/usr/bin', '/bin', '/usr/local/bin'].map((d) => join(d, cmd)).find((p) => existsSync(p));

t.test('the unit runs a command `run` accepts', async (t) => {
  const u = readUnit(readFileSync(UNIT_FILE, 'utf8'), {});
  t.match(u.start.join(' '), /\/current\/terminal\/bin\/onecard-terminal\.js run --data-dir \/var\/lib\/onecard --root \/opt\/onecard$/, 'ExecStart: run --data-dir … --root … from the current release');
  t.same(u.pre, [['/usr/local/lib/onecard/onecard-terminal-rollback', '/opt/onecard', '3']], 'pre-start rollback with the unit environment');
  const check = await terminalCli(['run', ...u.start.slice(u.start.indexOf('run') + 1), '--check']);
  t.equal(check.code, 1, 'run parses the arguments (and then finds no enrolment in /var/lib/onecard)');
  t.match(check.stderr, /TERM_ERR_IDENTITY_MISSING/);
  t.notMatch(check.stderr, /unknown option/);
});

const analyze = which('systemd-analyze');
t.test('systemd-analyze verify', { skip: analyze === undefined ? 'systemd-analyze is not installed' : false }, async (t) => {
  if (analyze === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'unit-verify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'opt');
  installRelease(root, '1.0.0');
  const lib = join(dir, 'lib');
  unitFor({ root, dataDir: join(dir, 'data'), libDir: lib });
  const text = readFileSync(UNIT_FILE, 'utf8').split('/opt/onecard').join(root).split('/usr/local/lib/onecard').join(lib).split('/var/lib/onecard').join(join(dir, 'data'));
  const unit = join(dir, 'onecard-terminal.service');
  writeFileSync(unit, text);
  try {
    const r = await promisify(execFile)(analyze, ['verify', unit], { encoding: 'utf8' });
    t.notMatch(`${r.stdout}${r.stderr}`, /onecard-terminal\.service:\d+:/, 'no complaint about a line of the unit');
  } catch (e) {
    const x = e as { stderr?: string; stdout?: string; code?: number };
    const out = `${x.stdout ?? ''}${x.stderr ?? ''}`;
    // Without a running systemd (containers) verify cannot load units it depends on; only the unit's own lines count here.
    t.notMatch(out, /onecard-terminal\.service:\d+:|is not executable|Unknown key|Invalid/, `systemd-analyze verify: ${out.trim()}`);
  }
});

t.test('the unit, run as systemd would, brings an enrolled terminal online', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unit-run-'));
  const server = await startFleetServer({ dir });
  t.teardown(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  const paths = { root: join(dir, 'opt', 'onecard'), dataDir: join(dir, 'var', 'onecard'), libDir: join(dir, 'lib') };
  installRelease(paths.root, '1.0.0');

  const enrolled = await terminalCli(['enroll', '--server', server.httpUrl, '--token', await server.enrolmentToken('halls'), '--data-dir', paths.dataDir, '--name', 'hall-kiosk', '--kind', 'kiosk']);
  t.equal(enrolled.code, 0, enrolled.stderr);
  const id = /enrolled: terminal (T[0-9a-zA-Z_-]+) \(hall-kiosk\)/.exec(enrolled.stdout)?.[1];
  t.ok(id, 'enrol prints the id and the name');
  t.match(enrolled.stdout, `onecard-terminal run --data-dir ${paths.dataDir}`, 'enrol prints the next command');
  // What the fleet cannot know: here only a free API port (a box keeps the default 8930).
  writeFileSync(join(paths.dataDir, 'terminal.json'), JSON.stringify({ api: { port: 0 }, log: { level: 'warn' } }));

  const sup = new Supervisor(unitFor(paths), false);
  const run = await sup.start();
  t.teardown(() => sup.stop());
  const url = await run.url;
  t.match(run.stderr(), `terminal ${id} (hall-kiosk) 1.0.0`, 'start line names the terminal and the release');
  t.equal((await fetch(`${url}/health`)).status, 200, 'local API answers');
  const token = readFileSync(join(paths.dataDir, 'api-token'), 'utf8').trim();
  t.equal((await fetch(`${url}/v1/readers`)).status, 401, 'no credential, no answer');
  const readers = await fetch(`${url}/v1/readers`, { headers: { 'x-onecard-token': token } });
  t.equal(readers.status, 200, 'the token the terminal created in its data dir works');

  const seen = await until('terminal online at the server', async () => {
    const r = await server.call('GET', `/api/v1/terminals/${id}`);
    return r.body?.online === true && r.body?.reported?.versions?.software === '1.0.0' ? r.body : undefined;
  });
  t.equal(seen.name, 'hall-kiosk', 'the server shows the name given at enrolment');

  // Ctrl-C to the process group, then the supervisor's SIGTERM while it is still closing: the
  // second signal must not kill it half-way through closing (status 0, not a signal death).
  run.proc.kill('SIGINT');
  await sleep(20);
  await sup.stop();
  t.equal(await run.exited, 0, 'SIGINT then SIGTERM during close: it finishes closing and exits with status 0');
});
