import t from 'tap';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { runCli } from '../../src/cli/run.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { loadIdentity, IDENTITY_FILE, KEY_FILE } from '../../src/agent/identity.ts';
import { startHarness } from './server-harness.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { readStdin: async () => '', stdout: (s) => void (out += s), stderr: (s) => void (err += s) };
  return { code: await runCli(argv, io), out, err };
}

const root = mkdtempSync(join(tmpdir(), 'onecard-enrol-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

t.test('enroll --help and usage errors', async (t) => {
  const h = await cli(['enroll', '--help']);
  t.equal(h.code, 0);
  t.match(h.out, /--server URL/);
  t.match(h.out, /--data-dir DIR/);
  const top = await cli(['--help']);
  t.match(top.out, /enroll/);
  const missing = await cli(['enroll', '--server', 'http://x']);
  t.equal(missing.code, 2);
  t.match(missing.err, /missing --token, --data-dir/);
  t.equal((await cli(['enroll', '--bogus'])).code, 2);
  t.equal((await cli(['enroll', '--server'])).code, 2);
  const badKind = await cli(['enroll', '--server', 'http://127.0.0.1:1', '--token', 'abcdefghij', '--data-dir', join(root, 'k'), '--kind', 'Bad Kind']);
  t.equal(badKind.code, 2);
  t.match(badKind.err, /TERM_ERR_INVALID_ARGUMENT/);
});

t.test('enroll against the real server: key 0600 in a 0700 dir, identity stored, token single use', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const token = await h.enrolmentToken();
  const dir = join(root, 'term1');
  const r = await cli(['enroll', '--server', h.httpUrl, '--token', token, '--data-dir', dir, '--kind', 'kiosk']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /enrolled: terminal T[0-9a-f]+ in group pharmacies/);
  t.notMatch(r.out + r.err, token, 'the token is never printed');
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, IDENTITY_FILE)).mode & 0o777, 0o600);
  const id = await loadIdentity(dir);
  t.match(id.terminalId, /^T[0-9a-f]{16}$/);
  t.equal(id.groupId, 'pharmacies');
  t.equal(id.kind, 'kiosk');
  t.equal(id.mqtt.url, h.mqttUrl);
  t.equal(id.mqtt.username, id.terminalId);
  t.notMatch(r.out, id.mqtt.password, 'the MQTT password is never printed');
  t.equal(createPublicKey(createPrivateKey(readFileSync(join(dir, KEY_FILE), 'utf8'))).export({ type: 'spki', format: 'der' }).toString('base64'), id.publicKey);
  // The server recorded our public key.
  const view = await h.admin('GET', `/api/v1/terminals/${id.terminalId}`);
  t.equal((view.body as { publicKey: string }).publicKey, id.publicKey);
  t.equal((view.body as { kind: string }).kind, 'kiosk');
  // Enrolling again into the same dir is refused locally; a reused token is refused by the server.
  const again = await cli(['enroll', '--server', h.httpUrl, '--token', token, '--data-dir', dir]);
  t.equal(again.code, 1);
  t.match(again.err, /TERM_ERR_ENROL_EXISTS/);
  const reuse = await cli(['enroll', '--server', h.httpUrl, '--token', token, '--data-dir', join(root, 'term2')]);
  t.equal(reuse.code, 1);
  t.match(reuse.err, /TERM_ERR_ENROL_HTTP/);
  t.match(reuse.err, /SRV_ERR_ENROLMENT_TOKEN/);
});

t.test('unreachable server fails with TERM_ERR_ENROL_HTTP', async (t) => {
  const r = await cli(['enroll', '--server', 'http://127.0.0.1:9', '--token', 'oce_abcdefgh', '--data-dir', join(root, 'term3')]);
  t.equal(r.code, 1);
  t.match(r.err, /TERM_ERR_ENROL_HTTP/);
});

t.test('loadIdentity rejects a missing or mismatched identity', async (t) => {
  await t.rejects(loadIdentity(join(root, 'nothing')), { code: 'TERM_ERR_IDENTITY_MISSING' });
});
