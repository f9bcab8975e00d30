// End to end against the real fleet server (in-process, real HTTP and MQTT sockets): enrolment,
// outbox delivery exactly once across dropped connections, config apply, hotlist sync.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { enrol } from '../../src/agent/enrol.ts';
import { loadIdentity } from '../../src/agent/identity.ts';
import { openFileOutbox } from '../../src/agent/outbox.ts';
import { FleetAgent } from '../../src/agent/fleet-agent.ts';
import { SetHotlist } from '../../src/agent/set-hotlist.ts';
import { startHarness } from './server-harness.ts';

async function until(what: string, fn: () => boolean | Promise<boolean>, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('agent against the real server', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'onecard-agent-'));
  const h = await startHarness();
  t.teardown(async () => { await h.close(); rmSync(root, { recursive: true, force: true }); });
  await enrol({ serverUrl: h.httpUrl, token: await h.enrolmentToken('pharmacies'), dataDir: root, kind: 'pos' });
  const id = await loadIdentity(root);
  const outbox = await openFileOutbox({ dir: join(root, 'outbox') });
  const applied: TerminalConfigDocument[] = [];
  const hotlist = new SetHotlist();
  const warn: unknown[] = [];
  const logger = { warn: (o: unknown, m: string) => warn.push([o, m]), error: (o: unknown, m: string) => warn.push([o, m]), info: () => {}, debug: (o: { topic?: string }, m: string) => { if (o.topic?.includes('ack') !== true) warn.push([o, m]); } } as unknown as import('pino').Logger;
  const agent = new FleetAgent({ logger,
    terminalId: id.terminalId, serverUrl: id.serverUrl, mqtt: id.mqtt, outbox, softwareVersion: '0.1.0', kind: 'pos', hotlist,
    batchSize: 7, flushIntervalMs: 50, policy: { backoffBaseMs: 50, backoffMaxMs: 200, ackTimeoutMs: 2000 },
    applyConfig: async (doc) => { if (doc.name === 'reject me') throw Object.assign(new Error('no'), { code: 'TERM_ERR_INVALID_ARGUMENT' }); applied.push(doc); },
  });
  t.teardown(() => agent.stop().then(() => outbox.close()));
  for (let i = 0; i < 30; i++) await outbox.append({ type: 'txn.purchase', body: { i }, class: 'transaction' });
  agent.start();
  await until('online', () => agent.state.kind === 'online');
  const firstEpoch = agent.state.kind === 'online' ? agent.state.epoch : 0;
  await until('30 acknowledged', () => outbox.stats().pending === 0);
  t.equal(outbox.stats().ackedSeq, 30);

  // Drop the connection: the agent reconnects with a new epoch and keeps delivering.
  h.dropClients();
  for (let i = 30; i < 50; i++) { await outbox.append({ type: 'txn.purchase', body: { i }, class: 'transaction' }); if (i === 35) h.dropClients(); }
  agent.notifyPending();
  await until('50 acknowledged', () => outbox.stats().pending === 0 && outbox.stats().ackedSeq === 50);
  t.ok(agent.stats.connects >= 2, `reconnected (${agent.stats.connects} connects)`);
  t.ok(agent.state.kind === 'online' && agent.state.epoch > firstEpoch, 'epoch increased');
  const ev = await h.admin('GET', `/api/v1/events?terminal=${id.terminalId}&limit=1000`);
  const events = (ev.body as { events: { seq: number; eventId: string; body: { i: number } }[] }).events;
  t.equal(events.length, 50, 'every transaction exactly once on the server');
  t.same(events.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 1), 'in order');
  t.equal(new Set(events.map((e) => e.eventId)).size, 50);

  // Configuration: assign a document to the group; the agent fetches, checks, applies, reports.
  const doc = { ...EXAMPLE_TERMINAL_CONFIG, name: 'pharmacy v1' };
  const created = await h.admin('POST', '/api/v1/configs', { id: 'pharmacy', name: 'pharmacy', document: doc });
  t.equal(created.status, 201, JSON.stringify(created.body));
  t.equal((await h.admin('PUT', '/api/v1/groups/pharmacies/config', { configId: 'pharmacy' })).status, 200);
  await until('config applied', () => applied.length === 1);
  t.equal(applied[0]!.name, 'pharmacy v1');
  const goodVersion = agent.config?.version;
  t.ok(goodVersion !== undefined && goodVersion > 0);
  await until('server sees applied', async () => {
    const st = (await h.admin('GET', `/api/v1/terminals/${id.terminalId}/config`)).body as { inSync?: boolean };
    return st.inSync === true;
  });
  // A document the terminal refuses is reported rejected and the last good one stays.
  await h.admin('PUT', '/api/v1/configs/pharmacy', { document: { ...EXAMPLE_TERMINAL_CONFIG, name: 'reject me' } });
  await until('config rejected', () => agent.stats.configRejected === 1);
  t.equal(applied.length, 1);
  t.equal(agent.config?.version, goodVersion, 'last good config kept');
  await until('server sees rejected', async () => {
    const st = (await h.admin('GET', `/api/v1/terminals/${id.terminalId}/config`)).body as { inSync?: boolean; appliedVersion?: number };
    return st.inSync === false && st.appliedVersion === goodVersion;
  });

  // Hotlist: an admin loss report reaches the terminal's list.
  t.equal((await h.admin('POST', '/api/v1/hotlist/report', { cardNumbers: ['X00000019'], reason: 'lost' })).status, 200);
  await until('hotlist synced', () => hotlist.has('X00000019'));
  t.ok(hotlist.version >= 1);
  // A kiosk loss report through the outbox reaches the hotlist too.
  await outbox.append({ type: 'card.loss-report', body: { cardNumber: 'A00000001', pinVerified: true, reason: 'lost' }, class: 'transaction' });
  agent.notifyPending();
  await until('kiosk report acknowledged', () => outbox.stats().pending === 0).catch((e) => { t.comment(JSON.stringify({ s: outbox.stats(), st: agent.state })); throw e; });
  t.equal((await h.admin('GET', '/api/v1/hotlist/A00000001')).status, 200, 'the server listed the kiosk report');
  // The live pointer for terminal-originated reports is not observed here (reported to the lead);
  // reconciliation on reconnect must bring the list up to date regardless.
  h.dropClients();
  await until('kiosk report listed after reconnect', () => hotlist.has('A00000001')).catch((e) => { t.comment(JSON.stringify({ v: hotlist.version, st: agent.stats, warn })); throw e; });
  t.ok(hotlist.has('X00000019'));
});

t.test('[fleet-protocol §5 §6] configuration inline in the pointer and the broadcast hotlist change: applied without HTTP; a body that does not hash to the pointer is rejected', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'onecard-agent-'));
  const h = await startHarness();
  t.teardown(async () => { await h.close(); rmSync(root, { recursive: true, force: true }); });
  await enrol({ serverUrl: h.httpUrl, token: await h.enrolmentToken('kiosks'), dataDir: root, kind: 'kiosk' });
  const id = await loadIdentity(root);
  const outbox = await openFileOutbox({ dir: join(root, 'outbox') });
  const applied: TerminalConfigDocument[] = [];
  const hotlist = new SetHotlist();
  const fetched: string[] = [];
  const countingFetch: typeof fetch = (input, init) => { fetched.push(new URL(String(input)).pathname); return fetch(input, init); };
  const agent = new FleetAgent({
    terminalId: id.terminalId, serverUrl: id.serverUrl, mqtt: id.mqtt, outbox, softwareVersion: '0.1.0', kind: 'kiosk', hotlist, fetch: countingFetch,
    policy: { backoffBaseMs: 50, backoffMaxMs: 200, ackTimeoutMs: 2000 },
    applyConfig: async (doc) => { applied.push(doc); },
  });
  t.teardown(() => agent.stop().then(() => outbox.close()));
  agent.start();
  await until('online', () => agent.state.kind === 'online');
  await until('first hotlist check', () => fetched.includes('/api/v1/terminal/hotlist'));
  const before = fetched.length;

  t.equal((await h.admin('POST', '/api/v1/configs', { id: 'kiosk', name: 'kiosk', document: { ...EXAMPLE_TERMINAL_CONFIG, name: 'kiosk v1' } })).status, 201);
  t.equal((await h.admin('PUT', '/api/v1/groups/kiosks/config', { configId: 'kiosk' })).status, 200);
  await until('config applied', () => applied.length === 1);
  t.equal(applied[0]!.name, 'kiosk v1');
  t.equal((await h.admin('POST', '/api/v1/hotlist/report', { cardNumbers: ['X00000019'], reason: 'lost' })).status, 200);
  await until('hotlist applied', () => hotlist.has('X00000019'));
  await until('server sees applied', async () => ((await h.admin('GET', `/api/v1/terminals/${id.terminalId}/config`)).body as { inSync?: boolean }).inSync === true);
  t.same(fetched.slice(before), [], 'neither the document nor the hotlist change was fetched over HTTP');

  // A pointer on its own downlink whose body does not hash to its sha256 (corrupted, or not the
  // server's canonical bytes) is rejected and the last good configuration stays.
  const good = agent.config!;
  const body = JSON.stringify({ ...EXAMPLE_TERMINAL_CONFIG, name: 'tampered' });
  await h.app.publishDown(`t/${id.terminalId}/down/config`, new TextEncoder().encode(JSON.stringify({ v: 1, version: good.version + 1, sha256: good.sha256, body })), true);
  await until('rejected', () => agent.stats.configRejected === 1);
  t.equal(applied.length, 1, 'not applied');
  t.same(agent.config, good, 'last good kept');
  // A broadcast change from a base this terminal is not at is not applied as is: it fetches.
  const v = hotlist.version;
  await h.app.publishDown('fleet/broadcast/hotlist/delta', new TextEncoder().encode(JSON.stringify({ v: 1, fromVersion: v + 5, version: v + 6, add: ['B00000002'], remove: [] })), false);
  await until('fetched instead', () => fetched.slice(before).includes('/api/v1/terminal/hotlist'));
  await agent.waitFor(() => true);
  t.notOk(hotlist.has('B00000002'), 'a change from another base is not applied');
});
