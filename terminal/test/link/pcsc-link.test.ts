/**
 * The `pcsc` reader link through the reader manager, against an in-process pcscd stand-in
 * (pcsc-daemon.ts) over simulated cards: the same behaviours the serial and HID links are held
 * to in test/card (read on T=0 and T=1, insertion with ATR, swap as remove + insert, removal
 * mid-session, channel unusable after its session, lost reader as a link error, re-appearing
 * reader, card and PSAM in two readers) plus what is particular to pcscd (version refusal,
 * daemon stopped and started, name patterns and slot suffixes). The real daemon is
 * .ci/suites/pcsc-link.sh.
 */
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { openReaderManager, type ReaderManager, type CardInsertedEvent, type CardChannel } from '../../src/card/index.ts';
import { TerminalError } from '../../src/errors.ts';
import { exitCodeOf, CARD_EXIT } from '../../src/cli/card-cli.ts';
import { listPcscReaders, openPcscConnection, pcscNameMatches, pcscSlotOf } from '../../src/link/pcsc-client.ts';
import { parseTerminalConfig } from '../../src/runtime/config.ts';
import { card, readSsc } from '../card/helpers.ts';
import { FakePcscd } from './pcsc-daemon.ts';

async function daemon(t: { teardown(fn: () => unknown): void }): Promise<FakePcscd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-pcscd-'));
  const d = new FakePcscd(path.join(dir, 'pcscd.comm'));
  await d.start();
  t.teardown(async () => {
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return d;
}

function manager(t: { teardown(fn: () => unknown): void }, d: FakePcscd, readers: Parameters<typeof openReaderManager>[0]['readers']): ReaderManager {
  const m = openReaderManager({ readers, pcscSocketPath: d.path, backoff: { initialMs: 20, maxMs: 200 } });
  t.teardown(() => m.close());
  return m;
}

async function waitStatus(m: ReaderManager, id: string, status: string): Promise<void> {
  while (m.status().find((r) => r.readerId === id)?.status !== status) await once(m, 'reader-status');
}

t.test('reader names: exact, without the " NN SS" suffix, globs; slot from the suffix', async (t) => {
  t.ok(pcscNameMatches('Gemalto GemPC Twin 00 00', 'Gemalto GemPC Twin 00 00'));
  t.ok(pcscNameMatches('Gemalto GemPC Twin', 'Gemalto GemPC Twin 00 01'));
  t.ok(pcscNameMatches('Gemalto*', 'Gemalto GemPC Twin 01 00'));
  t.ok(pcscNameMatches('ACS ACR39U ICC Reader 0? 00', 'ACS ACR39U ICC Reader 01 00'));
  t.notOk(pcscNameMatches('Gemalto GemPC', 'Gemalto GemPC Twin 00 00'), 'no prefix match without a glob');
  t.notOk(pcscNameMatches('(a)+', 'aaa 00 00'), 'regex characters are literal');
  t.equal(pcscSlotOf('X 00 01'), 1);
  t.equal(pcscSlotOf('X 02 0A'), 10);
  t.equal(pcscSlotOf('X'), 0);
});

for (const [file, version, number] of [['ssc-2.00.json', '2.00', 'X00000019'], ['ssc-3.00-long-name.json', '3.00', 'D2143569X']] as const) {
  for (const protocol of [0, 1] as const) {
    t.test(`pcsc: ${version} card, T=${protocol} as the card offers, SELECT SSSE and READ RECORD`, async (t) => {
      const d = await daemon(t);
      d.addReader('OneCard sim 00 00', card(file, protocol));
      const m = manager(t, d, [{ id: 'r1', link: 'pcsc', path: 'OneCard sim' }]);
      const [ev] = (await once(m, 'card-inserted')) as [CardInsertedEvent];
      t.equal(ev.readerId, 'r1');
      t.equal(ev.atr[0], 0x3b, 'ATR reported with the insertion');
      await waitStatus(m, 'r1', 'ok');
      const r = await m.withCard('r1', 0, async (ch) => {
        t.equal(ch.protocol, protocol, `T=${protocol}`);
        return readSsc(ch);
      });
      t.same(r, { select: 0x9000, ef05: 0x9000, cardNumber: `${number}/9000`, version: `${version}/9000` });
      const again = await m.withCard('r1', 0, readSsc);
      t.equal(again.cardNumber, `${number}/9000`, 'the kept handle serves the next session');
      t.equal(d.log.filter((c) => c === 'connect').length, 1, 'one SCardConnect for both sessions');
      t.equal(d.log.filter((c) => c === 'begin-transaction').length, 2, 'each session is a PC/SC transaction');
      t.equal(d.log.filter((c) => c === 'end-transaction').length, 2);
      t.same(m.status()[0], {
        readerId: 'r1', link: 'pcsc', path: 'OneCard sim', model: 'pcsc', status: 'ok', detail: 'OneCard sim 00 00', firmware: 'OneCard sim 00 00',
        slots: [{ slot: 0, role: 'user', present: true, powered: true, events: 1 }],
      });
    });
  }
}

t.test('pcsc: swap is remove + insert; removal mid-session is TERM_ERR_CARD_REMOVED; empty slot; channel closed after its session', async (t) => {
  const d = await daemon(t);
  d.addReader('R 00 00', card('ssc-2.00.json'));
  const m = manager(t, d, [{ id: 'r1', link: 'pcsc', path: 'R' }]);
  const seen: string[] = [];
  m.on('card-inserted', () => seen.push('in'));
  m.on('card-removed', () => seen.push('out'));
  await once(m, 'card-inserted');
  await m.withCard('r1', 0, readSsc);
  const next = once(m, 'card-inserted');
  d.swap('R 00 00', card('ssc-3.00-long-name.json'));
  await next;
  t.same(seen, ['in', 'out', 'in'], 'a moved event counter while present is a swap');
  t.equal((await m.withCard('r1', 0, readSsc)).cardNumber, 'D2143569X/9000', 'the new card is read (a fresh connect)');
  const err = await m.withCard('r1', 0, async (ch) => {
    await readSsc(ch);
    d.remove('R 00 00');
    return readSsc(ch);
  }).catch((e: unknown) => e);
  t.equal((err as TerminalError).code, 'TERM_ERR_CARD_REMOVED');
  t.equal(exitCodeOf(err), CARD_EXIT.card, 'exit 4');
  await t.rejects(m.withCard('r1', 0, readSsc), { code: 'TERM_ERR_NO_CARD' });
  await t.rejects(m.withCard('r1', 1, readSsc), { code: 'TERM_ERR_INVALID_ARGUMENT' }, 'slot not configured');
  await t.rejects(m.withCard('nope', 0, readSsc), { code: 'TERM_ERR_READER_UNKNOWN' });
  d.insert('R 00 00', card('ssc-2.00.json'));
  await once(m, 'card-inserted');
  let kept: CardChannel | undefined;
  await m.withCard('r1', 0, async (ch) => { kept = ch; });
  await t.rejects(kept!.transmit({ cla: 0, ins: 0xa4, p1: 0, p2: 0 }), { code: 'TERM_ERR_SESSION_CLOSED' });
});

t.test('pcsc: a reader that disappears mid-session is a link error (exit 3), not a removed card; it comes back', async (t) => {
  const d = await daemon(t);
  d.addReader('R 00 00', card('ssc-2.00.json'));
  const m = manager(t, d, [{ id: 'r1', link: 'pcsc', path: 'R*' }]);
  await once(m, 'card-inserted');
  const err = await m.withCard('r1', 0, async (ch) => {
    await readSsc(ch);
    d.removeReader('R 00 00');
    return readSsc(ch);
  }).catch((e: unknown) => e);
  t.match((err as TerminalError).code, /^TERM_ERR_LINK_/, `${(err as TerminalError).code}`);
  t.equal(exitCodeOf(err), CARD_EXIT.reader, 'exit 3');
  await waitStatus(m, 'r1', 'absent');
  await t.rejects(m.withCard('r1', 0, readSsc), { code: 'TERM_ERR_READER_UNAVAILABLE' });
  d.addReader('R 01 00', card('ssc-3.00-long-name.json'));
  await waitStatus(m, 'r1', 'ok');
  t.equal((await m.withCard('r1', 0, readSsc)).cardNumber, 'D2143569X/9000', 'a reader plugged in later is used');
});

t.test('pcsc: pcscd stopped → absent, sessions end with a link error; started again → ok', async (t) => {
  const d = await daemon(t);
  d.addReader('R 00 00', card('ssc-2.00.json'));
  const m = manager(t, d, [{ id: 'r1', link: 'pcsc', path: 'R' }]);
  await once(m, 'card-inserted');
  await waitStatus(m, 'r1', 'ok');
  const removed = once(m, 'card-removed');
  await d.stop();
  await waitStatus(m, 'r1', 'absent');
  await removed;
  t.match(m.status()[0]?.detail, /TERM_ERR_LINK_/);
  const e = await m.withCard('r1', 0, readSsc).catch((x: unknown) => x);
  t.equal((e as TerminalError).code, 'TERM_ERR_READER_UNAVAILABLE');
  await d.start();
  await waitStatus(m, 'r1', 'ok');
  t.equal((await m.withCard('r1', 0, readSsc)).cardNumber, 'X00000019/9000', 'read after pcscd came back');
});

t.test('pcsc: card and PSAM at once — a two-slot device (slot suffixes) and two separate readers', async (t) => {
  const d = await daemon(t);
  d.addReader('Two 00 00', card('ssc-2.00.json'));
  d.addReader('Two 00 01', card('psam.json'));
  d.addReader('Card 00 00', card('ssc-3.00-long-name.json', 1));
  d.addReader('Sam 00 00', card('psam.json'));
  const m = manager(t, d, [
    { id: 'two', link: 'pcsc', path: 'Two', userSlot: 0, psamSlot: 1 },
    { id: 'card', link: 'pcsc', path: 'Card' },
    { id: 'sam', link: 'pcsc', path: 'Sam*' },
  ]);
  for (const id of ['two', 'card', 'sam']) await waitStatus(m, id, 'ok');
  const psamRead = (ch: CardChannel): Promise<{ sw: number; data: Uint8Array }> => ch.transmit({ cla: 0x00, ins: 0xb0, p1: 0x96, p2: 0x00, le: 6 });
  const r = await m.withCard('two', 0, async (user) => m.withCard('two', 1, async (psam) => [await readSsc(user), await psamRead(psam)] as const));
  t.equal(r[0].cardNumber, 'X00000019/9000');
  t.equal(r[1].sw, 0x9000, 'PSAM terminal number from slot 1 (the "… 00 01" reader)');
  t.equal(r[1].data.length, 6);
  const s = await m.withCard('card', 0, async (user) => m.withCard('sam', 0, async (psam) => [await readSsc(user), await psamRead(psam)] as const));
  t.equal(s[0].cardNumber, 'D2143569X/9000');
  t.equal(s[1].sw, 0x9000, 'PSAM in a reader of its own');
  t.same(m.status().find((x) => x.readerId === 'two')?.slots.map((x) => [x.role, x.present]), [['user', true], ['psam', true]]);
  d.removeReader('Two 00 01');
  await waitStatus(m, 'two', 'error');
  t.match(m.status().find((x) => x.readerId === 'two')?.detail, /slot 1/, 'a missing slot reader is reported');
});

t.test('pcsc: no daemon and a daemon of another protocol version are coded errors', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-pcscd-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  await t.rejects(listPcscReaders({ socketPath: path.join(dir, 'none') }), { code: 'TERM_ERR_LINK_PCSC_UNAVAILABLE' });
  await t.rejects(openPcscConnection({ socketPath: path.join(dir, 'none') }), { code: 'TERM_ERR_LINK_PCSC_UNAVAILABLE' });
  const d = await daemon(t);
  d.version = { major: 4, minor: 5 };
  await t.rejects(listPcscReaders({ socketPath: d.path }), { code: 'TERM_ERR_LINK_PCSC_VERSION', details: { major: 4, minor: 5 } });
  const m = manager(t, d, [{ id: 'r1', link: 'pcsc', path: 'R' }]);
  while (!/TERM_ERR_LINK_PCSC_VERSION/.test(m.status()[0]?.detail ?? '')) await once(m, 'reader-status');
  t.equal(m.status()[0]?.status, 'error');
  const e = await m.withCard('r1', 0, readSsc).catch((x: unknown) => x);
  t.equal(exitCodeOf(e), CARD_EXIT.reader);
});

t.test('configuration names PC/SC readers: link "pcsc", path a name or pattern', async (t) => {
  const cfg = parseTerminalConfig({ terminalId: 't1', readers: [{ id: 'front', link: 'pcsc', path: 'ACS ACR39U*' }, { id: 'sam', link: 'pcsc', path: 'Gemalto USB SmartCard Reader 00 00' }], card: { reader: 'front' }, psam: { reader: 'sam', slot: 0 } });
  t.same(cfg.readers.map((r) => [r.link, r.path]), [['pcsc', 'ACS ACR39U*'], ['pcsc', 'Gemalto USB SmartCard Reader 00 00']]);
  t.same(cfg.psam, { reader: 'sam', slot: 0 });
  t.throws(() => parseTerminalConfig({ terminalId: 't1', readers: [{ id: 'front', link: 'pcsc-lite', path: 'x' }] }), { code: 'TERM_ERR_CONFIG' });
});
