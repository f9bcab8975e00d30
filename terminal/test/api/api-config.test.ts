/**
 * The `api` section of the terminal configuration (issue 12, High 2): loopback only unless TLS and
 * a client allow-list are configured, `run --check` refuses `0.0.0.0` naming `api.host`, the
 * sample's placeholder token and short tokens are refused; and a TLS API really serves HTTPS with
 * Secure session cookies.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTerminalConfig } from '../../src/runtime/index.ts';
import { buildLocalApi, readApiTls } from '../../src/api/index.ts';
import { runCli } from '../../src/cli/run.ts';
import type { CliIo } from '../../src/cli/io.ts';

const example = JSON.parse(readFileSync(new URL('../../config.example.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const TOKEN = 'api-config-test-token-8d2f61c0b7';
const withApi = (api: Record<string, unknown>): Record<string, unknown> => ({ ...example, api });
const field = (api: Record<string, unknown>): unknown => {
  try {
    parseTerminalConfig(withApi(api));
    return undefined;
  } catch (e) {
    return (e as { code?: string; details?: { field?: unknown } }).code === 'TERM_ERR_CONFIG' ? (e as { details: { field?: unknown } }).details.field : e;
  }
};

t.test('the sample config carries no token and stays valid', async (t) => {
  const api = example['api'] as Record<string, unknown>;
  t.equal(api['token'], undefined, 'no placeholder token in the sample');
  t.equal(parseTerminalConfig(example).api.host, '127.0.0.1');
});

t.test('api.token: the placeholder, short and non-random tokens are refused', async (t) => {
  t.equal(field({ token: 'change-me-to-a-long-random-token' }), 'api.token', 'the old sample placeholder');
  t.equal(field({ token: 'CHANGEME-please-0123456789abcdef' }), 'api.token');
  t.equal(field({ token: '0123456789abcdef' }), 'api.token', '16 characters is too short');
  t.equal(field({ token: 'x'.repeat(40) }), 'api.token', 'one repeated character');
  t.equal(field({ token: 'a'.repeat(300) }), 'api.token', 'too long');
  t.equal(field({ token: TOKEN }), undefined, 'a random token is accepted');
});

t.test('api.host: loopback unless TLS and a client allow-list are configured', async (t) => {
  for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]']) t.equal(field({ host, token: TOKEN }), undefined, host);
  for (const host of ['0.0.0.0', '::', '192.168.1.20', 'kiosk.example']) t.equal(field({ host, token: TOKEN }), 'api.host', host);
  const tls = { certFile: '/etc/onecard/api.crt', keyFile: '/etc/onecard/api.key' };
  t.equal(field({ host: '0.0.0.0', token: TOKEN, tls }), 'api.host', 'TLS alone is not enough');
  t.equal(field({ host: '0.0.0.0', token: TOKEN, allowedClients: ['10.0.0.5'] }), 'api.host', 'an allow-list alone is not enough');
  t.equal(field({ host: '0.0.0.0', token: TOKEN, tls, allowedClients: [] }), 'api.host', 'an empty allow-list is not an allow-list');
  t.equal(field({ host: '0.0.0.0', tls, allowedClients: ['10.0.0.5'] }), 'api.token', 'beyond loopback the token is required');
  t.equal(field({ host: '0.0.0.0', token: TOKEN, tls, allowedClients: ['not-an-ip'] }), 'api.allowedClients[0]');
  t.equal(field({ host: '0.0.0.0', token: TOKEN, tls: { certFile: '/x' }, allowedClients: ['10.0.0.5'] }), 'api.tls.keyFile');
  const ok = parseTerminalConfig(withApi({ host: '0.0.0.0', token: TOKEN, tls, allowedClients: ['10.0.0.5', 'fd00::5'] }));
  t.same(ok.api.tls, tls);
  t.same(ok.api.allowedClients, ['10.0.0.5', 'fd00::5']);
});

t.test('run --check refuses 0.0.0.0 with a coded error naming api.host', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let out = '';
  let err = '';
  const io: CliIo = { readStdin: async () => '', stdout: (s) => void (out += s), stderr: (s) => void (err += s) };
  const open = join(dir, 'open.json');
  writeFileSync(open, JSON.stringify(withApi({ host: '0.0.0.0', port: 8930, token: TOKEN })));
  t.equal(await runCli(['run', '--config', open, '--check'], io), 8, out);
  t.match(err, /TERM_ERR_CONFIG/);
  t.match(err, /api\.host/);
  err = '';
  const placeholder = join(dir, 'placeholder.json');
  writeFileSync(placeholder, JSON.stringify(withApi({ token: 'change-me-to-a-long-random-token' })));
  t.equal(await runCli(['run', '--config', placeholder, '--check'], io), 8);
  t.match(err, /api\.token/);
});

t.test('TLS: the API serves HTTPS, session cookies are Secure, unreadable PEM files name the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  // openssl is on every CI image (.ci/suites use it); a missing one fails the test rather than skipping it.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  t.throws(() => readApiTls({ certFile: join(dir, 'missing.pem'), keyFile }), { code: 'TERM_ERR_CONFIG', details: { field: 'api.tls.certFile' } });
  const readers = { events: new EventEmitter(), status: () => [], withCard: async () => { throw new Error('no card here'); } };
  const app = await buildLocalApi({ readers, token: TOKEN, tls: readApiTls({ certFile, keyFile }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  const get = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, rejectUnauthorized: false, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  t.equal((await get('GET', '/v1/readers', { 'x-onecard-token': TOKEN })).status, 200);
  t.equal((await get('GET', '/v1/readers', {})).status, 401);
  const l = await get('POST', '/v1/session/launch', { 'x-onecard-token': TOKEN }, JSON.stringify({ page: 'desk' }));
  const s = await get('GET', (JSON.parse(l.body) as { path: string }).path, {});
  t.equal(s.status, 303);
  t.match(String(s.headers['set-cookie']), /; Secure$/);
  const cookie = String(s.headers['set-cookie']).split(';')[0]!;
  t.equal((await get('GET', '/v1/readers', { cookie, origin: `https://127.0.0.1:${port}`, host: `127.0.0.1:${port}` })).status, 200, 'the page origin over https');
  t.equal((await get('GET', '/v1/readers', { cookie, origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` })).status, 403, 'the http origin is another origin');
});
