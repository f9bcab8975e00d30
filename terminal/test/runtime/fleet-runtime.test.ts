// The terminal runtime with a fleet section against the real fleet server (in-process, real HTTP
// and MQTT sockets; server code is imported only here, in tests) and simulated serial readers on
// pseudo-terminals: card reads journaled to the server, a config push that re-opens the reader on
// another pty, a rejected config keeping the last good one, and an admin loss report that makes
// the next read fail with TERM_ERR_CARD_HOTLISTED.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { enrol } from '../../src/agent/enrol.ts';
import { parseTerminalConfig, startRuntime, type Runtime } from '../../src/runtime/index.ts';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { startHarness } from '../agent/server-harness.ts';

const simBin = fileURLToPath(new URL('../../../simulators/bin/onecard-sim.js', import.meta.url));
const cards = fileURLToPath(new URL('../../../simulators/cards/', import.meta.url));
const TOKEN = 'fleet-runtime-test-token-1234';
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

async function read(rt: Runtime): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${rt.url}/v1/card/read`, { method: 'POST', headers: H, body: '{}' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

t.test('fleet runtime: events, config push re-opens the reader, loss report refuses the card', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-fleet-'));
  const h = await startHarness();
  t.teardown(async () => { await h.close(); rmSync(dir, { recursive: true, force: true }); });
  const a = await simulator(t, join(dir, 'reader-a'), 'ssc-2.00.json');
  const b = await simulator(t, join(dir, 'reader-b'), 'ssc-3.00-long-name.json');
  const dataDir = join(dir, 'data');
  await enrol({ serverUrl: h.httpUrl, token: await h.enrolmentToken('halls'), dataDir, kind: 'hall-kiosk' });
  const cfg = parseTerminalConfig({
    terminalId: 'kiosk-1',
    readers: [{ id: 'front', link: 'serial', path: a.device, model: 'gemcore-sim-pro2', psamSlot: 1 }],
    api: { port: 0, token: TOKEN },
    fleet: { dataDir },
    log: { level: 'info' },
  });
  const dest = createMemoryDestination();
  const start = () => startRuntime(cfg, { logger: createLogger({ level: 'info', destination: dest }), fleetAgent: { flushIntervalMs: 50, policy: { backoffBaseMs: 50, backoffMaxMs: 200 } } });
  let rt = await start();
  t.teardown(() => rt.close());
  const agent = rt.agent!;
  t.ok(agent !== undefined, 'the fleet agent runs');
  await until('online', () => agent.state.kind === 'online');
  await until('reader ok', () => rt.manager.status()[0]?.status === 'ok');

  // 1. a card read is journaled and reaches the server, personal data masked
  const cardA = JSON.parse(readFileSync(join(cards, 'ssc-2.00.json'), 'utf8')) as Record<string, string>;
  const r1 = await read(rt);
  t.equal(r1.status, 200, JSON.stringify(r1.body));
  t.equal(r1.body['cardNumber'], cardA['cardNumber']);
  const terminalId = (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { terminalId: string }).terminalId;
  let events: { type: string; body: Record<string, unknown> }[] = [];
  await until('card.read on the server', async () => {
    events = ((await h.admin('GET', `/api/v1/events?terminal=${terminalId}&limit=100`)).body as { events: typeof events }).events;
    return events.some((e) => e.type === 'card.read');
  });
  const ev = JSON.stringify(events);
  t.notMatch(ev, cardA['ssn']!, 'no SSN in event bodies');
  t.notMatch(ev, cardA['name']!, 'no name in event bodies');
  t.notMatch(ev, cardA['cardNumber']!, 'card number masked');

  // 2. config push: the reader moves to the other pty (another card), services switched
  const doc = {
    ...EXAMPLE_TERMINAL_CONFIG, name: 'hall v1',
    readers: [{ id: 'front', link: 'serial' as const, path: b.device, model: 'gemcore-sim-pro2' as const, psamSlot: 1, role: 'both' as const }],
    services: { ...EXAMPLE_TERMINAL_CONFIG.services, pin: false },
  };
  t.equal((await h.admin('POST', '/api/v1/configs', { id: 'hall', name: 'hall', document: doc })).status, 201);
  t.equal((await h.admin('PUT', '/api/v1/groups/halls/config', { configId: 'hall' })).status, 200);
  await until('config applied', () => agent.stats.configApplied === 1);
  t.equal(rt.settings().readers[0]?.path, b.device, 'reader re-opened on the new path');
  await until('new reader ok', () => rt.manager.status()[0]?.status === 'ok');
  const cardB = JSON.parse(readFileSync(join(cards, 'ssc-3.00-long-name.json'), 'utf8')) as Record<string, string>;
  const r2 = await read(rt);
  t.equal(r2.status, 200, JSON.stringify(r2.body));
  t.equal(r2.body['cardNumber'], cardB['cardNumber'], 'the card of the new reader is read');
  const pin = await fetch(`${rt.url}/v1/card/pin`, { headers: H });
  t.equal(((await pin.json()) as { error: { code: string } }).error.code, 'TERM_ERR_SERVICE_DISABLED', 'pin switched off by the config');
  await until('server sees applied', async () => ((await h.admin('GET', `/api/v1/terminals/${terminalId}/config`)).body as { inSync?: boolean }).inSync === true);
  const applied = agent.config?.version;

  // 3. a reader model no terminal knows is refused by the server (nothing pushed); a document
  // this terminal cannot run (no readers, readers not pinned locally) is rejected by the terminal;
  // the last good one stays, also across a restart
  const badModel = await h.admin('PUT', '/api/v1/configs/hall', { document: { ...doc, name: 'bad model', readers: [{ ...doc.readers[0]!, model: 'acme-9000' }] } });
  t.equal(badModel.status, 400);
  t.match(badModel.body, { error: { code: 'SRV_ERR_CONFIG_SCHEMA', details: { path: '/readers/0/model' } } });
  await h.admin('PUT', '/api/v1/configs/hall', { document: { ...doc, name: 'no readers', readers: [] } });
  await until('config rejected', () => agent.stats.configRejected === 1);
  t.equal(agent.config?.version, applied, 'last good kept');
  t.equal(rt.settings().readers[0]?.path, b.device);
  await rt.close();
  rt = await start();
  t.equal(rt.settings().readers[0]?.path, b.device, 'last good configuration restored from disk at start');
  t.equal(rt.agent!.config?.version, applied);
  await until('online again', () => rt.agent!.state.kind === 'online');
  await until('reader ok after restart', () => rt.manager.status()[0]?.status === 'ok');

  // 4. loss report via the admin API: the next read at the terminal is refused
  t.equal((await read(rt)).status, 200);
  t.equal((await h.admin('POST', '/api/v1/hotlist/report', { cardNumbers: [cardB['cardNumber']], reason: 'lost' })).status, 200);
  await until('hotlisted at the terminal', async () => {
    const r = await read(rt);
    return (r.body as { error?: { code?: string } }).error?.code === 'TERM_ERR_CARD_HOTLISTED';
  }, 20_000);
  t.ok(rt.hotlist!.version >= 1);
  t.pass('the card is refused with TERM_ERR_CARD_HOTLISTED');
  await until('card.refused on the server', async () => {
    const list = ((await h.admin('GET', `/api/v1/events?terminal=${terminalId}&limit=100`)).body as { events: { type: string; body: { code?: string } }[] }).events;
    return list.some((e) => e.type === 'card.refused' && e.body.code === 'TERM_ERR_CARD_HOTLISTED');
  });
  t.notMatch(dest.text(), new RegExp(cardA['ssn']!), 'no full SSN in the runtime log');
});
