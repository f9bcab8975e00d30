// The configuration's secrets on the terminal (docs/sip2.md "The SIP2 password"): the copy sealed
// for this terminal is fetched once per document value, checked to open, kept on disk sealed (0600,
// never the clear text) and opened at each use, offline included after a restart; a copy sealed for
// another terminal, a missing copy or a file of another terminal is refused with a coded error; a
// document saved before sealing keeps working with its text.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sealConfigSecret, EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { httpConfigSecretsFetcher, openConfigSecrets, CONFIG_SECRETS_FILE } from '../../src/agent/config-secrets.ts';

const PASSWORD = 'sip2-秘密-pass';
const REF = `v1.${randomBytes(40).toString('base64url')}`;
const library = { host: '127.0.0.1', port: 6001, institutionId: 'LIB', user: 'sc', location: 'hall', charset: 'utf-8' as const, errorDetection: true, timeoutMs: 2000, maxRetries: 1, gate: true, loanDesk: true };
const doc = (password: string | { sealed: string }): TerminalConfigDocument => ({ ...EXAMPLE_TERMINAL_CONFIG, library: { ...library, password } });

t.test('kept sealed, fetched once, opened at each use, offline after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-secrets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kbpk = new Uint8Array(randomBytes(32));
  const calls: number[] = [];
  const fetchSecrets = async (version: number) => { calls.push(version); return { 'library.password': sealConfigSecret(kbpk, 'T1', 'library.password', REF, PASSWORD) }; };
  const secrets = await openConfigSecrets(join(dir, 'secrets'), kbpk, 'T1', fetchSecrets);
  const d = doc({ sealed: REF });
  t.throws(() => secrets.library(d.library), { code: 'TERM_ERR_CONFIG_SECRET' }, 'nothing kept yet');
  await secrets.prepare(d, 7);
  t.same(calls, [7], 'fetched for the version being applied');
  t.equal(secrets.library(d.library)?.password, PASSWORD);
  await secrets.prepare(d, 8);
  t.same(calls, [7], 'the same document value is not fetched again');
  const file = join(dir, 'secrets', CONFIG_SECRETS_FILE);
  t.equal(statSync(file).mode & 0o777, 0o600, 'owner-only file');
  t.equal(statSync(join(dir, 'secrets')).mode & 0o777, 0o700, 'owner-only directory');
  t.notMatch(readFileSync(file, 'utf8'), PASSWORD, 'no clear password on disk');
  secrets.close();

  // After a restart, offline: the kept copy serves the document last applied.
  const again = await openConfigSecrets(join(dir, 'secrets'), kbpk, 'T1', async () => { throw new Error('offline'); });
  t.equal(again.library(d.library)?.password, PASSWORD, 'opened from the kept copy');
  t.equal(again.library(doc('legacy-text').library)?.password, 'legacy-text', 'a document saved before sealing keeps its text');
  t.equal(again.library(undefined), undefined);
  await t.rejects(again.prepare(doc({ sealed: `${REF}A` }), 9), /offline/, 'a new value needs the server');
  t.equal(again.library(d.library)?.password, PASSWORD, 'the copy in force stays usable');

  // Another KBPK (another terminal's file, or a re-keyed one) does not open it.
  const other = await openConfigSecrets(join(dir, 'secrets'), new Uint8Array(randomBytes(32)), 'T1', fetchSecrets);
  t.throws(() => other.library(d.library), { code: 'TERM_ERR_CONFIG_SECRET' });
  await t.rejects(openConfigSecrets(join(dir, 'secrets'), kbpk, 'T2', fetchSecrets), { code: 'TERM_ERR_KEYSTORE_IO' }, 'a file of another terminal id is refused');
  writeFileSync(file, 'not json');
  await t.rejects(openConfigSecrets(join(dir, 'secrets'), kbpk, 'T1', fetchSecrets), { code: 'TERM_ERR_KEYSTORE_IO' });
});

t.test('a copy sealed for another terminal, or none, rejects the document and keeps nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-secrets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kbpk = new Uint8Array(randomBytes(32));
  const forT2 = await openConfigSecrets(dir, kbpk, 'T1', async () => ({ 'library.password': sealConfigSecret(kbpk, 'T2', 'library.password', REF, PASSWORD) }));
  await t.rejects(forT2.prepare(doc({ sealed: REF }), 3), { code: 'TERM_ERR_CONFIG_SECRET' }, 'a copy for T2 does not open on T1');
  t.throws(() => readFileSync(join(dir, CONFIG_SECRETS_FILE)), { code: 'ENOENT' }, 'nothing kept');
  const none = await openConfigSecrets(dir, kbpk, 'T1', async () => ({}));
  await t.rejects(none.prepare(doc({ sealed: REF }), 3), { code: 'TERM_ERR_CONFIG_SECRET' });
  const legacy = await openConfigSecrets(dir, kbpk, 'T1', async () => { throw new Error('not called'); });
  await legacy.prepare(doc('text'), 3);
  await legacy.prepare(EXAMPLE_TERMINAL_CONFIG, 4);
  t.pass('documents without a sealed secret fetch nothing');
});

t.test('httpConfigSecretsFetcher: its own credentials, the version asked, coded failures', async (t) => {
  const seen: { url: string; auth: string | null }[] = [];
  const answer = (status: number, body: string) => async (url: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  };
  const f = httpConfigSecretsFetcher({ serverUrl: 'http://fleet.test', terminalId: 'T1', password: 'pw', fetch: answer(200, JSON.stringify({ v: 1, version: 5, secrets: { 'library.password': 'v1.abc', other: 'x' } })) as typeof fetch });
  t.same(await f(5), { 'library.password': 'v1.abc' }, 'only known secrets');
  t.same(seen, [{ url: 'http://fleet.test/api/v1/terminal/config/5/secrets', auth: `Basic ${Buffer.from('T1:pw').toString('base64')}` }]);
  await t.rejects(httpConfigSecretsFetcher({ serverUrl: 'http://fleet.test', terminalId: 'T1', password: 'pw', fetch: answer(404, '{}') as typeof fetch })(5), { code: 'TERM_ERR_AGENT_FETCH' });
  await t.rejects(httpConfigSecretsFetcher({ serverUrl: 'http://fleet.test', terminalId: 'T1', password: 'pw', fetch: answer(200, 'nope') as typeof fetch })(5), { code: 'TERM_ERR_AGENT_FETCH' });
  await t.rejects(httpConfigSecretsFetcher({ serverUrl: 'http://127.0.0.1:9', terminalId: 'T1', password: 'pw', timeoutMs: 2000 })(5), { code: 'TERM_ERR_AGENT_FETCH' });
});
