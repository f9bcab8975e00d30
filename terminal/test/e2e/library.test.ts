// End to end with a real terminal process (`onecard-terminal run --data-dir`, simulated reader on a
// pseudo-terminal, enrolled in a real fleet server) and the simulated library system on its own
// TCP port: the fleet pushes the library section; a holder borrows, renews and returns a book at
// the self-service loan desk; a blocked patron and a patron with fines are refused at the gate and
// at the desk with the reason; the terminal's library events reach the fleet server with the card
// number masked; the SIP2 password appears in no output, no admin read and no file of the
// terminal (the fleet seals it, the terminal keeps its own sealed copy); replacing it reaches the
// terminal (a wrong one makes the library refuse the login, the right one restores service).
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { SimLibrary, startLibraryServer } from '@onecard/simulators';
import { startScreensBox } from '../screens/harness.ts';
import { until } from './box.ts';

const PASSWORD = 'e2e-sip2-Password-7';

t.test('library loan desk and gate against the simulated library system, configured by the fleet', async (t) => {
  const lib = await startLibraryServer({
    library: new SimLibrary({
      patrons: [
        { cardNumber: 'X00000019', name: '张三', expires: '2099-12-31' },
        { cardNumber: 'X00000027', name: '李四', blocked: true },
        { cardNumber: 'D2143569X', name: '欧阳娜娜', finesFen: 3550 },
      ],
      items: [{ barcode: '31000001', title: '红楼梦', location: '二楼文学' }],
      rules: { maxRenewals: 1 },
    }),
    institutionId: 'CITYLIB', login: { user: 'kiosk01', password: PASSWORD }, charset: 'gbk',
  });
  t.teardown(() => lib.close());
  const box = await startScreensBox();
  t.teardown(() => box.close());

  const doc = {
    ...EXAMPLE_TERMINAL_CONFIG,
    name: 'library hall',
    readers: [],
    library: {
      host: '127.0.0.1', port: lib.port, institutionId: 'CITYLIB', user: 'kiosk01', password: PASSWORD, location: '一楼自助',
      charset: 'gbk' as const, errorDetection: true, timeoutMs: 2000, maxRetries: 2, gate: true, loanDesk: true,
    },
  };
  const created = await box.server.call('POST', '/api/v1/configs', { id: 'library', name: 'library hall', document: doc });
  t.equal(created.status, 201, JSON.stringify(created.body));
  t.equal((await box.server.call('PUT', '/api/v1/groups/hall/config', { configId: 'library' })).status, 200);
  const state = await until('library configuration applied', async () => {
    const s = (await box.server.call('GET', `/api/v1/terminals/${box.terminalId}/config`)).body;
    return s?.inSync === true && s?.reported?.status === 'applied' ? s : undefined;
  }, 90_000, 250);
  t.ok((state.reported.changes as { field: string }[]).some((c) => c.field === '/library/host'), 'the library fields are reported applied');
  // Sealed by the fleet: an admin read shows only that a password is set.
  const shown = await box.server.call('GET', '/api/v1/configs/library');
  t.same(shown.body.document.library.password, { set: true }, 'the admin API shows only that the password is set');
  t.notMatch(JSON.stringify(shown.body), PASSWORD, 'and never the password');

  const H = { 'x-onecard-token': box.token, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown = {}): Promise<{ status: number; body: Record<string, unknown> & { dueDate: string } }> => {
    const r = await fetch(`${box.apiUrl}${path}`, { method: 'POST', headers: H, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> & { dueDate: string } };
  };

  // ── a holder borrows, renews and returns ──
  await box.insert('ssc-2.00.json');
  const gate = await post('/v1/library/gate');
  t.equal(gate.status, 200, JSON.stringify(gate.body));
  t.match(gate.body, { admitted: true, name: '张*' });
  const out = await post('/v1/library/checkout', { barcode: '31000001' });
  t.match(out.body, { op: 'checkout', ok: true, title: '红楼梦', dueDate: /^\d{4}-\d{2}-\d{2}$/ });
  t.equal(lib.library.loan('31000001')?.cardNumber, 'X00000019', 'the library system lent it to the card number');
  const renewed = await post('/v1/library/renew', { barcode: '31000001' });
  t.match(renewed.body, { op: 'renew', ok: true });
  t.ok(renewed.body.dueDate > out.body.dueDate, `due date moved on (${out.body.dueDate} → ${renewed.body.dueDate})`);
  t.match((await post('/v1/library/renew', { barcode: '31000001' })).body, { ok: false, reason: 'item', message: /续借次数已满/ }, 'renew limit shown');
  await box.remove();
  const back = await post('/v1/library/checkin', { barcode: '31000001' });
  t.match(back.body, { op: 'checkin', ok: true, title: '红楼梦' });
  t.equal(lib.library.loan('31000001'), undefined, 'returned');

  // ── a blocked patron ──
  await box.insert('ssc-2.00-transit.json');
  t.match((await post('/v1/library/gate')).body, { admitted: false, reason: 'blocked', message: /停用/ });
  t.match((await post('/v1/library/checkout', { barcode: '31000001' })).body, { ok: false, reason: 'blocked' });
  await box.remove();

  // ── a patron with fines ──
  await box.insert('ssc-3.00-long-name.json');
  t.match((await post('/v1/library/gate')).body, { admitted: false, reason: 'fines', fees: '35.50 CNY', message: /罚款/ });
  t.match((await post('/v1/library/checkout', { barcode: '31000001' })).body, { ok: false, reason: 'fines' });
  await box.remove();
  t.equal(lib.library.loan('31000001'), undefined, 'nothing lent to refused patrons');
  t.same(lib.library.log.map((l) => `${l.op}:${l.ok}`), ['checkout:true', 'renew:true', 'renew:false', 'checkin:true'], 'refused patrons never reached checkout');

  // ── the journal reaches the fleet ──
  const events = await until('library events at the server', async () => {
    const r = await box.server.call('GET', `/api/v1/events?terminal=${box.terminalId}&typePrefix=library.&limit=100`);
    const list = (r.body?.events ?? []) as { type: string; body: Record<string, unknown> }[];
    return list.length >= 9 ? list : undefined;
  }, 60_000, 250);
  t.same(events.filter((e) => e.type === 'library.gate').map((e) => [e.body['admitted'], e.body['reason'] ?? '-']), [[true, '-'], [false, 'blocked'], [false, 'fines']]);
  t.same(events.filter((e) => e.type === 'library.loan').map((e) => `${e.body['op']}:${e.body['ok']}:${e.body['reason'] ?? '-'}`),
    ['checkout:true:-', 'renew:true:-', 'renew:false:item', 'checkin:true:-', 'checkout:false:blocked', 'checkout:false:fines']);
  t.notMatch(JSON.stringify(events), /X00000019|张三/, 'card number and name not in the events');

  // ── the password replaced through the fleet ──
  const setPassword = async (password: string): Promise<void> => {
    const r = await box.server.call('PUT', '/api/v1/configs/library', { document: { ...doc, library: { ...doc.library, password } } });
    t.equal(r.status, 200, JSON.stringify(r.body));
    const version = r.body.version as number;
    await until(`password of version ${version} applied`, async () => {
      const s = (await box.server.call('GET', `/api/v1/terminals/${box.terminalId}/config`)).body;
      return s?.appliedVersion === version && s?.reported?.status === 'applied' ? s : undefined;
    }, 90_000, 250);
  };
  await setPassword('not-the-library-password');
  await box.insert('ssc-2.00.json');
  const refused = await post('/v1/library/gate');
  t.equal(refused.status, 503, 'the library refuses the replaced (wrong) password');
  t.match(refused.body, { error: { code: 'TERM_ERR_LIBRARY_LOGIN' } });
  await setPassword(PASSWORD);
  t.match((await post('/v1/library/gate')).body, { admitted: true }, 'the right password again: service restored');
  await box.remove();

  // The terminal keeps only its own sealed copy: no file of its data directory holds the password.
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
  const data = files(join(box.dir, 'data'));
  t.ok(data.some((f) => f.endsWith(join('secrets', 'config-secrets.json'))), 'the sealed copy is kept');
  for (const f of data) t.notOk(readFileSync(f).includes(Buffer.from(PASSWORD)), `no clear password in ${f.slice(box.dir.length)}`);
  t.notMatch(box.logs(), PASSWORD, 'the SIP2 password is in no terminal or simulator output');
  t.notMatch(JSON.stringify((await box.server.call('GET', '/api/v1/audit?limit=1000')).body), PASSWORD, 'nor in the fleet audit log');
});
