/**
 * Issue 12 item 5 — "anyone can lock every admin and every terminal out". Before the fix, 30 wrong
 * admin tokens from any address made the right admin token and every terminal's hotlist/config
 * fetch answer 429, keyed on `req.ip`; behind a load balancer that was the whole fleet. These tests
 * run the attack from one address and from behind a trusted proxy (X-Forwarded-For), and check that
 * the guesser is limited (429 with Retry-After) while correct credentials — the admin's, the
 * terminals', even from the guesser's own address — always pass. Also: `/metrics` and `/docs`
 * access (`opsAccess`), and credentials in URLs never reaching the log (parsed log lines).
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { parseServerConfig } from '../../src/config.ts';

const LIMIT = 30;

interface Terminal {
  readonly id: string;
  readonly password: string;
}

async function enrol(h: TestApp): Promise<Terminal> {
  const g = await h.app.inject({ method: 'POST', url: '/api/v1/groups', headers: h.auth(), payload: { id: `g${Math.random().toString(36).slice(2, 8)}`, name: 'lock-out' } });
  const groupId = (g.json() as { id: string }).id;
  const tok = await h.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: h.auth(), payload: { groupId, tags: [] } });
  const r = await h.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: (tok.json() as { token: string }).token, publicKey: newTerminalKey(), kind: 'kiosk' } });
  if (r.statusCode !== 201) throw new Error(`enrol: ${r.statusCode} ${r.body}`);
  const b = r.json() as { terminalId: string; mqtt: { password: string } };
  return { id: b.terminalId, password: b.mqtt.password };
}

const basic = (id: string, password: string): string => `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}`;
const WRONG = (i: number): string => `Bearer oca_wrong-token-guess-${String(i).padStart(6, '0')}`;

/** Requests as they arrive: straight from `ip`, or through the proxy at 10.0.0.2 for client `ip`. */
function from(ip: string, viaProxy: boolean): { remoteAddress: string; headers: Record<string, string> } {
  return viaProxy ? { remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': ip } } : { remoteAddress: ip, headers: {} };
}

for (const viaProxy of [false, true]) {
  t.test(`lock-out attack ${viaProxy ? 'behind the load balancer (X-Forwarded-For, trusted proxy)' : 'from one address'}: the guesser is limited, nobody else is`, async (t) => {
    const h = await makeTestApp({ trustedProxies: ['10.0.0.2'], settings: { authRateLimitPerMinute: LIMIT } });
    t.teardown(() => h.app.close());
    const term = await enrol(h);
    const guesser = from('203.0.113.66', viaProxy);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 10; i++) {
      const r = await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: guesser.remoteAddress, headers: { ...guesser.headers, authorization: WRONG(i) } });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) t.ok(Number(r.headers['retry-after']) >= 1, 'a limited answer says when to retry') ;
    }
    t.same(statuses.slice(0, LIMIT), Array(LIMIT).fill(401), `the first ${LIMIT} wrong tokens are 401`);
    t.same(statuses.slice(LIMIT), Array(10).fill(429), 'then the guesser gets 429');
    const admin = from('198.51.100.7', viaProxy);
    const ok = await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: admin.remoteAddress, headers: { ...admin.headers, ...h.auth() } });
    t.equal(ok.statusCode, 200, 'the right admin token from another client still works');
    const same = await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: guesser.remoteAddress, headers: { ...guesser.headers, ...h.auth() } });
    t.equal(same.statusCode, 200, 'correct credentials are never refused, even from the guesser\'s address (a shared NAT)');
    const site = from('192.0.2.10', viaProxy);
    for (const url of ['/api/v1/terminal/hotlist', '/api/v1/terminal/config']) {
      const r = await h.app.inject({ method: 'GET', url, remoteAddress: site.remoteAddress, headers: { ...site.headers, authorization: basic(term.id, term.password) } });
      t.not(r.statusCode, 429, `terminal fetch ${url} is not locked out (${r.statusCode})`);
      t.not(r.statusCode, 401, `terminal fetch ${url} is authenticated`);
      const b = await h.app.inject({ method: 'GET', url, remoteAddress: site.remoteAddress, headers: { ...site.headers, authorization: `Bearer ${term.password}` } });
      t.not(b.statusCode, 429, `terminal fetch ${url} (Bearer form) is not locked out`);
    }
    const other = await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: admin.remoteAddress, headers: { ...admin.headers, authorization: WRONG(999) } });
    t.equal(other.statusCode, 429, 'the admin token space is under attack: wrong tokens from anyone get 429 (the right one does not)');
    const audit = await h.app.inject({ method: 'GET', url: '/api/v1/audit?action=auth.rate-limited', headers: h.auth() });
    t.match(audit.body, /auth\.rate-limited/, 'the start of the limit is audited');
    t.match(audit.body, /addr:203\.0\.113\.66/, 'keyed on the real client address');
  });
}

t.test('guessing one terminal\'s password from many addresses limits that target, not the terminal', async (t) => {
  const h = await makeTestApp({ settings: { authRateLimitPerMinute: LIMIT } });
  t.teardown(() => h.app.close());
  const term = await enrol(h);
  const statuses: number[] = [];
  for (let i = 0; i < LIMIT + 5; i++) {
    const r = await h.app.inject({ method: 'GET', url: '/api/v1/terminal/hotlist', remoteAddress: `198.18.${i >> 8}.${i & 255}`, headers: { authorization: basic(term.id, `wrong-${i}`) } });
    statuses.push(r.statusCode);
  }
  t.same(statuses.slice(LIMIT), Array(5).fill(429), 'a botnet guessing one terminal\'s password is limited on the target');
  const r = await h.app.inject({ method: 'GET', url: '/api/v1/terminal/hotlist', remoteAddress: '198.18.0.1', headers: { authorization: basic(term.id, term.password) } });
  t.equal(r.statusCode, 200, 'the terminal itself still fetches its hotlist');
});

t.test('X-Forwarded-For from an untrusted peer is ignored: rotating it does not escape the limit', async (t) => {
  const h = await makeTestApp({ settings: { authRateLimitPerMinute: LIMIT } });
  t.teardown(() => h.app.close());
  let last = 0;
  for (let i = 0; i < LIMIT + 3; i++) {
    const r = await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: '203.0.113.99', headers: { 'x-forwarded-for': `10.9.${i}.1`, authorization: WRONG(i) } });
    last = r.statusCode;
  }
  t.equal(last, 429, 'spoofed X-Forwarded-For is not believed without a trusted proxy');
  const audit = await h.app.inject({ method: 'GET', url: '/api/v1/audit?action=auth.rate-limited', headers: h.auth() });
  t.match(audit.body, /addr:203\.0\.113\.99/);
  t.notMatch(audit.body, /addr:10\.9\./, 'the spoofed addresses were never used as keys');
});

t.test('the limit passes with its window', async (t) => {
  const h = await makeTestApp({ settings: { authRateLimitPerMinute: 3 } });
  t.teardown(() => h.app.close());
  for (let i = 0; i < 4; i++) await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: '203.0.113.5', headers: { authorization: WRONG(i) } });
  t.equal((await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: '203.0.113.5', headers: { authorization: WRONG(9) } })).statusCode, 429);
  h.clock.advance(61_000);
  t.equal((await h.app.inject({ method: 'GET', url: '/api/v1/terminals', remoteAddress: '203.0.113.5', headers: { authorization: WRONG(10) } })).statusCode, 401, 'a minute later: 401 again');
});

t.test('/metrics and /docs: opsAccess loopback (default), token, open', async (t) => {
  const def = await makeTestApp();
  t.teardown(() => def.app.close());
  const viewer = await def.tokenFor('viewer');
  for (const url of ['/metrics', '/docs/json', '/docs']) {
    t.not((await def.app.inject({ url, remoteAddress: '127.0.0.1' })).statusCode, 401, `${url} from loopback`);
    t.equal((await def.app.inject({ url, remoteAddress: '10.1.2.3' })).statusCode, 401, `${url} from the network without a token`);
    t.not((await def.app.inject({ url, remoteAddress: '10.1.2.3', headers: def.auth(viewer) })).statusCode, 401, `${url} from the network with a viewer token`);
    t.equal((await def.app.inject({ url, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.1' } })).statusCode, 401, `${url} through a local proxy is not loopback`);
    t.equal((await def.app.inject({ url, remoteAddress: '10.1.2.3', headers: { authorization: 'Bearer oca_not-a-real-token-000000' } })).statusCode, 401, `${url} with a wrong token`);
  }
  const tok = await makeTestApp({ opsAccess: 'token' });
  t.teardown(() => tok.app.close());
  t.equal((await tok.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 401, 'token mode: loopback needs a token too');
  t.equal((await tok.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers: tok.auth() })).statusCode, 200);
  const open = await makeTestApp({ opsAccess: 'open' });
  t.teardown(() => open.app.close());
  t.equal((await open.app.inject({ url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode, 200, 'open mode');
});

t.test('credentials in URLs never reach the log (log lines parsed back)', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0)); cb(); } });
  const h = await makeTestApp({ logger: { level: 'info', stream } });
  t.teardown(() => h.app.close());
  const secrets = ['TICKETSECRET0123456789', 'TOKENSECRET0123456789', 'ACCESSSECRET0123456789'];
  await h.app.inject({ url: `/api/v1/live?ticket=${secrets[0]}&x=1` });
  await h.app.inject({ url: `/api/v1/updates/packages/p1/download?token=${secrets[1]}` });
  await h.app.inject({ url: `/api/v1/terminals?limit=5&access_token=${secrets[2]}&Token=${secrets[1]}` });
  t.ok(lines.length >= 3, `${lines.length} log lines`);
  const urls: string[] = [];
  for (const l of lines) {
    for (const s of secrets) t.notOk(l.includes(s), `no secret in: ${l.slice(0, 160)}`);
    const rec = JSON.parse(l) as { req?: { url?: string } };
    if (rec.req?.url !== undefined) urls.push(rec.req.url);
  }
  t.ok(urls.includes('/api/v1/live?ticket=[redacted]&x=1'), `live feed ticket redacted, other parameters kept: ${JSON.stringify(urls)}`);
  t.ok(urls.some((u) => u.endsWith('download?token=[redacted]')), 'download token redacted');
  t.ok(urls.includes('/api/v1/terminals?limit=5&access_token=[redacted]&Token=[redacted]'), 'case-insensitive names');
});

t.test('configuration: --ops-access is checked, --trusted-proxies and the limits parse', async (t) => {
  const parse = (argv: string[], env: Record<string, string> = {}) => parseServerConfig(argv, env, () => '{}');
  t.throws(() => parse(['--ops-access', 'everyone']), { code: 'SRV_ERR_CONFIG' }, 'unknown ops access refused');
  t.throws(() => parse(['--mqtt-max-pending', '0']), { code: 'SRV_ERR_CONFIG' }, 'a zero cap is refused');
  const r = parse(['--trusted-proxies', '10.0.0.2,10.1.0.0/16', '--mqtt-connect-timeout', '5000'], { ONECARD_OPS_ACCESS: 'token', ONECARD_MQTT_MAX_PER_ADDRESS: '500' });
  t.match(r, { help: false, config: { trustedProxies: '10.0.0.2,10.1.0.0/16', mqttConnectTimeoutMs: 5000, opsAccess: 'token', mqttMaxPerAddress: 500 } });
  t.match(parse([]), { help: false, config: { opsAccess: 'loopback', mqttMaxPendingPerAddress: 32, mqttConnectTimeoutMs: 10_000 } }, 'defaults');
});
