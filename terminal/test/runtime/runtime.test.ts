import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWedgeScanner, issueEcardCode, ecardIssuerPublicKey, TEST_ECARD_ISSUER_PRIVATE_KEY } from '@onecard/simulators';
import { parseTerminalConfig, startRuntime } from '../../src/runtime/index.ts';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';

const simBin = fileURLToPath(new URL('../../../simulators/bin/onecard-sim.js', import.meta.url));
const cards = fileURLToPath(new URL('../../../simulators/cards/', import.meta.url));
const TOKEN = 'runtime-test-token-123456';

t.test('run: config → reader over a pty + scanner + local API on a real port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-'));
  const path = join(dir, 'reader');
  const sim = spawn(process.execPath, [simBin, 'reader', '--link', 'serial', '--pty', path, '--card', join(cards, 'ssc-2.00.json'), '--psam', join(cards, 'psam.json'), '--model', 'gemcore-sim-pro2', '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    sim.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    sim.stdout.on('data', (d: Buffer) => ((buf += String(d)), /"event":"ready"/.test(buf) && resolve()));
    sim.once('exit', (c) => reject(new Error(`simulator exited ${c}`)));
  });
  const cfg = parseTerminalConfig({
    terminalId: 'rt-test',
    readers: [{ id: 'main', link: 'serial', path, model: 'gemcore-sim-pro2', psamSlot: 1 }],
    api: { port: 0, token: TOKEN },
    ecard: { keys: [{ publicKey: ecardIssuerPublicKey(TEST_ECARD_ISSUER_PRIVATE_KEY) }], scanners: [{ link: 'hid', path: 'sim-scanner' }] },
    log: { level: 'debug' },
  });
  const scanner = createWedgeScanner({ path: 'sim-scanner' });
  const dest = createMemoryDestination();
  const rt = await startRuntime(cfg, { logger: createLogger({ level: 'debug', destination: dest }), hidOpener: async () => scanner });
  t.teardown(() => rt.close());
  t.match(rt.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const H = { 'x-onecard-token': TOKEN, 'content-type': 'application/json' };
  // wait for the reader
  for (let i = 0; i < 100 && rt.manager.status()[0]?.status !== 'ok'; i++) await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(`${rt.url}/v1/card/read`, { method: 'POST', headers: H, body: '{}' });
  const info = (await res.json()) as Record<string, string>;
  t.equal(res.status, 200, JSON.stringify(info));
  const want = JSON.parse(readFileSync(join(cards, 'ssc-2.00.json'), 'utf8')) as Record<string, string>;
  t.equal(info['name'], want['name']);
  t.equal(info['ssn'], want['ssn']);
  const readers = (await (await fetch(`${rt.url}/v1/readers`, { headers: H })).json()) as { readers: { status: string }[] };
  t.equal(readers.readers[0]?.status, 'ok');
  // a scan arrives while a client waits
  const waiting = fetch(`${rt.url}/v1/ecard/scan?timeoutMs=10000`, { headers: H });
  await new Promise((r) => setTimeout(r, 100));
  await scanner.scan(issueEcardCode({ holderRef: 'CAFE', name: '张三', region: '639900' }, { key: TEST_ECARD_ISSUER_PRIVATE_KEY, clock: Date.now }).code);
  t.match(await (await waiting).json(), { holderRef: 'CAFE', maskedName: '张*' });
  const logs = dest.text();
  t.ok(logs.length > 0, 'the runtime logged');
  t.notMatch(logs, new RegExp(want['ssn']!), 'no full SSN in the runtime log');
});
