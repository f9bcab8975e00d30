import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeGbk } from '@onecard/protocol/ssc';

const simBin = fileURLToPath(new URL('../../../simulators/bin/onecard-sim.js', import.meta.url));
const termBin = fileURLToPath(new URL('../../bin/onecard-terminal.js', import.meta.url));
const cards = fileURLToPath(new URL('../../../simulators/cards/', import.meta.url));

/** Starts `onecard-sim reader` on a pty and resolves once it prints its ready line. */
async function startSim(t: { teardown(fn: () => void): void }, args: string[]): Promise<{ path: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
  const path = join(dir, 'reader');
  const child = spawn(process.execPath, [simBin, 'reader', '--link', 'serial', '--pty', path, '--log-level', 'warn', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`simulator not ready: ${buf}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += String(d);
      if (/"event":"ready"/.test(buf)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}: ${buf}`)));
  });
  return { path, child };
}

function term(args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string; bytes: Buffer }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [termBin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (d: Buffer) => void out.push(d));
    c.stderr.on('data', (d: Buffer) => void (err += String(d)));
    c.stdin.end(stdin);
    c.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString('utf8'), err, bytes: Buffer.concat(out) }));
  });
}

const cardJson = (name: string): Record<string, string> => JSON.parse(readFileSync(join(cards, name), 'utf8')) as Record<string, string>;

for (const [file, model, t1] of [
  ['ssc-2.00.json', 'gemcore-sim-pro2', false],
  ['ssc-3.00-long-name.json', 'gemcore-sim-pro2', true],
] as const) {
  t.test(`read-card --json over a pty: ${file}${t1 ? ' (T=1)' : ''} reads back the personalised data`, async (t) => {
    const { path } = await startSim(t, ['--card', join(cards, file), '--psam', join(cards, 'psam.json'), '--model', model, ...(t1 ? ['--t1'] : [])]);
    const r = await term(['read-card', '--reader', `serial:${path}`, '--model', model, '--psam-slot', '1', '--json']);
    t.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out) as Record<string, string>;
    const want = cardJson(file);
    t.equal(info['name'], want['name'], 'Chinese name');
    t.equal(info['ssn'], want['ssn'], 'SSN');
    t.equal(info['cardNumber'], want['cardNumber']);
    t.equal(info['birthDate'], want['birthDate']);
    const bas = await term(['read-card', '--reader', `serial:${path}`, '--model', model, '--psam-slot', '1', '--format', 'ireadcardbas']);
    t.equal(bas.code, 0, bas.err);
    // [national-interface §4.1] the name is GBK text: GBK bytes by default, UTF-8 on request.
    t.equal(new TextDecoder('gbk').decode(bas.bytes).trim(), info['readCardBas'], 'default: GBK bytes');
    t.ok(bas.bytes.includes(Buffer.from(encodeGbk(want['name']!))), 'the name as GBK bytes');
    t.notOk(bas.bytes.includes(Buffer.from(want['name']!, 'utf8')), 'not as UTF-8');
    const utf8 = await term(['read-card', '--reader', `serial:${path}`, '--model', model, '--psam-slot', '1', '--format', 'ireadcardbas', '--encoding', 'utf8']);
    t.equal(utf8.code, 0, utf8.err);
    t.equal(utf8.out.trim(), info['readCardBas'], '--encoding utf8');
    t.notMatch(r.err + bas.err, new RegExp(want['ssn']!), 'no full SSN on stderr');
    // --verbose traces every APDU through the process logger; parse the lines back.
    const verbose = await term(['read-card', '--reader', `serial:${path}`, '--model', model, '--psam-slot', '1', '--json', '--verbose']);
    t.equal(verbose.code, 0, verbose.err);
    const lines = verbose.err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const apdus = lines.filter((l) => l['msg'] === 'apdu');
    t.ok(apdus.length > 10, `${apdus.length} APDU trace lines`);
    t.notOk(verbose.err.includes('not an APDU'), 'no `<not an APDU>` in the verbose trace');
    t.ok(apdus.every((l) => typeof l['apdu'] === 'string' && /^[0-9A-F]{2} [0-9A-F]{2} /.test(l['apdu'])), 'every APDU line readable');
    t.notMatch(verbose.err, new RegExp(want['ssn']!), 'no full SSN in the verbose trace');
  });
}

t.test('pin verify over a pty: wrong PIN exit 6 with tries left, right PIN exit 0; no card exit 4', async (t) => {
  const { path } = await startSim(t, ['--card', join(cards, 'ssc-2.00.json'), '--model', 'gempc-twin']);
  const wrong = await term(['pin', 'verify', '--reader', `serial:${path}`], '999999\n');
  t.equal(wrong.code, 6, wrong.err);
  t.match(wrong.err, /TERM_ERR_PIN_WRONG.*tries left: 2/);
  t.notMatch(wrong.err, /999999/);
  const right = await term(['pin', 'verify', '--reader', `serial:${path}`], `${cardJson('ssc-2.00.json')['pin']}\n`);
  t.equal(right.code, 0, right.err);
  t.match(right.out, /PIN verified/);
  const empty = await startSim(t, ['--model', 'gempc-twin']);
  const none = await term(['read-card', '--reader', `serial:${empty.path}`]);
  t.equal(none.code, 4, none.err);
  t.match(none.err, /TERM_ERR_NO_CARD/);
  t.match(none.err, /hint: insert the card/);
});
