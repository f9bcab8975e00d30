/**
 * [issue 12 Low] A used e-card code stays refused after a terminal restart: the verifier keeps
 * used codes in a file of the data dir, fsync'd before it answers, bounded by the code TTL. And
 * the online verification service cannot make the terminal buffer an endless answer.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueEcardCode, ecardIssuerPublicKey, TEST_ECARD_ISSUER_PRIVATE_KEY, type EcardHolder } from '@onecard/simulators';
import { fromHex } from '@onecard/protocol/bytes';
import { createEcardVerifier, createHttpOnlineVerifier, type EcardVerifier } from '../../src/ecard/index.ts';
import { ecardVerifierFromConfig, parseTerminalConfig } from '../../src/runtime/index.ts';

const KEY = TEST_ECARD_ISSUER_PRIVATE_KEY;
const PUB = fromHex(ecardIssuerPublicKey(KEY));
const HOLDER: EcardHolder = { holderRef: 'A1B2C3D4E5F60718', ssn: '440301199001011234', name: '王小明', region: '440300', purpose: 'enquiry' };

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'ecard-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let ms = Date.UTC(2026, 2, 1, 9, 0, 0);
  const clock = { now: () => ms, advance: (s: number) => void (ms += s * 1000) };
  const file = join(dir, 'ecard', 'replay.log');
  const open = (o: { file?: string; cache?: number } = {}): EcardVerifier => {
    const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, ...(o.file === undefined ? {} : { replayFile: o.file }), ...(o.cache === undefined ? {} : { replayCacheSize: o.cache }) });
    t.teardown(() => v.close?.());
    return v;
  };
  const issue = (): string => issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code;
  return { dir, file, clock, open, issue };
}
const lines = (f: string): string[] => readFileSync(f, 'utf8').split('\n').filter((l) => l !== '');

t.test('a used code is refused by the next process (restart)', async (t) => {
  const { file, open, issue } = setup(t);
  const code = issue();
  const before = open({ file });
  await t.resolves(before.verify(code));
  await before.close?.();
  const after = open({ file });
  await t.rejects(after.verify(code), { code: 'TERM_ERR_ECARD_REPLAYED' }, 'same code after a restart');
  await t.rejects(after.verify(code.toLowerCase()), { code: 'TERM_ERR_ECARD_REPLAYED' });
  t.equal(statSync(file).mode & 0o777, 0o600, 'owner-only file');
  t.equal(after.replayCacheSize(), 1);
  // Without the file the memory is per process: this is what the restart attack exploited.
  const memoryOnly = open();
  await t.resolves(memoryOnly.verify(code), 'a memory-only verifier has forgotten it');
});

t.test('the file holds one validity window: expired entries are dropped and the file compacted', async (t) => {
  const { file, clock, open, issue } = setup(t);
  const v = open({ file });
  for (let i = 0; i < 40; i++) await v.verify(issue());
  t.equal(lines(file).length, 40);
  await v.close?.();
  clock.advance(66); // 60 s TTL + 5 s skew: all expired
  const fresh = issue();
  const w = open({ file });
  t.equal(w.replayCacheSize(), 0, 'nothing live after the window');
  await w.verify(fresh);
  t.same(lines(file).length, 1, 'rewritten with the live entry only');
  for (let i = 0; i < 200; i++) {
    clock.advance(1);
    await w.verify(issue());
  }
  t.ok(lines(file).length <= 2 * w.replayCacheSize() + 1, `file bounded by the live entries (${lines(file).length} lines, ${w.replayCacheSize()} live)`);
  await w.close?.();
  const x = open({ file });
  t.equal(x.replayCacheSize(), w.replayCacheSize(), 'a restart restores the same live entries');
});

t.test('a torn last line is ignored; an unreadable or unwritable file refuses codes', async (t) => {
  const { dir, file, open, issue } = setup(t);
  const code = issue();
  const v = open({ file });
  await v.verify(code);
  await v.close?.();
  appendFileSync(file, '17726'); // power lost in the middle of the next append
  const w = open({ file });
  await t.rejects(w.verify(code), { code: 'TERM_ERR_ECARD_REPLAYED' });
  await t.resolves(w.verify(issue()), 'the log still takes new codes');
  await w.close?.();

  const bad = join(dir, 'as-dir');
  mkdirSync(bad);
  t.throws(() => open({ file: bad }), { code: 'TERM_ERR_ECARD_REPLAY_STORE' }, 'unreadable replay file');

  const later = join(dir, 'later.log');
  const y = open({ file: later });
  mkdirSync(later); // the file cannot be created any more
  const c2 = issue();
  await t.rejects(y.verify(c2), { code: 'TERM_ERR_ECARD_REPLAY_STORE' }, 'not written: not accepted');
  await t.rejects(y.verify(c2), { code: 'TERM_ERR_ECARD_REPLAYED' }, 'and still refused in this process');
});

t.test('the runtime keeps the replay log in the data dir', async (t) => {
  const { dir, clock, issue } = setup(t);
  const cfg = parseTerminalConfig({
    terminalId: 'kiosk-1',
    readers: [{ id: 'r', link: 'serial', path: '/dev/null' }],
    ecard: { keys: [{ publicKey: ecardIssuerPublicKey(KEY) }] },
    fleet: { dataDir: dir },
  });
  const code = issue();
  const first = ecardVerifierFromConfig(cfg, clock.now);
  await first?.verify(code);
  await first?.close?.();
  t.ok(existsSync(join(dir, 'ecard', 'replay.log')));
  const second = ecardVerifierFromConfig(cfg, clock.now);
  t.teardown(() => second?.close?.());
  await t.rejects(second!.verify(code), { code: 'TERM_ERR_ECARD_REPLAYED' }, 'refused after the runtime restarts');
});

t.test('an endless answer of the online verification service is cut off, not buffered', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  let stopped = false;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"status":"ok","pad":"');
    const pump = (): void => {
      while (!stopped && sent < 256 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end('"}');
    };
    res.on('close', () => { stopped = true; });
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/verify`;
  const online = createHttpOnlineVerifier({ url, timeoutMs: 20_000 });
  const { clock, issue } = setup(t);
  const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, online, onlineMode: 'required' });
  await t.rejects(v.verify(issue()), { code: 'TERM_ERR_ECARD_ONLINE_UNAVAILABLE' });
  t.ok(sent < 64 * 1024 * 1024, `the service was cut off long before its 256 MiB (${(sent / 1048576).toFixed(1)} MiB sent)`);
});
