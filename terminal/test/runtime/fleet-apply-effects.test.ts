// A fleet configuration push changes one field of each class on a running terminal (started
// through the composition root, real server over HTTP + MQTT, simulated serial readers on
// pseudo-terminals), and the test checks that each effect really happened and that the server
// shows what the terminal reported:
// - live: `api.hisCompat` off → iReadCardBas reads refused; `hotlist.maxStaleSeconds` → purchases
//   refused once the last hotlist confirmation is older than the limit; agent batch size and
//   timers re-armed without a restart;
// - session-end: `readers` → the reader is re-opened on another pty (another card is read);
// - restart: `upload.maxOutboxRecords` → the runtime restarts itself and its outbox is full at the
//   new limit; the restart effect is reported pending first, then with its time.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_FIELD_APPLY, EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { enrol } from '../../src/agent/enrol.ts';
import { startTerminal } from '../../src/runtime/terminal.ts';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { startHarness } from '../agent/server-harness.ts';

const simBin = fileURLToPath(new URL('../../../simulators/bin/onecard-sim.js', import.meta.url));
const cards = fileURLToPath(new URL('../../../simulators/cards/', import.meta.url));
const TOKEN = 'fleet-apply-effects-test-token-5678';
const H = { 'x-onecard-token': TOKEN, 'content-type': 'application/json' };

async function until(what: string, fn: () => boolean | Promise<boolean>, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function simulator(t: { teardown(fn: () => unknown): void }, path: string, card: string): Promise<{ proc: ChildProcess; device: string }> {
  const proc = spawn(process.execPath, [simBin, 'reader', '--link', 'serial', '--pty', path, '--card', join(cards, card), '--psam', join(cards, 'psam.json'), '--model', 'gemcore-sim-pro2', '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => { proc.kill('SIGTERM'); });
  const device = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += String(d);
      const m = /"event":"ready".*?"device":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (c) => reject(new Error(`simulator exited ${c}`)));
  });
  return { proc, device };
}

interface Reported { version: number; status: string; changes?: { field: string; effect: string; at?: number }[] }

t.test('one field of each class: live, session-end and restart take effect and are reported per field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-apply-'));
  const h = await startHarness();
  t.teardown(async () => { await h.close(); rmSync(dir, { recursive: true, force: true }); });
  const a = await simulator(t, join(dir, 'reader-a'), 'ssc-2.00.json');
  const b = await simulator(t, join(dir, 'reader-b'), 'ssc-3.00-long-name.json');
  const dataDir = join(dir, 'data');
  await enrol({ serverUrl: h.httpUrl, token: await h.enrolmentToken('gates'), dataDir, kind: 'gate' });
  const terminalId = (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { terminalId: string }).terminalId;
  let offsetMs = 0;
  const term = await startTerminal({
    dataDir,
    // The local file pins nothing but the API: readers come from the fleet.
    configJson: { api: { port: 0, token: TOKEN }, log: { level: 'info' } },
    deps: {
      logger: createLogger({ level: 'info', destination: createMemoryDestination() }),
      clock: { now: () => Date.now() + offsetMs },
      fleetAgent: { flushIntervalMs: 50, policy: { backoffBaseMs: 50, backoffMaxMs: 200 } },
    },
  });
  t.teardown(() => term.close());
  await until('online', () => term.runtime.agent?.state.kind === 'online');
  const reported = async (): Promise<Reported | null> => ((await h.admin('GET', `/api/v1/terminals/${terminalId}/config`)).body as { reported: Reported | null }).reported;
  const read = async (format?: 'ireadcardbas'): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${term.url}/v1/card/read`, { method: 'POST', headers: H, body: JSON.stringify(format === undefined ? {} : { format }) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const errorCode = (r: { body: Record<string, unknown> }): string | undefined => (r.body['error'] as { code?: string } | undefined)?.code;

  // v1: the base document (restart-class values equal to what runs: no restart needed).
  const reader = (device: string) => ({ id: 'front', link: 'serial' as const, path: device, model: 'gemcore-sim-pro2' as const, psamSlot: 1, role: 'both' as const });
  const doc1: TerminalConfigDocument = {
    ...EXAMPLE_TERMINAL_CONFIG, name: 'gate v1', readers: [reader(a.device)],
    services: { identity: true, pin: true, ecardQr: true, transit: true },
    api: { allowedOrigins: [], hisCompat: true },
    upload: { ...EXAMPLE_TERMINAL_CONFIG.upload, maxOutboxRecords: 100_000 },
  };
  const c1 = await h.admin('POST', '/api/v1/configs', { id: 'gate', name: 'gate', document: doc1 });
  t.equal(c1.status, 201);
  const v1 = (c1.body as { version: number }).version;
  t.equal((await h.admin('PUT', `/api/v1/terminals/${terminalId}/config`, { configId: 'gate' })).status, 200);
  await until('v1 reported', async () => (await reported())?.version === v1);
  const r1 = (await reported())!;
  t.equal(r1.status, 'applied');
  t.equal(r1.changes?.length, Object.keys(CONFIG_FIELD_APPLY).length, 'a first document: every field listed');
  t.ok(r1.changes?.every((c) => c.at !== undefined), 'nothing pending: the restart-class values are the running ones');
  const rt1 = term.runtime;
  await until('reader A ok', () => term.runtime.manager.status()[0]?.status === 'ok');
  const cardA = JSON.parse(readFileSync(join(cards, 'ssc-2.00.json'), 'utf8')) as Record<string, string>;
  t.equal((await read()).body['cardNumber'], cardA['cardNumber']);
  t.equal((await read('ireadcardbas')).status, 200, 'iReadCardBas offered while hisCompat is on');

  // v2: one field of each class (and the staleness limit, another live field).
  const doc2: TerminalConfigDocument = {
    ...doc1, name: 'gate v2', readers: [reader(b.device)],
    api: { ...doc1.api, hisCompat: false },
    hotlist: { ...doc1.hotlist, maxStaleSeconds: 60 },
    upload: { ...doc1.upload, maxOutboxRecords: 1000 },
  };
  const c2 = await h.admin('PUT', '/api/v1/configs/gate', { document: doc2 });
  t.equal(c2.status, 200);
  const v2 = (c2.body as { version: number }).version;
  let sawPending = false;
  await until('v2 reported with the restart done', async () => {
    const r = await reported();
    if (r?.version !== v2) return false;
    const restart = r.changes?.find((c) => c.field === '/upload/maxOutboxRecords');
    if (restart !== undefined && restart.at === undefined) sawPending = true;
    return restart?.at !== undefined;
  });
  const r2 = (await reported())!;
  t.same(r2.changes?.map((c) => [c.field, c.effect]), [
    ['/name', 'live'],
    ['/readers', 'session-end'],
    ['/api/hisCompat', 'live'],
    ['/hotlist/maxStaleSeconds', 'live'],
    ['/upload/maxOutboxRecords', 'restart'],
  ], 'per field, what took effect');
  t.ok(r2.changes?.every((c) => typeof c.at === 'number'), 'every effect done, with its time');
  t.comment(sawPending ? 'the restart was first reported pending' : 'the restart completed before the first poll');
  await term.restarted();
  t.not(term.runtime, rt1, 'the runtime restarted itself');
  await until('online after the restart', () => term.runtime.agent?.state.kind === 'online');
  await until('reader B ok', () => term.runtime.manager.status()[0]?.status === 'ok');

  // session-end: the other reader (another card)
  const cardB = JSON.parse(readFileSync(join(cards, 'ssc-3.00-long-name.json'), 'utf8')) as Record<string, string>;
  const rb = await read();
  t.equal(rb.status, 200, JSON.stringify(rb.body));
  t.equal(rb.body['cardNumber'], cardB['cardNumber'], 'the reader moved to the new path');
  // live: iReadCardBas switched off
  t.equal(errorCode(await read('ireadcardbas')), 'TERM_ERR_SERVICE_DISABLED', 'hisCompat off: iReadCardBas refused');
  // live: hotlist staleness
  await until('hotlist confirmed', async () => {
    const res = await fetch(`${term.url}/v1/card/purchase`, { method: 'POST', headers: H, body: JSON.stringify({ amount: 1 }) });
    return ((await res.json()) as { error?: { code?: string } }).error?.code !== 'TERM_ERR_HOTLIST_STALE';
  });
  offsetMs = 120_000;
  const stale = await fetch(`${term.url}/v1/card/purchase`, { method: 'POST', headers: H, body: JSON.stringify({ amount: 1 }) });
  t.equal(((await stale.json()) as { error: { code: string } }).error.code, 'TERM_ERR_HOTLIST_STALE', 'two minutes after the last confirmation, limit 60 s: refused');
  offsetMs = 0;
  // live: agent batch size and timers re-armed on the same runtime instance (no restart)
  const rt2 = term.runtime;
  const doc3: TerminalConfigDocument = { ...doc2, name: 'gate v3', telemetry: { intervalSeconds: 5 }, upload: { ...doc2.upload, batchSize: 50 }, hotlist: { ...doc2.hotlist, refreshIntervalSeconds: 60 } };
  const v3 = ((await h.admin('PUT', '/api/v1/configs/gate', { document: doc3 })).body as { version: number }).version;
  await until('v3 reported', async () => (await reported())?.version === v3);
  t.same((await reported())!.changes?.map((c) => [c.field, c.effect]), [['/name', 'live'], ['/hotlist/refreshIntervalSeconds', 'live'], ['/upload/batchSize', 'live'], ['/telemetry/intervalSeconds', 'live']]);
  t.equal(term.runtime, rt2, 'live fields: no restart');
  t.same(rt2.agent!.tuning, { batchSize: 50, flushIntervalMs: 50, telemetryIntervalMs: 5000, hotlistRefreshMs: 60_000 }, 'retuned; the flush period the caller fixed stays');
  // restart: the new outbox limit (agent stopped so nothing is acknowledged meanwhile)
  const rt = term.runtime;
  await rt.agent!.stop();
  const outbox = rt.outbox!;
  let refused: unknown;
  for (let i = 0; i < 1100 && refused === undefined; i += 50) {
    const batch = await Promise.allSettled(Array.from({ length: 50 }, () => outbox.append({ type: 'test.fill', body: { i } })));
    refused = batch.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
  }
  t.match(refused, { code: 'TERM_ERR_OUTBOX_FULL' }, 'appends refused at the limit');
  t.equal(outbox.stats().pending, 1000, 'the outbox holds exactly maxOutboxRecords');
});
