/**
 * Simulated terminals' hotlist against a real in-process OneCard server: the retained
 * `fleet/broadcast/hotlist` pointer makes each terminal fetch the delta since its version and
 * apply it, so it refuses reported cards and accepts them again after a cancel; a terminal that
 * connects later gets the whole list; a refused fetch is a coded error.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '@onecard/server/server';
import { SimFleet, enrolFleet, FleetHttp, fetchHotlist, type SimTerminalEvent } from '../../src/fleet/index.ts';

const ADMIN = 'fleet-sim-hotlist-admin-token-0123456789';
let server: RunningServer;
let dir: string;

type Cfg = Parameters<typeof startServer>[0]['config'];

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'onecard-simhotlist-'));
  const config: Cfg = {
    dataDir: dir, host: '127.0.0.1', httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', publicMqttUrl: undefined, publicHttpUrl: undefined,
    logLevel: 'silent', enrolmentTokenTtlSeconds: 3600, authRateLimitPerMinute: 100_000,
  };
  server = await startServer({ config, dbPath: join(dir, 'onecard.db'), adminTokenPreset: ADMIN });
});
t.teardown(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<any> {
  const res = await fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const until = async (cond: () => boolean, ms = 10_000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
};

t.test('[fleet-protocol §6] pointer → delta → refusal, cancel → accepted, late joiner gets the full list', async (t) => {
  const creds = await enrolFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: 4, groupId: 'hot' });
  const events: SimTerminalEvent[] = [];
  const fleet = new SimFleet(creds.slice(0, 3), { server: server.httpUrl, onEvent: (e) => events.push(e) });
  t.teardown(() => fleet.close());
  await fleet.connectAll();
  for (const term of fleet.terminals) t.equal(term.refuses('A00000001'), false);

  const r1 = await post('/api/v1/hotlist/report', { cardNumbers: ['A00000001', 'B00000002'], reason: 'lost' });
  t.ok(await until(() => fleet.terminals.every((x) => x.hotlistVersion === r1.version)), 'every terminal at the new version');
  for (const term of fleet.terminals) {
    t.equal(term.refuses('A00000001'), true);
    t.equal(term.refuses('B00000002'), true);
    t.equal(term.refuses('C00000003'), false);
    t.equal(term.hotlistSize, 2);
  }
  t.ok(events.some((e) => e.type === 'hotlist' && e.kind === 'delta' && e.version === r1.version), 'applied as a delta');
  t.same(events.filter((e) => e.type === 'hotlist' && e.version === r1.version).map((e) => e.type === 'hotlist' && e.via), ['broadcast', 'broadcast', 'broadcast'], 'each took the broadcast change, no fetch');

  // A terminal that predates the broadcast change follows the pointer and fetches.
  fleet.terminals[0]!.legacy = true;
  const r2 = await post('/api/v1/hotlist/cancel', { cardNumbers: ['A00000001'], reason: 'found' });
  t.ok(await until(() => fleet.terminals.every((x) => x.hotlistVersion === r2.version)));
  t.same(events.filter((e) => e.type === 'hotlist' && e.version === r2.version).map((e) => e.type === 'hotlist' && `${e.terminalId === fleet.terminals[0]!.id ? 'legacy' : 'current'}:${e.via}`).sort(), ['current:broadcast', 'current:broadcast', 'legacy:http']);
  for (const term of fleet.terminals) {
    t.equal(term.refuses('A00000001'), false, 'accepted again after the cancel');
    t.equal(term.refuses('B00000002'), true);
  }

  const late = new SimFleet(creds.slice(3), { server: server.httpUrl });
  t.teardown(() => late.close());
  await late.connectAll();
  const lt = late.terminals[0]!;
  t.ok(await until(() => lt.hotlistVersion === r2.version), 'late joiner catches up from the retained pointer');
  t.equal(lt.refuses('B00000002'), true);
  t.equal(lt.refuses('A00000001'), false);
  t.equal(lt.hotlistSize, 1);
});

t.test('fetchHotlist: wrong credentials are a coded error', async (t) => {
  const [cred] = await enrolFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: 1, groupId: 'hot2' });
  const http = new FleetHttp(server.httpUrl);
  t.teardown(() => http.close());
  const full = await fetchHotlist(http, cred!, 0);
  t.ok(full.version >= 0);
  await t.rejects(fetchHotlist(http, { ...cred!, password: 'wrong-password-wrong-password' }, 0), { code: 'SIM_ERR_FLEET_HOTLIST' });
});
