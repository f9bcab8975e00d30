// Venue gates end to end (issue 16 "Done when"): the fleet server and two real terminal processes
// (`onecard-terminal run --data-dir DIR`, enrolled with the CLI) in one venue group, each on a
// simulated serial reader with a PSAM. The venue rules arrive in the fleet configuration; every
// rule admits and refuses through the gates' local API — hours (closed day, closed hours), daily
// entries across both gates, capacity across both gates with an exit, fare category (a senior by
// the ID number's birth date), registered-only event day (registration at a terminal with card +
// PIN), hotlisted, expired — online and offline (a disabled gate decides within maxStaleSeconds,
// refuses capacity past it, and reconciles when it is back). Finally the server's per-gate counts
// equal what each gate journaled, and each gate's own status.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import type { VenueRulesDocument } from '@onecard/protocol/venue';
import { cardNumberCheckChar, citizenIdCheckChar, maskCardNumber } from '@onecard/protocol/ssc';
import { CARDS, Supervisor, TERMINAL_BIN, simulatedReader, startFleetServer, terminalCli, until, sleep } from './box.ts';

/** A citizen ID number with its GB 11643 check digit; a card number with its check character. */
const citizenId = (first17: string): string => first17 + citizenIdCheckChar(first17);
const cardNo = (first8: string): string => first8 + cardNumberCheckChar(first8);
/** JSON answers of the local and admin APIs, read field by field in the assertions. */
type Json = any;

t.test('two venue gates: every rule, online and offline, counts match the journals', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'venue-e2e-'));
  const server = await startFleetServer({ dir });
  const base = JSON.parse(readFileSync(join(CARDS, 'ssc-2.00.json'), 'utf8')) as Record<string, unknown>;
  const card = (name: string, o: Record<string, unknown>): string => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ ...base, ...o }));
    return file;
  };
  const ADULT = card('adult', { cardNumber: cardNo('V0000001'), ssn: citizenId('63990019900315001') });
  const SENIOR = card('senior', { cardNumber: cardNo('V0000002'), ssn: citizenId('63990019500101002') });
  const EXPIRED = card('expired', { cardNumber: cardNo('V0000003'), ssn: citizenId('63990019800101003'), issueDate: '20100101', expiryDate: '20200101' });
  const LOST = card('lost', { cardNumber: cardNo('V0000004'), ssn: citizenId('63990019800101004') });
  const GUEST = card('guest', { cardNumber: cardNo('V0000005'), ssn: citizenId('63990019800101005') });
  const OTHER = card('other', { cardNumber: cardNo('V0000006'), ssn: citizenId('63990019800101006') });
  const LATE = card('late', { cardNumber: cardNo('V0000007'), ssn: citizenId('63990019800101007') });

  interface Gate { name: string; id: string; reader: Awaited<ReturnType<typeof simulatedReader>>; sup: Supervisor; url: string; token: string }
  const gates: Gate[] = [];
  t.teardown(async () => {
    for (const g of gates) { await g.sup.stop(); g.reader.close(); }
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of ['gate-east', 'gate-west']) {
    const reader = await simulatedReader(join(dir, `tty-${name}`), 'ssc-2.00.json', 'psam.json');
    const dataDir = join(dir, name);
    const enrolled = await terminalCli(['enroll', '--server', server.httpUrl, '--token', await server.enrolmentToken('museum'), '--data-dir', dataDir, '--name', name, '--kind', 'gate']);
    t.equal(enrolled.code, 0, enrolled.stderr);
    const id = /enrolled: terminal (T[0-9A-Za-z_-]+)/.exec(enrolled.stdout)?.[1] ?? '';
    writeFileSync(join(dataDir, 'terminal.json'), JSON.stringify({
      readers: [{ id: 'front', link: 'serial', path: reader.device, model: 'gemcore-sim-pro2', userSlot: 0, psamSlot: 1 }],
      api: { port: 0 }, log: { level: 'info', file: join(dir, `${name}.log`) },
    }));
    const sup = new Supervisor({ env: {}, pre: [], start: [process.execPath, TERMINAL_BIN, 'run', '--data-dir', dataDir], workingDirectory: undefined }, false);
    const run = await sup.start();
    const url = await run.url;
    gates.push({ name, id, reader, sup, url, token: readFileSync(join(dataDir, 'api-token'), 'utf8').trim() });
  }
  const [east, west] = gates as [Gate, Gate];

  const api = async (g: Gate, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const r = await fetch(`${g.url}${path}`, { method, headers: { 'x-onecard-token': g.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: r.status, body: await r.json() };
  };
  // What each gate journaled, from its answers: the server's counts must come to the same.
  const journal = new Map<string, { entries: number; exits: number; refused: Record<string, number> }>(gates.map((g) => [g.id, { entries: 0, exits: 0, refused: {} }]));
  const present = async (g: Gate, file: string): Promise<void> => {
    g.reader.send(`swap ${file}`);
    await sleep(300);
  };
  const enter = async (g: Gate, file: string): Promise<Json> => {
    await present(g, file);
    const r = await until(`${g.name} decision`, async () => {
      const x = await api(g, 'POST', '/v1/venue/entry', {});
      return x.status === 409 && ['TERM_ERR_NO_CARD', 'TERM_ERR_CARD_REMOVED'].includes(x.body?.error?.code) ? undefined : x;
    }, 20_000, 200);
    t.equal(r.status, 200, `${g.name}: ${JSON.stringify(r.body)}`);
    const j = journal.get(g.id)!;
    if (r.body.admit === true) j.entries++;
    else j.refused[r.body.reason] = (j.refused[r.body.reason] ?? 0) + 1;
    return r.body;
  };
  const exit = async (g: Gate): Promise<void> => {
    t.equal((await api(g, 'POST', '/v1/venue/exit')).status, 200);
    journal.get(g.id)!.exits++;
  };
  const counts = async (): Promise<Json> => (await server.call('GET', `/api/v1/venues/city-museum/counts?date=${today}`)).body;
  // Both gates' records are at the server and both gates fetched a snapshot after that.
  const settled = async (): Promise<void> => {
    const want = [...journal.values()].reduce((a, j) => a + j.entries, 0);
    await until('server counts caught up', async () => (await counts()).entries === want);
    for (const g of gates) {
      const at = Date.now();
      await until(`${g.name} re-synced`, async () => ((await api(g, 'GET', '/v1/venue/status')).body.snapshot?.receivedAt ?? 0) > at);
    }
  };

  const today = new Date().toISOString().slice(0, 10);
  const weekday = ((new Date().getUTCDay() + 6) % 7) + 1;
  const rules: VenueRulesDocument = {
    venueId: 'city-museum', name: 'City Museum', timeZone: 'UTC',
    hours: [], closedDates: [], maxDailyEntries: 1, capacity: 3, priceFen: 3000,
    categories: [{ id: 'senior', minAge: 60, priceFen: 0 }],
    registeredOnlyDates: [], accept: { generations: ['2.0', '3.0'], cardTypes: [], ecard: true },
    syncIntervalSeconds: 1, maxStaleSeconds: 60,
  };
  const doc = (r: VenueRulesDocument): TerminalConfigDocument => ({
    ...EXAMPLE_TERMINAL_CONFIG, name: 'museum gates', readers: [],
    upload: { ...EXAMPLE_TERMINAL_CONFIG.upload, intervalSeconds: 1 }, telemetry: { intervalSeconds: 5 }, venues: r,
  });
  let version = 0;
  const push = async (r: VenueRulesDocument): Promise<void> => {
    const res = version === 0
      ? await server.call('POST', '/api/v1/configs', { id: 'museum', name: 'museum gates', document: doc(r) })
      : await server.call('PUT', '/api/v1/configs/museum', { document: doc(r), expectedVersion: version });
    t.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
    version = (res.body as { version: number }).version;
    if (res.status === 201) t.equal((await server.call('PUT', '/api/v1/groups/museum/config', { configId: 'museum' })).status, 200);
    for (const g of gates) await until(`${g.name} applied ${version}`, async () => (await server.call('GET', `/api/v1/terminals/${g.id}/config`)).body?.appliedVersion === version);
  };

  await push(rules);
  for (const g of gates) await until(`${g.name} venue data fresh`, async () => (await api(g, 'GET', '/v1/venue/status')).body.fresh === true);

  // ── hours ──
  await push({ ...rules, closedDates: [today] });
  t.match(await enter(east, ADULT), { admit: false, reason: 'closed-day' });
  await push({ ...rules, hours: [{ days: [weekday === 7 ? 1 : weekday + 1], open: '00:00', close: '24:00' }] });
  t.match(await enter(west, ADULT), { admit: false, reason: 'closed-hours' });
  await push(rules);

  // ── admitted, daily quota across both gates, fare category ──
  t.match(await enter(east, ADULT), { admit: true, reason: 'admitted', category: 'standard', priceFen: 3000, via: 'card', holder: maskCardNumber(cardNo('V0000001')) });
  await settled();
  t.match(await enter(west, ADULT), { admit: false, reason: 'daily-limit' }, 'the entry at the other gate counts');
  t.match(await enter(west, SENIOR), { admit: true, category: 'senior', priceFen: 0 }, 'a senior by the ID number enters free');

  // ── expired, hotlisted ──
  t.match(await enter(east, EXPIRED), { admit: false, reason: 'expired' });
  t.equal((await server.call('POST', '/api/v1/hotlist/report', { cardNumbers: [cardNo('V0000004')], reason: 'lost' })).status, 200);
  await present(east, LOST);
  await until('east has the hotlist delta', async () => (await api(east, 'POST', '/v1/card/read', {})).body?.error?.code === 'TERM_ERR_CARD_HOTLISTED', 30_000, 300);
  t.match(await enter(east, LOST), { admit: false, reason: 'hotlisted' });

  // ── capacity across the gates, an exit makes room ──
  t.match(await enter(east, GUEST), { admit: true, occupancy: 3 });
  await settled();
  t.match(await enter(west, OTHER), { admit: false, reason: 'capacity-full', occupancy: 3 }, 'full: two entered at east, one at west');
  await exit(east);
  await settled();
  t.match(await enter(west, OTHER), { admit: true, occupancy: 3 }, 'the exit at east made room at west');

  // ── offline: west is cut off (disabled); it decides alone within maxStaleSeconds, then refuses capacity ──
  await push({ ...rules, capacity: 10, maxStaleSeconds: 10 });
  await settled();
  t.equal((await server.call('POST', `/api/v1/terminals/${west.id}/disable`)).status, 200);
  await until('west offline', async () => (await server.call('GET', `/api/v1/terminals/${west.id}`)).body?.online === false);
  const offlineAdmit = await enter(west, LATE);
  t.match(offlineAdmit, { admit: true, fresh: true }, 'offline within the limit: admitted locally');
  await sleep(11_000);
  t.match(await enter(west, EXPIRED), { admit: false, reason: 'expired' }, 'offline: card rules still apply');
  t.match(await enter(west, card('late2', { cardNumber: cardNo('V0000008'), ssn: citizenId('63990019800101008') })), { admit: false, reason: 'venue-data-stale', fresh: false }, 'past maxStaleSeconds: capacity cannot be decided');
  t.equal((await server.call('POST', `/api/v1/terminals/${west.id}/enable`)).status, 200);
  await until('west back online', async () => (await server.call('GET', `/api/v1/terminals/${west.id}`)).body?.online === true, 90_000);
  await settled();
  t.equal((await counts()).byTerminal.find((g: { terminalId: string }) => g.terminalId === west.id).entries, journal.get(west.id)!.entries, 'the offline entry reached the server after the reconnect');

  // ── registered-only event day: registration at a terminal with card + PIN ──
  await push({ ...rules, capacity: 0, maxDailyEntries: 0 });
  const now = Date.now();
  const ev = await server.call('POST', '/api/v1/venue-events', { venueId: 'city-museum', name: 'Lantern night', date: today, capacity: 10, opensAt: now - 60_000, closesAt: now + 3_600_000 });
  t.equal(ev.status, 201);
  await present(east, GUEST);
  t.equal((await api(east, 'POST', '/v1/venue/registrations', { eventId: ev.body.id, pin: '000000' })).body.error?.code, 'TERM_ERR_PIN_WRONG', 'wrong PIN: not registered');
  const reg = await api(east, 'POST', '/v1/venue/registrations', { eventId: ev.body.id, pin: '123456' });
  t.match(reg.body, { status: 'registered', eventId: ev.body.id, cardNumber: maskCardNumber(cardNo('V0000005')) });
  await settled();
  t.match(await enter(west, GUEST), { admit: true, reason: 'admitted-registered', eventId: ev.body.id });
  t.match(await enter(west, ADULT), { admit: false, reason: 'not-registered' });
  t.match(await enter(east, SENIOR), { admit: false, reason: 'not-registered' });

  // ── the server's counts are the gates' journals ──
  const same = (s: { entries: number; exits: number; refused: Record<string, number> } | undefined, j: { entries: number; exits: number; refused: Record<string, number> }): boolean =>
    s !== undefined && s.entries === j.entries && s.exits === j.exits && JSON.stringify(Object.entries(s.refused).sort()) === JSON.stringify(Object.entries(j.refused).sort());
  await until('every journaled record counted at the server', async () => {
    const c = await counts();
    return gates.every((g) => same(c.byTerminal.find((x: { terminalId: string }) => x.terminalId === g.id), journal.get(g.id)!));
  }, 30_000);
  const c = await counts();
  for (const g of gates) {
    const j = journal.get(g.id)!;
    const s = c.byTerminal.find((x: { terminalId: string }) => x.terminalId === g.id);
    t.ok(same(s, j), `${g.name}: server counts = the gate's journal ${JSON.stringify(j)}`);
    const st = (await api(g, 'GET', '/v1/venue/status')).body;
    t.same(st.gate, { entries: j.entries, exits: j.exits }, `${g.name}: its own ledger`);
  }
  t.equal(c.entries, [...journal.values()].reduce((a, j) => a + j.entries, 0));
  t.same(c.categories, { standard: c.entries - 1, senior: 1 });
});
