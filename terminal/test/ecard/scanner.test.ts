import t from 'tap';
import { keyboardWedgeReports, serialScannerBytes } from '@onecard/simulators';
import { createSerialLineDecoder, createWedgeDecoder, type ScanItem } from '../../src/ecard/index.ts';
import { TerminalError } from '../../src/errors.ts';

const texts = (items: ScanItem[]): string[] => items.flatMap((i) => ('text' in i ? [i.text] : []));
const errors = (items: ScanItem[]): string[] => items.flatMap((i) => ('error' in i ? [i.error.code] : []));
const feed = (reports: Uint8Array[], dec = createWedgeDecoder()): ScanItem[] => reports.flatMap((r) => dec.push(r));

t.test('[HID 1.11 App. B.1] boot keyboard reports: letters, Shift, digits, punctuation, Enter', async (t) => {
  // known vector: "Ab1:" + Enter, typed by hand
  const r = (mod: number, ...keys: number[]): Uint8Array => Uint8Array.of(mod, 0, ...keys, ...new Array<number>(6 - keys.length).fill(0));
  const items = feed([r(0x02, 0x04), r(0), r(0, 0x05), r(0), r(0, 0x1e), r(0), r(0x20, 0x33), r(0), r(0, 0x28), r(0)]);
  t.same(texts(items), ['Ab1:']);
  // a held key does not repeat; a second key in the same report is typed
  t.same(texts(feed([r(0, 0x04), r(0, 0x04, 0x05), r(0, 0x05), r(0), r(0, 0x58)])), ['ab'], 'keypad Enter ends the line');
  const all = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
  t.same(texts(feed(keyboardWedgeReports(all))), [all], 'every printable ASCII character round-trips');
  t.same(texts(feed(keyboardWedgeReports('OC1:ABC', { reportId: 1 }), createWedgeDecoder({ reportId: 1 }))), ['OC1:ABC']);
});

t.test('wedge garbage: coded error, the rest of that scan dropped, next scan clean', async (t) => {
  const dec = createWedgeDecoder({ maxLine: 10 });
  const bad = Uint8Array.of(0, 0, 0x3a, 0, 0, 0, 0, 0); // F1
  const items = [...feed(keyboardWedgeReports('AB').slice(0, 2), dec), ...dec.push(bad), ...feed(keyboardWedgeReports('CD'), dec), ...feed(keyboardWedgeReports('EF'), dec)];
  t.same(errors(items), ['TERM_ERR_ECARD_SCANNER']);
  t.same(texts(items), ['EF']);
  t.same(errors(dec.push(new Uint8Array(7))), ['TERM_ERR_ECARD_SCANNER'], 'short report');
  t.same(errors(dec.push(Uint8Array.of(0, 0, 1, 1, 1, 1, 1, 1))), ['TERM_ERR_ECARD_SCANNER'], 'rollover');
  dec.reset();
  t.same(errors(feed(keyboardWedgeReports('ABCDEFGHIJK'), dec)), ['TERM_ERR_ECARD_SCANNER'], 'line too long');
  t.same(errors(createWedgeDecoder({ reportId: 2 }).push(new Uint8Array(9))), ['TERM_ERR_ECARD_SCANNER'], 'wrong report ID');
});

t.test('serial lines: CR, LF, CRLF, split chunks, garbage', async (t) => {
  const dec = createSerialLineDecoder({ maxLine: 16 });
  t.same(texts(dec.push(new TextEncoder().encode('ab\rcd\n\r\nef\r'))), ['ab', 'cd', 'ef']);
  t.same(texts(dec.push(new TextEncoder().encode('gh'))), []);
  t.same(texts(dec.push(serialScannerBytes('ij', '\n'))), ['ghij']);
  const items = dec.push(Uint8Array.of(0x41, 0x00, 0x42, 0x0d, 0x43, 0x0d));
  t.same(errors(items), ['TERM_ERR_ECARD_SCANNER']);
  t.same(texts(items), ['C']);
  t.same(errors(dec.push(new TextEncoder().encode('x'.repeat(17) + '\r'))), ['TERM_ERR_ECARD_SCANNER']);
});

t.test('random reports and bytes: no throw, only coded errors', async (t) => {
  const wedge = createWedgeDecoder();
  const serial = createSerialLineDecoder();
  let lines = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const b = globalThis.crypto.getRandomValues(new Uint8Array(i % 3 === 0 ? 8 : i % 12));
    for (const item of [...wedge.push(b), ...serial.push(b)]) {
      if ('error' in item) codes.add(item.error instanceof TerminalError ? item.error.code : 'uncoded');
      else lines++;
    }
  }
  t.same([...codes], ['TERM_ERR_ECARD_SCANNER']);
  t.comment(`${lines} lines decoded from noise`);
});
