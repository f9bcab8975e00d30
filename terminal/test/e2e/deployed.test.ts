// One terminal, as deployed (issue 11 "Done when"): a terminal enrolled with the CLI
// (`onecard-terminal enroll --name …`) runs as `onecard-terminal run --data-dir DIR --root ROOT`
// — the systemd unit's own commands, from the A/B release layout, restarted like Restart=always —
// on a simulated serial reader (pty) holding a transit card and no PSAM. From the server:
// 1. a configuration pushed to its group is applied and the status lists each field's effect;
// 2. a transit key set (custodian approval, wrapped import, group assignment) is delivered, the key
//    job succeeds with the expected key-set check value, and a fare through the local API's
//    purchase endpoint completes with the soft SAM on the delivered keys (TAC verified);
// 3. a signed software update is rolled out: the terminal downloads, verifies, switches, ends with
//    status 75, comes back from the new release, passes its health check and reports 1.1.0.
// Then SIGKILL: the supervisor restarts it and it comes back with the same keys, version and
// configuration, and takes another soft-SAM fare.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { wrapKeySetForImport, type PurseKeyMaterial } from '@onecard/server/src/keys/key-crypto.ts';
import { buildPackage, generateSigningKey, loadSigningKey, signPackage } from '@onecard/server/src/updates/package-io.ts';
import { CARDS, Supervisor, installRelease, simulatedReader, startFleetServer, terminalCli, unitFor, until, writeReleaseFiles } from './box.ts';

const GROUP = 'metro-gates';

/** The issuer-level purse roots the simulated transit card is personalised with (test keys). */
function transitKeys(): PurseKeyMaterial[] {
  const tr = (JSON.parse(readFileSync(join(CARDS, 'transit-only.json'), 'utf8')) as { transit: { keyVersion: number; algorithmId: number; keys: { mpk: string; mtk: string } } }).transit;
  const slot = { keyVersion: tr.keyVersion, algorithmId: tr.algorithmId, levels: 2 };
  return [
    { usage: '61', ...slot, key: new Uint8Array(Buffer.from(tr.keys.mpk, 'hex')) },
    { usage: '62', ...slot, key: new Uint8Array(Buffer.from(tr.keys.mtk, 'hex')) },
  ];
}

t.test('enrol, run --data-dir, then config + transit keys + software update from the server; SIGKILL keeps all three', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'deployed-'));
  const signing = generateSigningKey('ed25519');
  const server = await startFleetServer({ dir, trustedKeys: [signing.publicKey] });
  const reader = await simulatedReader(join(dir, 'tty-front'), 'transit-only.json');
  const paths = { root: join(dir, 'opt', 'onecard'), dataDir: join(dir, 'var', 'onecard'), libDir: join(dir, 'lib') };
  installRelease(paths.root, '1.0.0');
  let sup: Supervisor | undefined;
  t.teardown(async () => {
    await sup?.stop();
    reader.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // ── set-up of the box: enrol with the CLI, pin what the fleet cannot know, start the unit ──
  const enrolled = await terminalCli(['enroll', '--server', server.httpUrl, '--token', await server.enrolmentToken(GROUP), '--data-dir', paths.dataDir, '--name', 'metro-gate-7', '--kind', 'gate']);
  t.equal(enrolled.code, 0, enrolled.stderr);
  const id = /enrolled: terminal (T[0-9A-Za-z_-]+) \(metro-gate-7\)/.exec(enrolled.stdout)?.[1] ?? '';
  t.ok(id, 'enrolled');
  writeFileSync(join(paths.dataDir, 'terminal.json'), JSON.stringify({
    readers: [{ id: 'front', link: 'serial', path: reader.device, model: 'gemcore-sim-pro2' }],
    api: { port: 0 },
    updates: { pinnedKeys: [signing.publicKey], healthDeadlineSeconds: 60 },
    softSam: { terminalNumber: '639900000077' },
    log: { level: 'info', file: join(dir, 'terminal.log') },
  }));
  sup = new Supervisor(unitFor(paths), true);
  const first = await sup.start();
  await first.url;
  const token = readFileSync(join(paths.dataDir, 'api-token'), 'utf8').trim();
  const H = { 'x-onecard-token': token, 'content-type': 'application/json' };
  const terminal = async (): Promise<any> => (await server.call('GET', `/api/v1/terminals/${id}`)).body;
  await until('terminal online', async () => (await terminal())?.online === true);
  t.equal((await terminal()).name, 'metro-gate-7');

  // ── 1. configuration ──
  const doc = {
    ...EXAMPLE_TERMINAL_CONFIG,
    name: 'metro gates',
    readers: [{ id: 'front', link: 'serial' as const, path: reader.device, model: 'gemcore-sim-pro2', psamSlot: null, role: 'user' as const }],
    services: { ...EXAMPLE_TERMINAL_CONFIG.services, transit: true },
    telemetry: { intervalSeconds: 5 },
    logLevel: 'debug' as const,
  };
  const created = await server.call('POST', '/api/v1/configs', { id: 'gates', name: 'metro gates', document: doc });
  t.equal(created.status, 201, JSON.stringify(created.body));
  t.equal((await server.call('PUT', `/api/v1/groups/${GROUP}/config`, { configId: 'gates' })).status, 200);
  const cfgState = await until('configuration applied', async () => {
    const s = (await server.call('GET', `/api/v1/terminals/${id}/config`)).body;
    return s?.desired !== null && s?.inSync === true && s?.reported?.status === 'applied' ? s : undefined;
  });
  const configVersion = cfgState.appliedVersion as number;
  const changes = (cfgState.reported.changes ?? []) as { field: string; effect: string }[];
  t.ok(changes.length > 0, 'the status lists what each field did');
  t.ok(changes.every((c) => typeof c.field === 'string' && typeof c.effect === 'string'), 'each entry names a field and its effect');
  t.ok(changes.some((c) => c.field === '/services/transit'), 'the transit switch is reported');

  // ── 2. transit keys: custodian approval, wrapped import, assignment to the group ──
  const custodian = await server.tokenFor('key-custodian');
  const approved = await server.call('PUT', `/api/v1/terminals/${id}/key-approval`, { validForSeconds: 3600 }, custodian);
  t.equal(approved.status, 200, `key custodian approves the terminal: ${JSON.stringify(approved.body)}`);
  const ik = await server.call('GET', '/api/v1/key-sets/import-key', undefined, custodian);
  const material = transitKeys();
  const imported = await server.call('POST', '/api/v1/key-sets', { keySetId: 'metro', description: 'metro purse keys', ...wrapKeySetForImport(ik.body.publicKey, 'metro', material) }, custodian);
  for (const k of material) k.key.fill(0);
  t.equal(imported.status, 201, JSON.stringify(imported.body));
  const assigned = await server.call('PUT', `/api/v1/groups/${GROUP}/key-set`, { keySetId: 'metro', version: imported.body.version }, custodian);
  t.equal(assigned.status, 200, JSON.stringify(assigned.body));
  const job = assigned.body.job as { id: string; expectedKcv: string };
  const entry = await until('key job done', async () => {
    const e = ((await server.call('GET', `/api/v1/key-jobs/${job.id}`)).body?.terminals ?? []).find((x: { terminalId: string }) => x.terminalId === id);
    return e !== undefined && ['succeeded', 'failed', 'rejected'].includes(e.status) ? e : undefined;
  });
  t.equal(entry.status, 'succeeded', `key job succeeded (${entry.error ?? ''})`);
  t.equal(entry.reportedKcv, job.expectedKcv, 'KCV acknowledged: the terminal computed the expected key-set check value');
  const fare = async (url: string, amount: number): Promise<any> => until('a soft-SAM fare', async () => {
    const r = await fetch(`${url}/v1/card/purchase`, { method: 'POST', headers: H, body: JSON.stringify({ amount }) });
    const b = await r.json() as any;
    if (r.status === 200) return b;
    // The reader may still be settling (card detection after a start): try again.
    if (['TERM_ERR_CARD_ABSENT', 'TERM_ERR_READER_NOT_READY', 'TERM_ERR_API_NOT_CONFIGURED', 'TERM_ERR_RUNTIME_CLOSED'].includes(b?.error?.code) || r.status === 503) return undefined;
    throw new Error(`purchase: ${r.status} ${JSON.stringify(b)}`);
  }, 30_000, 250);
  const url2 = (await sup.current!.url);
  const paid = await fare(url2, 100);
  t.equal(paid.kind, 'completed', 'fare completed with the soft SAM (no PSAM configured)');
  t.match(paid.record, { amount: 100, terminalNumber: '639900000077', state: 'completed' }, 'journalled with the soft SAM terminal number');
  t.match(paid.record.tac, /^[0-9A-F]{8}$/i, 'TAC recorded');
  t.equal(paid.balanceAfter, 400);

  // ── 3. software update 1.0.0 → 1.1.0 ──
  const build = join(dir, 'build', '1.1.0');
  writeReleaseFiles(build, '1.1.0');
  const pkg = join(dir, 'onecard-terminal-1.1.0.ocpkg');
  await buildPackage({ from: build, out: pkg, name: 'onecard-terminal', version: '1.1.0', minPreviousVersion: '1.0.0' });
  const sig = await signPackage(pkg, loadSigningKey(signing.privateKey));
  const up = await fetch(`${server.httpUrl}/api/v1/updates/packages`, {
    method: 'POST', headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/octet-stream', 'x-onecard-signature': Buffer.from(sig).toString('base64') }, body: readFileSync(pkg),
  });
  const upBody = await up.json() as { id: string };
  t.equal(up.status, 201, JSON.stringify(upBody));
  const rollout = await server.call('POST', '/api/v1/updates/rollouts', { packageId: upBody.id, target: { terminals: [id] }, phases: [{ size: 1 }] });
  t.equal(rollout.status, 201, JSON.stringify(rollout.body));
  const runsBefore = sup.runs.length;
  const done = await until('update rolled out', async () => {
    const r = (await server.call('GET', `/api/v1/updates/rollouts/${rollout.body.id}`)).body;
    const e = (r?.terminals ?? [])[0];
    return e !== undefined && ['succeeded', 'failed', 'rolled-back', 'skipped'].includes(e.status) ? e : undefined;
  }, 180_000, 250);
  t.equal(done.status, 'succeeded', `update succeeded: ${JSON.stringify(done)}`);
  t.equal(await sup.runs[runsBefore - 1]!.exited, 75, 'the old release stopped with 75 for the supervisor');
  t.ok(sup.runs.length > runsBefore, 'the supervisor started the new release');
  await until('new version reported', async () => (await terminal())?.reported?.versions?.software === '1.1.0');
  t.equal(readFileSync(join(paths.root, 'current', 'RELEASE'), 'utf8').trim(), '1.1.0', 'current → the new release');
  t.notOk(readFileSafe(join(paths.root, 'pending.json')), 'the update is committed (no pending marker)');

  // ── SIGKILL: back with the same keys, version and configuration ──
  const beforeKill = await terminal();
  const before = beforeKill.reported.versions as { software: string; config: number; keys: number };
  const epochBefore = beforeKill.epoch as number;
  const n = sup.runs.length;
  sup.current!.proc.kill('SIGKILL');
  const again = await sup.nthRun(n + 1);
  const url3 = await again.url;
  t.match(again.stderr(), `terminal ${id} (metro-gate-7) 1.1.0`, 'restarted from the new release');
  const after = await until('a new birth after the SIGKILL', async () => {
    const tt = await terminal();
    return tt?.online === true && tt.epoch > epochBefore ? tt.reported.versions as typeof before : undefined;
  });
  t.equal(after.software, '1.1.0', 'same version');
  t.equal(after.config, configVersion, 'same configuration version');
  t.equal(after.keys, before.keys, 'same key set version');
  t.equal(after.keys, imported.body.version, 'the key set version the custodian imported');
  t.equal((await server.call('GET', `/api/v1/terminals/${id}/config`)).body.appliedVersion, configVersion, 'the server still sees that configuration applied');
  const paid2 = await fare(url3, 50);
  t.equal(paid2.kind, 'completed', 'a soft-SAM fare after the restart: the keys came back from disk');
  t.equal(paid2.balanceAfter, 350);
  t.ok(paid2.record.terminalSerial > paid.record.terminalSerial, 'the soft SAM serial did not repeat across restarts');
});

function readFileSafe(p: string): string | undefined {
  try { return readFileSync(p, 'utf8'); } catch { return undefined; }
}
