/**
 * Issue 7 "Done when": a signed update rolled out to simulated terminals in two phases over
 * loopback HTTP + MQTT (the real broker and the `mqtt` client; each terminal runs the terminal
 * updater against the real server plugin); a deliberately failing build trips the failure
 * threshold and the rollout aborts with the remaining terminals untouched; a terminal whose
 * health check fails rolls back by itself; a tampered package is refused by server and terminal.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeFleetMessage, encodeFleetMessage } from '@onecard/protocol/fleet';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import updatesPlugin from '../../src/updates/plugin.ts';
import { buildPackage, generateSigningKey, loadSigningKey, signPackage } from '../../src/updates/package-io.ts';
import { newTerminalKey } from '../helpers.ts';
import { applyUpdate, currentVersion, downloadWithResume, pointAt, readResult, initLayout, verifyPackageFile, type UpdateJob } from '@onecard/terminal/src/updater/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'onecard-upd-e2e-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function release(version: string, healthy: boolean): string {
  const d = join(dir, 'src', version);
  mkdirSync(join(d, 'lib'), { recursive: true });
  writeFileSync(join(d, 'main.js'), `export const version = '${version}';\n`);
  writeFileSync(join(d, 'lib', 'util.js'), `export const big = '${randomBytes(15_000).toString('base64')}';\n`);
  writeFileSync(join(d, 'selftest.json'), JSON.stringify({ ok: healthy }));
  return d;
}

t.test('staged rollout over loopback HTTP + MQTT', async (t) => {
  const key = generateSigningKey('ed25519');
  const signer = loadSigningKey(key.privateKey);
  const rogue = loadSigningKey(generateSigningKey('ed25519').privateKey);
  const pkg = async (version: string, healthy: boolean, k = signer) => {
    const out = join(dir, `${version}-${k.keyId}.ocpkg`);
    await buildPackage({ from: release(version, healthy), out, version, minPreviousVersion: '1.0.0' });
    return { out, sig: await signPackage(out, k) };
  };
  const good = await pkg('1.1.0', true);
  const bad = await pkg('1.2.0', false);
  const untrusted = await pkg('1.3.0', true, rogue);

  const store = openSqliteStore(join(dir, 'onecard.db'));
  const app = await buildApp({ store, logger: false });
  await app.register(updatesPlugin, { packageDir: join(dir, 'packages'), trustedKeys: [key.publicKey], tickMs: 0 });
  const admin = (await bootstrapAdminToken(store, { now: () => Date.now() }))!;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const mqttServer: Server = createServer((s) => app.broker.handle(s));
  await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', () => r()));
  const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as { port: number }).port}`;
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await new Promise<void>((r) => mqttServer.close(() => r()));
    await app.close();
    await store.close();
  });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: await res.json() as Record<string, unknown> };
  };
  const upload = async (p: { out: string; sig: string }, mutate?: (b: Buffer) => void) => {
    const body = readFileSync(p.out);
    mutate?.(body);
    const res = await fetch(`${base}/api/v1/updates/packages`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream', 'x-onecard-signature': Buffer.from(p.sig).toString('base64') }, body });
    return { status: res.status, json: await res.json() as Record<string, unknown> & { error?: { code: string } } };
  };

  // Tampered and untrusted packages are refused; nothing is stored.
  const tampered = await upload(good, (b) => { b.writeUInt8(b.readUInt8(b.length - 40) ^ 1, b.length - 40); });
  t.equal(tampered.status, 400);
  t.equal(tampered.json.error?.code, 'SRV_ERR_UPDATE_HASH', 'tampered archive refused');
  const rogueUp = await upload(untrusted);
  t.equal(rogueUp.json.error?.code, 'SRV_ERR_UPDATE_SIGNATURE', 'package signed by an untrusted key refused');
  t.same(((await api('GET', '/api/v1/updates/packages')).json.packages as unknown[]).length, 0);

  const goodPkg = await upload(good);
  t.equal(goodPkg.status, 201);
  const badPkg = await upload(bad);
  t.equal(badPkg.status, 201);
  t.equal((await upload(good)).status, 409, 'same name and version twice is a conflict');

  // Five simulated terminals at 1.0.0 in group "hall".
  t.equal((await api('POST', '/api/v1/groups', { id: 'hall', name: 'Hall' })).status, 201);
  interface Sim { id: string; root: string; jobs: string[]; outcomes: string[]; client: MqttClient; idle: Promise<void> }
  const sims: Sim[] = [];
  for (let i = 0; i < 5; i++) {
    const tok = (await api('POST', '/api/v1/enrolment-tokens', { groupId: 'hall' })).json as { token: string };
    const en = await fetch(`${base}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.token, publicKey: newTerminalKey(), kind: 'hall-kiosk' }) });
    const e = await en.json() as { terminalId: string; mqtt: { clientId: string; username: string; password: string } };
    const root = join(dir, `term${i}`);
    await initLayout(root);
    mkdirSync(join(root, 'releases', '1.0.0'));
    writeFileSync(join(root, 'releases', '1.0.0', 'selftest.json'), '{"ok":true}');
    await pointAt(root, 'current', '1.0.0');
    const client: MqttClient = await mqtt.connectAsync(mqttUrl, { clientId: e.mqtt.clientId, username: e.mqtt.username, password: e.mqtt.password, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    clients.push(client);
    const sim: Sim = { id: e.terminalId, root, jobs: [], outcomes: [], client, idle: Promise.resolve() };
    const birth = async () => {
      await client.publishAsync(`t/${sim.id}/up/birth`, Buffer.from(encodeFleetMessage('birth', { v: 1, epoch: 1, ts: Date.now(), versions: { software: (await currentVersion(root)) ?? '0.0.0', config: 0, keys: 0, hotlist: 0 }, readers: [] })), { qos: 1 });
    };
    client.on('message', (topic, payload) => {
      if (!topic.endsWith('/down/jobs/notify')) return;
      const n = decodeFleetMessage('jobs/notify', new Uint8Array(payload));
      if (n.next === null || n.next.kind !== 'update' || sim.jobs.includes(n.next.jobId)) return;
      const jobId = n.next.jobId;
      sim.jobs.push(jobId);
      sim.idle = sim.idle.then(async () => {
        const auth = `Basic ${Buffer.from(`${sim.id}:${e.mqtt.password}`).toString('base64')}`;
        const job = await (await fetch(`${base}/api/v1/terminal/jobs/${jobId}`, { headers: { authorization: auth } })).json() as UpdateJob;
        const outcome = await applyUpdate(job, {
          root, pinnedKeys: [key.publicKey], baseUrl: base, auth: { terminalId: sim.id, password: e.mqtt.password }, healthDeadlineMs: 5000,
          report: async (id, p) => { await client.publishAsync(`t/${sim.id}/up/jobs/${id}`, Buffer.from(encodeFleetMessage('jobs/progress', p)), { qos: 1 }); },
          start: async () => {},
          healthCheck: async (rel) => {
            const st = JSON.parse(readFileSync(join(rel.dir, 'selftest.json'), 'utf8')) as { ok: boolean };
            if (!st.ok) throw new Error('self-test failed');
          },
        }).catch((err: unknown) => `error:${(err as { code?: string }).code ?? String(err)}`);
        sim.outcomes.push(outcome);
        await birth();
      });
    });
    await client.subscribeAsync(`t/${sim.id}/down/#`, { qos: 1 });
    await birth();
    sims.push(sim);
  }

  const waitFor = async (id: string, pred: (r: Record<string, unknown>) => boolean) => {
    for (let i = 0; i < 400; i++) {
      const r = (await api('GET', `/api/v1/updates/rollouts/${id}`)).json;
      if (pred(r)) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`rollout ${id} did not get there`);
  };

  // 1. The good build in two phases.
  const r1 = await api('POST', '/api/v1/updates/rollouts', { packageId: goodPkg.json.id, target: { groups: ['hall'] }, phases: [{ size: 2 }, { percent: 100 }], ratePerMinute: 100, successThreshold: 0.95, maxFailures: 1 });
  t.equal(r1.status, 201);
  t.equal((r1.json.counts as { notified: number }).notified, 2, 'phase 1 notifies two terminals');
  const done1 = await waitFor(r1.json.id as string, (r) => r.status === 'completed');
  t.equal((done1.counts as { succeeded: number }).succeeded, 5, 'all five succeeded');
  t.equal(done1.phase, 2, 'went through phase 2');
  await Promise.all(sims.map((s) => s.idle));
  for (const s of sims) t.equal(await currentVersion(s.root), '1.1.0', `${s.id} runs 1.1.0`);

  // 2. The failing build: phase 1 terminals roll back by themselves; the threshold aborts.
  const r2 = await api('POST', '/api/v1/updates/rollouts', { packageId: badPkg.json.id, target: { groups: ['hall'] }, phases: [{ size: 2 }, { percent: 100 }], ratePerMinute: 100, successThreshold: 0.95, maxFailures: 1 });
  t.equal(r2.status, 201);
  const done2 = await waitFor(r2.json.id as string, (r) => r.status === 'aborted');
  t.equal(done2.abortReason, 'failure-threshold');
  await Promise.all(sims.map((s) => s.idle));
  const terms = done2.terminals as { id: string; status: string }[];
  const touched = sims.filter((s) => s.jobs.includes(r2.json.id as string));
  t.equal(touched.length, 2, 'only the two phase-1 terminals were notified');
  for (const s of touched) {
    t.equal(await currentVersion(s.root), '1.1.0', `${s.id} rolled back to 1.1.0 by itself`);
    t.equal((await readResult(s.root))?.status, 'rolled-back');
    t.equal(s.outcomes.at(-1), 'rolled-back');
  }
  const untouched = terms.filter((x) => x.status === 'pending');
  t.equal(untouched.length, 3, 'three terminals untouched');
  for (const u of untouched) {
    const s = sims.find((x) => x.id === u.id)!;
    t.notOk(s.jobs.includes(r2.json.id as string), `${u.id} never heard of the bad build`);
    t.equal(await currentVersion(s.root), '1.1.0');
  }
  t.equal((await api('POST', `/api/v1/updates/rollouts/${r2.json.id as string}/resume`)).status, 409, 'an aborted rollout cannot resume');

  // 3. The terminal refuses a tampered package even when the server hands it out.
  const tamperedFile = join(dir, 'tampered.ocpkg');
  const bytes = readFileSync(good.out);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 40) ^ 1, bytes.length - 40);
  writeFileSync(tamperedFile, bytes);
  await t.rejects(verifyPackageFile(tamperedFile, good.sig, [key.publicKey]), { code: 'TERM_ERR_UPDATE_HASH' });
  await t.rejects(verifyPackageFile(good.out, good.sig, [rogue.publicKey]), { code: 'TERM_ERR_UPDATE_SIGNATURE' }, 'key not pinned');

  // 4. Download resumes with Range after an interrupted transfer.
  const sim0 = sims[0]!;
  const seen: { range: string | null; status: number }[] = [];
  let cut = true;
  const flaky: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    seen.push({ range: new Headers(init?.headers).get("range"), status: res.status });
    if (!cut || res.body === null) return res;
    cut = false;
    const reader = res.body.getReader();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        const { value, done } = await reader.read();
        if (done || sent >= 1000) { ctl.error(new Error('connection reset')); return; }
        const part = value.subarray(0, Math.max(0, Math.min(value.length, 1000 - sent)));
        sent += part.length;
        ctl.enqueue(part);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const pkgRec = goodPkg.json as { id: string; size: number; sha256: string };
  const tid = sim0.id;
  const termPassword = String(clients[0]!.options.password);
  const dest = join(dir, 'resumed.ocpkg');
  await downloadWithResume({ url: `${base}/api/v1/terminal/updates/packages/${pkgRec.id}/archive`, dest, size: pkgRec.size, sha256: pkgRec.sha256, fetchImpl: flaky, headers: { authorization: `Basic ${Buffer.from(`${tid}:${termPassword}`).toString('base64')}` } });
  t.same(readFileSync(dest), readFileSync(good.out), 'resumed download is byte-identical');
  t.equal(seen.length, 2);
  t.equal(seen[0]?.status, 200);
  t.match(seen[1]?.range, /^bytes=[1-9]\d*-$/, 'second request resumes where the first stopped');
  t.equal(seen[1]?.status, 206);
  const noAuth = await fetch(`${base}/api/v1/terminal/updates/packages/${pkgRec.id}/archive`);
  t.equal(noAuth.status, 401, 'download needs terminal credentials');
  const badRange = await fetch(`${base}/api/v1/terminal/updates/packages/${pkgRec.id}/archive`, { headers: { authorization: `Basic ${Buffer.from(`${tid}:${termPassword}`).toString('base64')}`, range: `bytes=${pkgRec.size + 5}-` } });
  t.equal(badRange.status, 416);
});
