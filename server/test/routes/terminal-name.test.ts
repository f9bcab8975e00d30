// Terminal human names: given at enrolment, set or cleared by an operator with
// PATCH /api/v1/terminals/{id} (audited, viewers refused), shown in the terminal views; names with
// NUL, control characters or bidirectional overrides are refused with a coded error and nothing
// changes.
import t from 'tap';
import { makeTestApp, newTerminalKey } from '../helpers.ts';

t.test('terminal names: enrolment, PATCH by an operator, audit, unsafe text refused', async (t) => {
  const { app, auth, tokenFor } = await makeTestApp();
  t.teardown(() => app.close());
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'halls', name: 'Halls' } })).statusCode, 201);
  const token = async (): Promise<string> => (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'halls' } })).json<{ token: string }>().token;

  const named = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: await token(), publicKey: newTerminalKey(), kind: 'kiosk', name: 'hall-kiosk' } });
  t.equal(named.statusCode, 201);
  const id = named.json<{ terminalId: string; name: string }>().terminalId;
  t.equal(named.json<{ name: string }>().name, 'hall-kiosk', 'enrolment answers with the name');
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/terminals/${id}`, headers: auth() })).json<{ name: string }>().name, 'hall-kiosk');

  const unnamed = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: await token(), publicKey: newTerminalKey() } });
  t.equal(unnamed.statusCode, 201);
  t.equal(unnamed.json<{ name: null }>().name, null, 'no name given: null');

  for (const [bad, code] of [['a\u0000b', 'SRV_ERR_UNSAFE_TEXT'], ['kiosk\u202Egnp.exe', 'SRV_ERR_UNSAFE_TEXT'], ['line\nbreak', 'SRV_ERR_VALIDATION'], [' padded', 'SRV_ERR_VALIDATION'], ['x'.repeat(65), 'SRV_ERR_VALIDATION']] as const) {
    const r = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: await token(), publicKey: newTerminalKey(), name: bad } });
    t.equal(r.statusCode, 400, `enrolment with ${JSON.stringify(bad)} refused`);
    t.equal(r.json<{ error: { code: string } }>().error.code, code);
  }

  const operator = await tokenFor('operator');
  const viewer = await tokenFor('viewer');
  const patch = (name: unknown, who = operator) => app.inject({ method: 'PATCH', url: `/api/v1/terminals/${id}`, headers: auth(who), payload: { name } });
  t.equal((await patch('pharmacy 3', viewer)).statusCode, 403, 'a viewer cannot rename');
  const ok = await patch('药房 3 号');
  t.equal(ok.statusCode, 200);
  t.equal(ok.json<{ name: string }>().name, '药房 3 号');
  t.notOk('credentialHash' in ok.json<Record<string, unknown>>(), 'no credential hash in the view');
  for (const [bad, code] of [['evil\u202Ename', 'SRV_ERR_UNSAFE_TEXT'], ['nul\u0000', 'SRV_ERR_UNSAFE_TEXT'], ['\u2066isolate', 'SRV_ERR_UNSAFE_TEXT'], ['tab\tname', 'SRV_ERR_VALIDATION'], ['', 'SRV_ERR_VALIDATION']] as const) {
    const r = await patch(bad);
    t.equal(r.statusCode, 400, `PATCH ${JSON.stringify(bad)} refused`);
    t.equal(r.json<{ error: { code: string } }>().error.code, code);
  }
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/terminals/${id}`, headers: auth() })).json<{ name: string }>().name, '药房 3 号', 'refused names changed nothing');
  t.equal((await app.inject({ method: 'PATCH', url: '/api/v1/terminals/Tnope', headers: auth(operator), payload: { name: 'x' } })).statusCode, 404);
  const cleared = await patch(null);
  t.equal(cleared.statusCode, 200);
  t.equal(cleared.json<{ name: null }>().name, null, 'null clears the name');

  const listed = (await app.inject({ method: 'GET', url: '/api/v1/terminals', headers: auth() })).json<{ terminals: { id: string; name: string | null }[] }>().terminals;
  t.ok(listed.some((x) => x.id === id && x.name === null));
  const audit = (await app.inject({ method: 'GET', url: '/api/v1/audit?action=terminal.rename', headers: auth() })).json<{ entries?: { target: string; details: Record<string, unknown> }[]; audit?: unknown[] }>();
  const entries = (audit.entries ?? audit.audit ?? []) as { target: string; details: { from: unknown; to: unknown } }[];
  t.same(entries.filter((e) => e.target === id).map((e) => [e.details.from, e.details.to]).reverse(), [['hall-kiosk', '药房 3 号'], ['药房 3 号', null]], 'each rename audited with from/to');
});
