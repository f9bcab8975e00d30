/**
 * The departments' interface end to end over `inject()`: an admin registers departments and
 * imports cards; a department gets a token (client credentials) and makes every call — allowed,
 * refused for a purpose not granted, refused without consent, refused after the consent expired
 * (injected clock) and after it was revoked, a batch verification run and downloaded, the change
 * feed; tokens that are wrong, expired, of a disabled department or another department's job are
 * refused; the holder's tracker (admin and terminal views) shows exactly the accesses made; and a
 * scan of the log, metrics, audit and every admin read finds no plain ID number or name.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { csvLine, syntheticCard, syntheticCardNumber, SYNTHETIC_CSV_HEADER } from '../../src/registry/synthetic.ts';
import { idCheckCharacter, maskIdNumber } from '../../src/registry/model.ts';

const MASTER = new Uint8Array(randomBytes(32));
const N = 40;
const cards = Array.from({ length: N }, (_, i) => syntheticCard(i));
const holder = cards[3]!;
const other = cards[4]!;

interface Enrolled { terminalId: string; password: string }
async function enrol(ta: TestApp): Promise<Enrolled> {
  await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: 'hall', name: 'hall' } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: 'hall' } })).json() as { token: string };
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: r.terminalId, password: r.mqtt.password };
}

t.test('departments: register, import, every call allowed and refused, consent lifecycle, batch, feed, tracker, no personal data leaks', async (t) => {
  const logLines: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { logLines.push(chunk.toString('utf8')); cb(); } });
  const ta = await makeTestApp({ masterKey: MASTER, logger: { level: 'debug', stream } });
  const { app, auth, clock } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const kiosk = await enrol(ta);
  const term = { authorization: `Bearer ${kiosk.password}` };

  // ── registry import: CSV (with refused rows) and JSON lines; idempotent ──
  const bad = [
    `${cards[0]!.cardNumber.slice(0, 8)}0,${cards[0]!.idNumber},${cards[0]!.name},330102,3.0,2024-03-01,2034-03-01,active`, // card check character
    `${syntheticCardNumber(1000)},${holder.idNumber.slice(0, 17)}${holder.idNumber[17] === '0' ? '1' : '0'},某人,330102,3.0,2024-03-01,2034-03-01,active`, // ID check character
    `${syntheticCardNumber(1001)},99010119900307777${idCheckCharacter('99010119900307777')},某人,999999,4.0,2024-02-30,2023-01-01,active`, // region, generation, dates
  ];
  const csv = [SYNTHETIC_CSV_HEADER, ...cards.slice(0, 30).map(csvLine), ...bad].join('\n');
  const op = await ta.tokenFor('operator');
  const imp = await app.inject({ method: 'POST', url: '/api/v1/registry/import', headers: { ...auth(op), 'content-type': 'text/csv' }, payload: csv });
  t.equal(imp.statusCode, 200, imp.body);
  const rep = imp.json() as { id: string; rows: number; created: number; refusedCount: number; refused: { line: number; problems: { field: string; reason: string }[] }[] };
  t.match(rep, { rows: 33, created: 30, refusedCount: 3 });
  t.same(rep.refused.map((r) => [r.line, r.problems.map((p) => `${p.field}:${p.reason}`)]), [
    [32, ['cardNumber:check-digit']],
    [33, ['idNumber:check-digit']],
    [34, ['idNumber:address-code', 'region:unknown', 'generation:unknown', 'issuedOn:calendar']],
  ], 'refused rows name the line and the failed fields, never the values');
  const jsonl = cards.slice(25).map((c) => JSON.stringify(c)).join('\n');
  const imp2 = (await app.inject({ method: 'POST', url: '/api/v1/registry/import', headers: { ...auth(op), 'content-type': 'application/x-ndjson' }, payload: jsonl })).json() as Record<string, number>;
  t.match(imp2, { rows: 15, created: 10, unchanged: 5, refusedCount: 0 }, 'JSON lines; the overlap is unchanged');
  const again = (await app.inject({ method: 'POST', url: '/api/v1/registry/import', headers: { ...auth(op), 'content-type': 'text/csv' }, payload: csv })).json() as Record<string, number>;
  t.match(again, { created: 0, updated: 0, unchanged: 30, refusedCount: 3 }, 'idempotent re-import');
  t.match((await app.inject({ url: `/api/v1/registry/imports/${rep.id}`, headers: auth(op) })).json(), { state: 'done', rows: 33 }, 'progress/report kept');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/registry/import', headers: { ...auth(op), 'content-type': 'text/csv' }, payload: 'a,b\n1,2' })).json().error.code, 'SRV_ERR_REGISTRY_IMPORT_FORMAT');

  // ── departments ──
  const mkDept = async (id: string, purposes: string[], extra: Record<string, unknown> = {}) => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/sharing/departments', headers: auth(), payload: { id, name: id, purposes, ...extra } });
    t.equal(r.statusCode, 201, r.body);
    return r.json() as { clientId: string; clientSecret: string };
  };
  const civil = await mkDept('civil', ['subsidy', 'public-service']);
  const credit = await mkDept('credit', ['credit-query']);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/sharing/departments', headers: auth(op), payload: { id: 'x', name: 'x', purposes: [] } })).statusCode, 403, 'only admins register departments');

  const token = async (c: { clientId: string; clientSecret: string }) => {
    const r = await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}` }, payload: 'grant_type=client_credentials' });
    t.equal(r.statusCode, 200, r.body);
    return (r.json() as { access_token: string }).access_token;
  };
  const badToken = await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${civil.clientId}&client_secret=wrong` });
  t.equal(badToken.statusCode, 401);
  t.match(badToken.json(), { error: 'invalid_client', code: 'SRV_ERR_SHARING_INVALID_CLIENT' });
  t.equal((await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=password&client_id=${civil.clientId}&client_secret=${civil.clientSecret}` })).json().error, 'unsupported_grant_type');
  const tc = await token(civil);
  const tk = await token(credit);
  const dep = (tok: string) => ({ authorization: `Bearer ${tok}` });

  // ── calls ──
  const status = await app.inject({ url: `/sharing/v1/cards/${holder.cardNumber}/status?purpose=public-service`, headers: dep(tc) });
  t.same(status.json(), { cardNumber: holder.cardNumber, known: true, usable: true, status: 'active' }, 'card status: no personal data');
  t.equal((await app.inject({ url: `/sharing/v1/cards/${holder.cardNumber}/status?purpose=credit-query`, headers: dep(tc) })).json().error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED');

  const verify = (tok: string, purpose: string, idNumber: string, name: string) => app.inject({ method: 'POST', url: '/sharing/v1/holders/verify', headers: dep(tok), payload: { purpose, idNumber, name } });
  t.same((await verify(tc, 'subsidy', holder.idNumber, holder.name)).json(), { match: true });
  t.same((await verify(tc, 'subsidy', holder.idNumber.toLowerCase(), other.name)).json(), { match: false }, 'wrong name: no, nothing else');
  t.equal((await verify(tk, 'subsidy', holder.idNumber, holder.name)).json().error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED');

  const basic = (tok: string, purpose: string, cardNumber = holder.cardNumber) => app.inject({ method: 'POST', url: '/sharing/v1/holders/basic-info', headers: dep(tok), payload: { purpose, cardNumber } });
  const noConsent = await basic(tc, 'public-service');
  t.equal(noConsent.statusCode, 403);
  t.equal(noConsent.json().error.code, 'SRV_ERR_SHARING_NO_CONSENT');

  // Consent at the kiosk (card + PIN verified there), 30 days, for one purpose.
  const grant = await app.inject({ method: 'POST', url: '/api/v1/terminal/sharing/consents', headers: term, payload: { cardNumber: holder.cardNumber, pinVerified: true, department: 'civil', purposes: ['public-service'], days: 30 } });
  t.equal(grant.statusCode, 201, grant.body);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminal/sharing/consents', headers: term, payload: { cardNumber: holder.cardNumber, pinVerified: true, department: 'civil', purposes: ['credit-query'], days: 30 } })).json().error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED', 'no consent for a purpose the department may not use');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminal/sharing/consents', payload: { cardNumber: holder.cardNumber, pinVerified: true, department: 'civil', purposes: ['subsidy'], days: 30 } })).statusCode, 401, 'terminal credentials required');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminal/sharing/consents', headers: term, payload: { cardNumber: holder.cardNumber, pinVerified: false, department: 'civil', purposes: ['subsidy'], days: 30 } })).statusCode, 400, 'the PIN must have been verified');
  const info = await basic(tc, 'public-service');
  t.equal(info.statusCode, 200, info.body);
  t.match(info.json(), { cardNumber: holder.cardNumber, name: holder.name, idNumber: holder.idNumber, region: holder.region, generation: '3.0', status: 'active' });
  t.equal((await basic(tc, 'subsidy')).json().error.code, 'SRV_ERR_NO_CONSENT'.replace('SRV_ERR_', 'SRV_ERR_SHARING_'), 'the consent covers only its purpose');
  t.equal((await basic(tk, 'credit-query')).json().error.code, 'SRV_ERR_SHARING_NO_CONSENT', 'nor another department');

  clock.advance(31 * 86_400_000);
  // Tokens are short-lived: the ones issued 31 days ago are refused (and reach no data).
  t.equal((await verify(tc, 'subsidy', holder.idNumber, holder.name)).json().error.code, 'SRV_ERR_SHARING_INVALID_TOKEN');
  const tc2 = await token(civil);
  const tk2 = await token(credit);
  const expired = await basic(tc2, 'public-service');
  t.equal(expired.json().error.code, 'SRV_ERR_SHARING_CONSENT_EXPIRED', 'refused after expiry');
  const grant2 = (await app.inject({ method: 'POST', url: '/api/v1/terminal/sharing/consents', headers: term, payload: { cardNumber: holder.cardNumber, pinVerified: true, department: 'civil', purposes: ['public-service'], days: 1 } })).json() as { consents: { id: string }[] };
  t.equal((await basic(tc2, 'public-service')).statusCode, 200, 'renewed consent');
  const rv = await app.inject({ method: 'POST', url: `/api/v1/terminal/sharing/consents/${grant2.consents[0]!.id}/revoke`, headers: term, payload: { cardNumber: other.cardNumber, pinVerified: true } });
  t.equal(rv.statusCode, 404, 'another holder cannot revoke it');
  t.same((await app.inject({ method: 'POST', url: `/api/v1/terminal/sharing/consents/${grant2.consents[0]!.id}/revoke`, headers: term, payload: { cardNumber: holder.cardNumber, pinVerified: true } })).json(), { revoked: true });
  t.equal((await basic(tc2, 'public-service')).json().error.code, 'SRV_ERR_SHARING_CONSENT_REVOKED', 'refused after revocation');

  // ── batch verification ──
  const items = cards.slice(0, 25).map((c, i) => ({ ref: `b${i}`, idNumber: c.idNumber, name: i % 5 === 0 ? other.name : c.name }));
  items.push({ ref: 'unknown', idNumber: '110101199003077777', name: '某人' });
  const tooMany = await app.inject({ method: 'POST', url: '/sharing/v1/batch-verifications', headers: dep(tc2), payload: { purpose: 'subsidy', items: Array.from({ length: 10_001 }, () => ({ idNumber: '1', name: 'x' })) } });
  t.equal(tooMany.statusCode, 400, 'over 10,000 items refused');
  t.equal(tooMany.json().error.code, 'SRV_ERR_SHARING_BATCH_LIMIT');
  t.equal((await app.inject({ method: 'POST', url: '/sharing/v1/batch-verifications', headers: dep(tk2), payload: { purpose: 'subsidy', items } })).json().error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED');
  const job = await app.inject({ method: 'POST', url: '/sharing/v1/batch-verifications', headers: dep(tc2), payload: { purpose: 'subsidy', items } });
  t.equal(job.statusCode, 202, job.body);
  const jobId = (job.json() as { jobId: string }).jobId;
  let st: { status: string; matched?: number } = { status: 'queued' };
  for (let i = 0; i < 200 && st.status !== 'done'; i++) {
    st = (await app.inject({ url: `/sharing/v1/batch-verifications/${jobId}`, headers: dep(tc2) })).json() as typeof st;
    if (st.status !== 'done') await new Promise((r) => setTimeout(r, 10));
  }
  t.match(st, { status: 'done', total: 26, matched: 20 });
  const result = await app.inject({ url: `/sharing/v1/batch-verifications/${jobId}/result`, headers: dep(tc2) });
  t.match(result.headers['content-type'], /application\/x-ndjson/);
  const lines = result.body.trim().split('\n').map((l) => JSON.parse(l) as { index: number; ref: string; match: boolean });
  t.equal(lines.length, 26);
  t.same(lines.filter((l) => !l.match).map((l) => l.ref), ['b0', 'b5', 'b10', 'b15', 'b20', 'unknown']);
  t.equal((await app.inject({ url: `/sharing/v1/batch-verifications/${jobId}/result`, headers: dep(tk2) })).statusCode, 404, 'another department cannot read the job');

  // ── change feed: a loss reported at the kiosk (terminal record) moves the registry ──
  const feed0 = (await app.inject({ url: '/sharing/v1/changes?purpose=subsidy', headers: dep(tc2) })).json() as { changes: unknown[]; cursor: number };
  t.same(feed0.changes, []);
  await app.uplink.dispatch('events', kiosk.terminalId, { v: 1, records: [{ eventId: 'evt-00000001', seq: 1, ts: clock.now(), type: 'card.loss-report', body: { cardNumber: other.cardNumber, pinVerified: true } }] }, '');
  const feed1 = (await app.inject({ url: `/sharing/v1/changes?purpose=subsidy&cursor=${feed0.cursor}`, headers: dep(tc2) })).json() as { changes: { cardNumber: string; status: string; usable: boolean }[]; cursor: number };
  t.match(feed1.changes, [{ cardNumber: other.cardNumber, status: 'reported-lost', usable: false, hotlisted: true }]);
  t.same((await app.inject({ url: `/sharing/v1/changes?purpose=subsidy&cursor=${feed1.cursor}`, headers: dep(tc2) })).json().changes, [], 'cursor moves on');
  t.same((await verify(tc2, 'subsidy', other.idNumber, other.name)).json(), { match: false }, 'a lost card verifies no more');
  t.equal((await app.inject({ url: '/sharing/v1/changes?purpose=credit-query', headers: dep(tc2) })).json().error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED');

  // ── tokens refused ──
  for (const h of [{}, { authorization: 'Bearer nonsense' }, { authorization: `Bearer ocdtok_${'A'.repeat(43)}` }, dep(tc)]) {
    const r = await app.inject({ url: `/sharing/v1/cards/${holder.cardNumber}/status?purpose=subsidy`, headers: h });
    t.equal(r.statusCode, 401);
    t.equal(r.json().error.code, 'SRV_ERR_SHARING_INVALID_TOKEN');
  }
  t.equal((await app.inject({ url: '/api/v1/terminals', headers: dep(tc2) })).statusCode, 401, 'a department token is no admin token');
  await app.inject({ method: 'PATCH', url: '/api/v1/sharing/departments/credit', headers: auth(), payload: { disabled: true } });
  t.equal((await app.inject({ url: `/sharing/v1/cards/${holder.cardNumber}/status?purpose=credit-query`, headers: dep(tk2) })).statusCode, 401, 'a disabled department\'s token stops at once');

  // ── tracker: exactly the accesses made to the holder's data ──
  const tracker = (await app.inject({ url: `/api/v1/registry/cards/${holder.cardNumber}/accesses`, headers: auth() })).json() as { accesses: { department: string; purpose: string; call: string; outcome: string; released: string[] }[]; consents: unknown[] };
  const seen = tracker.accesses.map((a) => `${a.department} ${a.purpose} ${a.call} ${a.outcome} ${a.released.join('+')}`).reverse();
  t.same(seen, [
    'civil public-service card-status released status',
    'civil credit-query card-status SRV_ERR_SHARING_PURPOSE_NOT_GRANTED ',
    'civil subsidy verify released match',
    'civil subsidy verify released match',
    'credit subsidy verify SRV_ERR_SHARING_PURPOSE_NOT_GRANTED ',
    'civil public-service basic-info SRV_ERR_SHARING_NO_CONSENT ',
    'civil public-service basic-info released name+idNumber+region+generation+issuedOn+expiresOn+status',
    'civil subsidy basic-info SRV_ERR_SHARING_NO_CONSENT ',
    'credit credit-query basic-info SRV_ERR_SHARING_NO_CONSENT ',
    'civil public-service basic-info SRV_ERR_SHARING_CONSENT_EXPIRED ',
    'civil public-service basic-info released name+idNumber+region+generation+issuedOn+expiresOn+status',
    'civil public-service basic-info SRV_ERR_SHARING_CONSENT_REVOKED ',
    'civil subsidy batch-verify released match',
  ], 'every access and refusal, nothing else (the invalid-token call reached no data)');
  t.equal(tracker.consents.length, 2);
  const own = await app.inject({ method: 'POST', url: '/api/v1/terminal/sharing/tracker', headers: term, payload: { cardNumber: holder.cardNumber, pinVerified: true } });
  t.same((own.json() as { accesses: unknown[] }).accesses, tracker.accesses, 'the holder sees the same list at the kiosk');
  t.ok((tracker.accesses as { department: string; departmentName?: string }[]).every((a) => a.departmentName === a.department), 'each access names its department (registered with its id as name here)');
  const otherTracker = (await app.inject({ url: `/api/v1/registry/cards/${other.cardNumber}/accesses`, headers: auth() })).json() as { accesses: { call: string }[] };
  t.same(otherTracker.accesses.map((a) => a.call), ['verify', 'batch-verify'], 'the other holder: only their own accesses (newest first: verify after the loss, the batch); the verify that used their name with another ID number is not theirs');

  // ── admin views are masked; reveal is admin-only and audited ──
  const viewer = await ta.tokenFor('viewer');
  const masked = (await app.inject({ url: `/api/v1/registry/cards/${holder.cardNumber}`, headers: auth(viewer) })).json() as { idNumber: string; name: string };
  t.equal(masked.idNumber, maskIdNumber(holder.idNumber));
  t.not(masked.name, holder.name);
  t.equal((await app.inject({ url: `/api/v1/registry/cards/${holder.cardNumber}?reveal=true`, headers: auth(viewer) })).statusCode, 403);
  const revealed = (await app.inject({ url: `/api/v1/registry/cards/${holder.cardNumber}?reveal=true`, headers: auth() })).json() as { idNumber: string };
  t.equal(revealed.idNumber, holder.idNumber);
  t.equal(((await app.inject({ url: '/api/v1/audit?action=registry.reveal', headers: auth() })).json() as { entries: unknown[] }).entries.length, 1, 'the reveal is audited');

  // ── the scan: no plain ID number or name outside the consented answer and the audited reveal ──
  const plain = cards.flatMap((c) => [c.idNumber, c.name]);
  const found = (text: string): string[] => plain.filter((p) => text.includes(p));
  await app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' }).then((r) => t.same(found(r.body), [], 'metrics'));
  const exports = [
    '/api/v1/audit?limit=1000', '/api/v1/events?limit=1000', '/api/v1/events/export.csv', '/api/v1/registry/accesses?limit=1000', `/api/v1/registry/cards/${holder.cardNumber}/history`,
    `/api/v1/registry/imports/${rep.id}`, '/api/v1/sharing/departments', '/api/v1/hotlist', '/docs/json',
  ];
  for (const url of exports) {
    const r = await app.inject({ url, headers: auth(), remoteAddress: '127.0.0.1' });
    t.equal(r.statusCode, 200, url);
    t.same(found(r.body), [], `no plain personal data in ${url}`);
  }
  const dump = (app.ctx.store as unknown as { db: { prepare(s: string): { all(): unknown[] } } }).db;
  for (const table of ['registry_cards', 'registry_history', 'sharing_access', 'sharing_consents', 'sharing_jobs', 'audit', 'events']) {
    t.same(found(JSON.stringify(dump.prepare(`SELECT * FROM ${table}`).all())), [], `no plain personal data at rest in ${table}`);
  }
  t.ok(logLines.length > 20, 'the log was captured');
  t.same(found(logLines.join('')), [], 'no plain ID number or name in the log');
  t.notOk(logLines.join('').includes(civil.clientSecret) || logLines.join('').includes(tc2), 'no client secret or access token in the log');
});
