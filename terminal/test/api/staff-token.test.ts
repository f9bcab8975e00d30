// The line between the API token and the staff services (docs/local-api.md "Staff gate",
// docs/security.md): a token holder such as a hospital HIS may not unblock or reset a PIN nor
// cancel a loss report (解挂) on its own — the token names nobody. Each such call must name a
// member of staff with their own fleet-issued credential (header x-onecard-staff), checked with the
// fleet server on every call (no offline grace), and the queued record carries their staff id. The
// cardholder's own loss report (PIN verified on the card) stays open to the token. The staff
// credential never reaches the log.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCardFromFile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, type CardAccess, type CheckStaff } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { TerminalError } from '../../src/errors.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'staff-token-test-token-0123456789abcdef';
const GOOD = `ocs_${'G'.repeat(43)}`;
const REVOKED = `ocs_${'R'.repeat(43)}`;
const HOLDER = { pin: '246810', ssn: '' };

t.test('token holders and the staff-only services', async (t) => {
  const card: SimulatedCard = createCardFromFile(cardFile('ssc-2.00-transit.json'));
  const psam: SimulatedCard = createCardFromFile(cardFile('psam.json'));
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  const access: CardAccess = { events: new EventEmitter(), status: () => [], withCard: (fn) => fn({ card: ch(card), psam: ch(psam) }) };
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } }));
  let serverUp = true;
  const checked: string[] = [];
  const checkStaff: CheckStaff = async (credential) => {
    checked.push(credential === GOOD ? 'good' : 'other');
    if (!serverUp) throw new TerminalError('TERM_ERR_STAFF_UNCHECKED', 'fleet server unreachable');
    if (credential !== GOOD) throw new TerminalError('TERM_ERR_STAFF_REFUSED', 'SRV_ERR_STAFF_CREDENTIAL');
    return { staffId: 'E1001', name: '王芳' };
  };
  const queued: { kind: string; staffId?: string }[] = [];
  const app = await buildLocalApi({
    readers: access, token: TOKEN, logger, checkStaff,
    reportLoss: async (r) => { queued.push({ kind: 'loss', ...(r.staffId === undefined ? {} : { staffId: r.staffId }) }); return { online: true }; },
    cancelLoss: async (r) => { queued.push({ kind: 'cancel', ...(r.staffId === undefined ? {} : { staffId: r.staffId }) }); return { online: true }; },
  });
  t.teardown(() => app.close());
  HOLDER.ssn = ((await app.inject({ method: 'POST', url: '/v1/card/read', headers: { 'x-onecard-token': TOKEN }, payload: {} })).json() as { ssn: string }).ssn;
  const code = (r: { json(): unknown }): string => (r.json() as { error: { code: string } }).error.code;
  const services: [string, Record<string, string>][] = [
    ['/v1/card/pin/unblock', {}],
    ['/v1/card/pin/reload', { newPin: '135790' }],
    ['/v1/card/loss-cancel', { idNumber: HOLDER.ssn }],
  ];
  const call = (url: string, payload: Record<string, unknown>, staff?: string) =>
    app.inject({ method: 'POST', url, headers: { 'x-onecard-token': TOKEN, ...(staff === undefined ? {} : { 'x-onecard-staff': staff }) }, payload });

  for (const [url, payload] of services) {
    let r = await call(url, payload);
    t.equal(r.statusCode, 401, `${url}: the token alone is refused`);
    t.equal(code(r), 'TERM_ERR_STAFF_REQUIRED');
    r = await call(url, payload, 'ocs_short');
    t.equal(code(r), 'TERM_ERR_STAFF_REFUSED', `${url}: not a credential`);
    r = await call(url, payload, REVOKED);
    t.equal(r.statusCode, 403, `${url}: a revoked credential is refused`);
    t.equal(code(r), 'TERM_ERR_STAFF_REFUSED');
  }
  t.equal(queued.length, 0, 'nothing queued by a refused call');
  // A wrong token with a good staff credential is still a wrong token.
  const wrongToken = await app.inject({ method: 'POST', url: '/v1/card/pin/unblock', headers: { 'x-onecard-token': `${TOKEN}x`, 'x-onecard-staff': GOOD }, payload: {} });
  t.equal(code(wrongToken), 'TERM_ERR_API_TOKEN', 'the staff header is no credential by itself');

  const before = checked.length;
  for (const [url, payload] of services) {
    const r = await call(url, payload, GOOD);
    t.equal(r.statusCode, 200, `${url} with a named member of staff: ${r.body}`);
  }
  t.equal(checked.length - before, 3, 'checked with the fleet server on every call');
  t.same(queued, [{ kind: 'cancel', staffId: 'E1001' }], 'the 解挂 record names the member of staff');

  serverUp = false;
  const offline = await call('/v1/card/pin/unblock', {}, GOOD);
  t.equal(offline.statusCode, 503);
  t.equal(code(offline), 'TERM_ERR_STAFF_UNCHECKED', 'server unreachable: refused, no grace for token holders');

  // The cardholder's own loss report (PIN on the card) needs no member of staff.
  const loss = await call('/v1/card/loss-report', { pin: '135790' });
  t.equal(loss.statusCode, 200, loss.body);
  t.same(queued.at(-1), { kind: 'loss' });

  const all = logs.join('');
  for (const c of [GOOD, REVOKED]) t.notOk(all.includes(c.slice(4)), 'no staff credential in the log');
  t.notOk(all.includes(HOLDER.ssn), 'no ID number in the log');
});
